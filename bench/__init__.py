"""Benchmarks (not timed tests): run by hand, figures recorded in BENCHMARKS.md."""
