"""The FIS emulation over the test session's moto server: clients, templates, waits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3

from chaosaws_ext.core.waiting import wait_until
from sandbox.fis import FisEmulator
from sandbox.timing import Timings
from tests.conftest import REGION

ROLE_ARN = "arn:aws:iam::123456789012:role/fis-experiments"
FINAL = ("completed", "stopped", "failed")
TIME_SCALE = 0.01  # PT1M -> 0.6 s


class FisWorld:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.emulator: FisEmulator | None = None

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint)

    @property
    def fis(self) -> Any:
        return self.client("fis")

    def start(
        self,
        actions: dict[str, Any],
        targets: dict[str, Any] | None = None,
        stop_conditions: list[dict[str, str]] | None = None,
        empty: str | None = None,
    ) -> str:
        """Create a template and start an experiment of it; returns the experiment id."""
        template: dict[str, Any] = {
            "description": "test",
            "roleArn": ROLE_ARN,
            "actions": actions,
            "targets": targets or {},
            "stopConditions": stop_conditions or [{"source": "none"}],
        }
        if empty:
            template["experimentOptions"] = {"emptyTargetResolutionMode": empty}
        template_id = self.fis.create_experiment_template(**template)["experimentTemplate"]["id"]
        return str(self.fis.start_experiment(experimentTemplateId=template_id)["experiment"]["id"])

    def get(self, experiment_id: str) -> dict[str, Any]:
        return dict(self.fis.get_experiment(id=experiment_id)["experiment"])

    def wait_status(self, experiment_id: str, *statuses: str, timeout: float = 20) -> dict:
        wanted = statuses or FINAL

        def reached() -> dict[str, Any] | None:
            experiment = self.get(experiment_id)
            return experiment if experiment["state"]["status"] in wanted else None

        return wait_until(reached, timeout, 0.02, what=f"experiment {' or '.join(wanted)}")

    def wait_action(self, experiment_id: str, action: str, status: str, timeout: float = 20):
        def reached() -> dict[str, Any] | None:
            experiment = self.get(experiment_id)
            found = experiment["actions"][action]["state"]["status"] == status
            return experiment if found else None

        return wait_until(reached, timeout, 0.02, what=f"action {action} {status}")


@contextlib.contextmanager
def fis_world(endpoint: str, time_scale: float = TIME_SCALE, seed: int = 7) -> Iterator[FisWorld]:
    world = FisWorld(endpoint)
    emulator = FisEmulator(world.client, Timings(time_scale), seed=seed)
    world.emulator = emulator
    emulator.start()
    try:
        yield world
    finally:
        emulator.stop()
