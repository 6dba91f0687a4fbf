"""Outbound adapters of verification: the department request queues it declares."""
