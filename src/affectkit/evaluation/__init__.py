"""Evaluation: benchmark suites, cross-corpus generalisation, robustness and speed benchmarks.

Everything here reads trained runs or features and writes tables; nothing here is imported by
the layers below it (``analysis``, ``experiment``, ``training`` ...).
"""
