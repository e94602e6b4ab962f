"""The sandbox's public entry points, kept at the path the CLI, tests and benches use.

The pieces live in modules of one concern each: :mod:`sandbox.topology` (what a started
sandbox is), :mod:`sandbox.orchestrator` (:class:`Sandbox`: starting and stopping every
part), :mod:`sandbox.pgdata_cache` (the PostgreSQL data directory made once per machine)
and :mod:`sandbox.foreground` (the Ctrl-C loop of ``python -m sandbox``).
"""

from sandbox.foreground import run_foreground
from sandbox.orchestrator import (
    DEFAULT_ACCOUNT_ID,
    REGION_HOSTS,
    Sandbox,
    SandboxStartError,
    running_sandbox,
)
from sandbox.topology import RegionTopology, Topology

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "REGION_HOSTS",
    "RegionTopology",
    "Sandbox",
    "SandboxStartError",
    "Topology",
    "run_foreground",
    "running_sandbox",
]
