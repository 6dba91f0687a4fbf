"""Review service: Tiered review with ordered real-name signatures and working-day time limits."""
