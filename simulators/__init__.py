"""Programs that stand in for systems outside the platform (department systems, the
provincial supervision platform) in development, tests and benchmarks."""
