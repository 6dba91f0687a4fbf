"""Alerting service: supervision rules, red and yellow lights, tickets and the cockpit."""
