"""Speech recognition: transcripts with word timestamps, and ASR-derived features."""
