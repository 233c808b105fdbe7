"""Text extractors (one module per model family)."""
