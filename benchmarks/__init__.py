"""Benchmarks a user reruns: ``python -m benchmarks.<name>`` (see benchmarks/README.md)."""
