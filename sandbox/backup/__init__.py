"""AWS Backup in the twin: the plan's backup job of the analytics DB and its copy to the
DR region's vault (moto 5.2.5 stores vaults and plans only). ``recovery_points.py`` is
the model (no moto), ``moto_patch.py`` wires it into moto's Backup and RDS."""
