"""Verification service: Parallel cross-department verification and eligibility recommendation."""
