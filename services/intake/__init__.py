"""Intake service: Online and window applications, acceptance receipts and supplement notices."""
