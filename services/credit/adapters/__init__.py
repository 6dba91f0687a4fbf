"""Outbound clients of the credit service (the city credit system)."""
