"""Benchmarks (not timed tests): run by hand, figures recorded in BENCHMARKS.md."""

import os

# The benchmarks run the platform on the development keys, as a test installation; services
# themselves default to production (shared/settings.py).
os.environ.setdefault("HOUSING_ENVIRONMENT", "test")
