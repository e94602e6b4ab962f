"""Forced RDS failover (fault ``rds-failover``): Multi-AZ DB instances and DB clusters."""
