"""The layer beneath the faults and the measurement: it imports nothing of ours."""
