"""Chaos Toolkit controls: safety (signals, limits, stop conditions, redaction), measurement."""
