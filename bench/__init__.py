"""Benchmarks: `python -m bench` (or `make bench`) measures and rewrites docs/benchmarks.md."""
