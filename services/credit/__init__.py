"""Credit service: Integrity records, notice procedure, bans and the agency blacklist."""
