"""What runs on the emulated infrastructure, not AWS: the ticket API instances (``api``)."""
