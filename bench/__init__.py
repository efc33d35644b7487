"""Benchmarks: each a module run from the project root as `python -m bench.NAME` (see bench/README.md)."""
