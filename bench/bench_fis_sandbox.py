"""Benchmark: an AZ blackhole by our fault and by FIS's aws:network:disrupt-connectivity,
side by side in one sandbox.

One ``Sandbox`` (``--time-scale``, no database); alternately, ``--repeat`` times each:
inject (ours: ``blackhole_availability_zone(scope=all)``; FIS: StartExperiment of a
template on the zone's subnets, until its action runs), wait until the ALB emulator
takes its target in that zone out (detection), undo (ours:
``restore_availability_zone``; FIS: StopExperiment until ``stopped``), wait until the
target is healthy again. Printed: medians of the wall times and the AWS API calls of
inject and undo (FIS's: the calls its executor makes; the FIS API calls themselves not
counted), and FIS/ours ratios. Every NACL of the VPC is checked to be as before after
each undo.

    python bench/bench_fis_sandbox.py [--repeat 3] [--time-scale 0.05]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from chaosaws_ext.core.waiting import wait_until
from sandbox.server import Sandbox, Topology


class Counter:
    """AWS API calls made by the attached clients (a botocore before-call hook)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call", self._count)
        return client

    def take(self) -> int:
        with self._lock:
            taken, self.calls = sum(self.calls.values()), collections.Counter()
        return taken

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1


def _acls(ec2: Any, vpc: str) -> dict[str, Any]:
    found = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return {
        a["NetworkAclId"]: (
            sorted(a["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"])),
            sorted(x["SubnetId"] for x in a["Associations"]),
        )
        for a in found["NetworkAcls"]
    }


def _target(sandbox: Sandbox, topology: Topology, az: str) -> str:
    elbv2 = sandbox.client("elbv2", topology.region)
    found = elbv2.describe_target_health(TargetGroupArn=topology.primary.target_group_arn)
    ip = topology.primary.target_ips[az]
    return next(
        str(d["TargetHealth"]["State"])
        for d in found["TargetHealthDescriptions"]
        if d["Target"]["Id"] == ip
    )


def _one(
    sandbox: Sandbox,
    topology: Topology,
    counter: Counter,
    inject: Callable[[], object],
    undo: Callable[[], object],
) -> dict[str, float]:
    az = topology.primary.azs[0]
    ec2 = sandbox.client("ec2", topology.region)
    before = _acls(ec2, topology.primary.vpc_id)
    wait_until(lambda: _target(sandbox, topology, az) == "healthy", 60, 0.02, what="healthy")
    counter.take()
    began = time.perf_counter()
    inject()
    injected = time.perf_counter()
    inject_calls = counter.take()
    wait_until(lambda: _target(sandbox, topology, az) == "unhealthy", 60, 0.02, what="out")
    detected = time.perf_counter()
    undo()
    undone = time.perf_counter()
    undo_calls = counter.take()
    wait_until(lambda: _target(sandbox, topology, az) == "healthy", 60, 0.02, what="back")
    back = time.perf_counter()
    wait_until(lambda: _acls(ec2, topology.primary.vpc_id) == before, 10, 0.1, what="NACLs")
    return {
        "inject_s": injected - began,
        "inject_calls": inject_calls,
        "detect_s": detected - began,
        "undo_s": undone - detected,
        "undo_calls": undo_calls,
        "recover_s": back - detected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    from chaosaws_ext.aws import aws_client
    from chaosaws_ext.blackhole.actions import (
        blackhole_availability_zone,
        restore_availability_zone,
    )
    from chaosaws_ext.runcontext import end_run, start_run

    counter = Counter()
    folder = Path(tempfile.mkdtemp(prefix="bench-fis-"))
    box = Sandbox(time_scale=args.time_scale, with_database=False)
    with box as topology:
        os.environ.update(topology.env())
        # no target lock: the lock's DynamoDB calls are not the blackhole's, and each
        # attempt is a new run on the same zone
        os.environ["GAMEDAY_LOCK_TABLE"] = ""
        az, vpc = topology.primary.azs[0], topology.primary.vpc_id
        # count the FIS executor's calls: its clients are made through this factory
        made = box.fis._make_client
        box.fis._make_client = lambda s, r: counter.attach(made(s, r))
        fis = box.client("fis", topology.region)
        template = fis.create_experiment_template(
            description="bench AZ blackhole",
            roleArn=topology.fis_role_arn,
            stopConditions=[{"source": "none"}],
            targets={
                "az": {
                    "resourceType": "aws:ec2:subnet",
                    "parameters": {"availabilityZoneIdentifier": az, "vpc": vpc},
                    "selectionMode": "ALL",
                }
            },
            actions={
                "blackhole": {
                    "actionId": "aws:network:disrupt-connectivity",
                    "parameters": {"duration": "PT12H", "scope": "all"},
                    "targets": {"Subnets": "az"},
                }
            },
        )["experimentTemplate"]["id"]
        results: dict[str, list[dict[str, float]]] = {"ours": [], "fis": []}
        state: dict[str, str] = {}

        def fis_inject() -> None:
            state["id"] = fis.start_experiment(experimentTemplateId=template)["experiment"]["id"]
            wait_until(
                lambda: (
                    fis.get_experiment(id=state["id"])["experiment"]["actions"]["blackhole"][
                        "state"
                    ]["status"]
                    == "running"
                ),
                60,
                0.01,
                what="FIS action running",
            )

        def fis_undo() -> None:
            fis.stop_experiment(id=state["id"])
            wait_until(
                lambda: (
                    fis.get_experiment(id=state["id"])["experiment"]["state"]["status"] == "stopped"
                ),
                60,
                0.01,
                what="FIS stopped",
            )

        for attempt in range(args.repeat):
            configuration = {
                "aws_region": topology.region,
                "chaos_ledger_path": str(folder / f"ledger-{attempt}.jsonl"),
            }
            start_run(configuration, "bench-fis-sandbox")
            for service in ("ec2", "sts"):
                counter.attach(aws_client(service, configuration, None, topology.region))

            results["ours"].append(
                _one(
                    box,
                    topology,
                    counter,
                    partial(
                        blackhole_availability_zone, az, vpc_id=vpc, configuration=configuration
                    ),
                    partial(restore_availability_zone, configuration),
                )
            )
            end_run()
            results["fis"].append(_one(box, topology, counter, fis_inject, fis_undo))
    keys = ("inject_s", "inject_calls", "detect_s", "undo_s", "undo_calls", "recover_s")
    print(f"time scale {args.time_scale}, repeat {args.repeat}, medians")
    print(f"{'':8}" + "".join(f"{k:>14}" for k in keys))
    medians = {
        side: {k: statistics.median(r[k] for r in runs) for k in keys}
        for side, runs in results.items()
    }
    for side in ("ours", "fis"):
        print(f"{side:8}" + "".join(f"{medians[side][k]:>14.3f}" for k in keys))
    ratios = [medians["fis"][k] / medians["ours"][k] if medians["ours"][k] else 0 for k in keys]
    print(f"{'fis/ours':8}" + "".join(f"{r:>14.2f}" for r in ratios))


if __name__ == "__main__":
    main()
