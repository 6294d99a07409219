"""Fault scenarios (reliability F1–F25) against real servers."""
