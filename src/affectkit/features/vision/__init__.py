"""Vision extractors: face detection, crops and facial-expression features."""
