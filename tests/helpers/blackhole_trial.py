"""One AZ blackhole against a running sandbox, measured from outside and held against
the ground truth: the API's samples through the ALB (as the blackhole experiment's
sampler takes them), t0 (the action's own stamp), and when the ALB emulation took the
zone's target out of rotation (its health checks marked it unhealthy). Used by the
e2e test of the recovery window and by ``bench/bench_blackhole_rto.py``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chaosaws_ext.blackhole.actions import blackhole_availability_zone, restore_availability_zone
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.timeline import fault_stamps
from chaosaws_ext.core.waiting import wait_until
from probes.checks import build_check
from probes.markers import MarkerWriter
from probes.recovery import Marker, Sample, compute_rto
from probes.samplers import Cadence, Sampler
from probes.ticket_markers import TicketApiMarkers

__all__ = ["BlackholeTrial", "blackhole_trial"]


@dataclass
class BlackholeTrial:
    samples: list[Sample]
    cut: float  # monotonic: the first subnet swap's answer (the data plane is cut)
    t0: float  # monotonic: the blackhole action's injected stamp (the last swap's answer)
    truth_s: float  # cut -> the zone's target marked unhealthy by the ALB
    interval: float
    # with ticket markers: the writer's log, the seqs read back after the undo, and how
    # many tickets the cleanup deleted
    markers: list[Marker] = field(default_factory=list)
    present: set[int] = field(default_factory=set)
    cleaned: int = 0

    def rto(self, consecutive: int = 3, window_s: float = 0.0) -> float | None:
        """The RTO from the cut (t0 comes after the last swap: the swaps of one zone's
        subnets may take a while when EC2 is slow to know the new NACL)."""
        return compute_rto(self.samples, self.cut, self.interval, consecutive, window_s).measured_s


def _target_state(sandbox: Any, target_id: str) -> str | None:
    region = sandbox.topology.region
    group = sandbox.topology.primary.target_group_arn
    health = sandbox.albs[region].target_health().get(group, {}).get(target_id)
    return None if health is None else str(health["state"])


def blackhole_trial(
    sandbox: Any,
    configuration: dict[str, Any],
    hz: float = 10.0,
    after_s: float = 4.0,
    bound_s: float = 30.0,
    timeout_s: float | None = None,
    requests_per_sample: int = 3,
    marker_interval: float | None = None,
) -> BlackholeTrial:
    """Blackhole the primary's first AZ with the real fault action, sample the API at
    ``hz`` until ``after_s`` past the ALB's verdict, undo, and wait for the target to be
    healthy again (so trials can follow each other). ``timeout_s``: per sample (default
    0.8 x the interval, as the measurement control's); ``requests_per_sample``: as the
    experiment's sampler (3: a round over the three zones); ``marker_interval``: also
    write ticket markers as the experiment does (through the ALB by name, the env file's
    GAMEDAY_TICKETS_URL and DNS server, GAMEDAY_MARKER_TIMEOUT), read back after the undo
    and deleted. The process's AWS environment must point at the sandbox."""
    topology = sandbox.topology
    side = topology.primary
    zone = side.azs[0]
    target = side.target_ips[zone]
    wait_until(lambda: _target_state(sandbox, target) == "healthy", timeout=bound_s,
               interval=0.02, what=f"{target} healthy before the trial")  # fmt: skip
    executor = ThreadPoolExecutor(16, thread_name_prefix="trial")
    interval = 1 / hz
    timeout = 0.8 * interval if timeout_s is None else timeout_s
    check = build_check({"kind": "http", "url": topology.api_url, "expect_status": [200],
                         "requests_per_sample": requests_per_sample})  # fmt: skip
    sampler = Sampler("api", check, timeout, executor, max_in_flight=8)
    cadence = Cadence(interval, sampler.tick, "trial-api")
    writer: MarkerWriter | None = None
    if marker_interval is not None:
        env = topology.env()
        backend = TicketApiMarkers(
            env["GAMEDAY_TICKETS_URL"], topology.table_name, topology.region,
            nameserver=env["GAMEDAY_DNS_SERVER"], configuration=configuration,
        )  # fmt: skip
        run_id = f"trial-{time.monotonic_ns()}"
        timeout = float(env["GAMEDAY_MARKER_TIMEOUT"])
        writer = MarkerWriter(backend, run_id, marker_interval, executor, timeout, 8)
    unhealthy_at: list[float] = []
    watching = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + bound_s
        while watching.is_set() and time.monotonic() < deadline:
            if _target_state(sandbox, target) == "unhealthy":
                unhealthy_at.append(time.monotonic())
                return
            time.sleep(0.002)

    swaps: list[float] = []

    def swapped(**_: Any) -> None:
        swaps.append(time.monotonic())

    # the action's own (cached) client: its swap answers, as they come
    client = aws_client("ec2", configuration, None, topology.region)
    client.meta.events.register("after-call.ec2.ReplaceNetworkAclAssociation", swapped)
    cadence.start()
    if writer is not None:
        writer.start()
    try:
        wait_until(lambda: len(sampler.samples()) >= hz, timeout=bound_s, interval=0.02,
                   what="a second of samples before the fault")  # fmt: skip
        watching.set()
        watcher = threading.Thread(target=watch, name="trial-truth", daemon=True)
        watcher.start()
        try:
            blackhole_availability_zone(zone, vpc_id=side.vpc_id, configuration=configuration)
            t0 = next(s for s in reversed(fault_stamps()) if s.event == "injected").monotonic
            watcher.join(bound_s)
            if not unhealthy_at:
                raise AssertionError(f"the ALB never marked {target} unhealthy")
            deadline = unhealthy_at[0] + after_s
            while time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            watching.clear()
            client.meta.events.unregister("after-call.ec2.ReplaceNetworkAclAssociation", swapped)
            if writer is not None:
                writer.stop(wait=5.0)
            restore_availability_zone(configuration)
    finally:
        cadence.stop()
        sampler.finalize(1.0)
        if writer is not None:
            writer.stop(wait=5.0)
        executor.shutdown(wait=False, cancel_futures=True)
    wait_until(lambda: _target_state(sandbox, target) == "healthy", timeout=bound_s,
               interval=0.02, what=f"{target} healthy after the undo")  # fmt: skip
    if not swaps:
        raise AssertionError("no ReplaceNetworkAclAssociation answer was seen")
    cut = min(swaps)
    trial = BlackholeTrial(sampler.samples(), cut, t0, unhealthy_at[0] - cut, interval)
    if writer is not None:  # after the undo, as the measurement reads them back
        trial.markers = writer.markers()
        seqs = [m.seq for m in trial.markers]
        trial.present = writer.backend.present(
            writer.run_id, [m.seq for m in trial.markers if m.acked]
        )
        trial.cleaned = writer.backend.cleanup(writer.run_id, seqs)
    return trial
