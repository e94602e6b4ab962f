"""Fixtures of the rds-failover tests: moto with a run context, the failover emulator."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.rds.injections import forget_all
from chaosaws_ext.runcontext import RunContext
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from tests.conftest import REGION

WINDOW = 0.3


@pytest.fixture
def rds(mocked_aws: None, run_context: RunContext) -> Iterator[boto3.client]:
    forget_all()
    fault_stamps(clear=True)
    yield boto3.client("rds", region_name=REGION)
    forget_all()


@pytest.fixture
def emulator(rds: boto3.client) -> Iterator[RdsFailoverEmulator]:
    emulator = RdsFailoverEmulator(
        failover_seconds=WINDOW, reboot_seconds=WINDOW, cluster_failover_seconds=WINDOW
    ).install()
    yield emulator
    emulator.uninstall()
