"""probes room."""
