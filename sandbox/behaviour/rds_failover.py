"""Moved: the old import path, kept working. Re-exports:

- `sandbox.rds.moto_patch`
- `sandbox.rds.failover`
"""

from sandbox.rds.failover import (
    CLUSTER_FAILOVER_SECONDS,
    INSTANCE_FAILOVER_SECONDS,
    MSG_INSTANCE_FAILOVER_COMPLETED,
    MSG_INSTANCE_FAILOVER_STARTED,
    MSG_INSTANCE_RESTARTED,
    MSG_REBOOT_STARTED,
    REBOOT_SECONDS,
    ChangeCallback,
)
from sandbox.rds.moto_patch import (
    RdsFailoverEmulator,
)

__all__ = [
    "CLUSTER_FAILOVER_SECONDS",
    "ChangeCallback",
    "INSTANCE_FAILOVER_SECONDS",
    "MSG_INSTANCE_FAILOVER_COMPLETED",
    "MSG_INSTANCE_FAILOVER_STARTED",
    "MSG_INSTANCE_RESTARTED",
    "MSG_REBOOT_STARTED",
    "REBOOT_SECONDS",
    "RdsFailoverEmulator",
]
