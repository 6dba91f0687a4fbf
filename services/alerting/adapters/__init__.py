"""Outbound clients of the alerting service (the SMS notifiers)."""
