"""The blackhole's RTO under a partial outage, held against the ground truth (when the
ALB emulation took the zone's target out): the experiment's sampler (a round of three
requests per sample, one per zone's target, and the recovery window of
probes.recovery) measures a recovery no earlier than the truth minus one sampling
interval, right after the last failed sample. Real fault action, real sampler, the
sandbox at 0.05; figures over many runs: bench/bench_blackhole_rto.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.clients import clear_client_cache
from probes.recovery import compute_rpo
from sandbox.server import Sandbox
from tests.helpers.blackhole_trial import blackhole_trial

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.05
HZ = 10.0  # the sandbox env file's GAMEDAY_SAMPLING_HZ at this scale
WINDOW_S = 3.0  # its GAMEDAY_RECOVERY_WINDOW (30 samples)
MARKER_S = 0.2  # its GAMEDAY_TICKET_MARKER_INTERVAL


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # EC2 eventual consistency off: the zone's subnets swap within milliseconds of each
    # other, so the cut is one moment (with it on, the swaps spread over about 1.5 s)
    box = Sandbox(
        time_scale=TIME_SCALE,
        health_check_request_interval=10,
        with_database=False,
        ec2_strictness=False,
    )
    box.start()
    yield box
    box.stop()


def test_the_windowed_rto_is_not_before_the_alb_took_the_zone_out(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topology = sandbox.topology
    assert topology is not None
    env = topology.env()
    assert float(env["GAMEDAY_RECOVERY_WINDOW"]) == WINDOW_S
    assert float(env["GAMEDAY_SAMPLING_HZ"]) == HZ
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    clear_client_cache()
    configuration: dict[str, Any] = {
        "aws_region": topology.region,
        "chaos_ledger_path": str(tmp_path / "ledger.jsonl"),
        "allowed_accounts": topology.account_id,
    }
    # a sample timeout above a loaded machine's stray latencies (the ALB answers a
    # request to the lost zone after 0.5 s, so those still fail): a stray timeout after
    # the recovery would push a windowed RTO out by up to the window
    trial = blackhole_trial(
        sandbox, configuration, hz=HZ, after_s=WINDOW_S + 1.0, timeout_s=0.3,
        marker_interval=MARKER_S,
    )  # fmt: skip
    interval = 1 / HZ
    windowed = trial.rto(consecutive=3, window_s=WINDOW_S)
    k_alone = trial.rto(consecutive=3)
    after_cut = [s for s in trial.samples if s.t_mono >= trial.cut]
    failures = [s for s in after_cut if not s.ok]
    assert failures, "the blackhole failed no request: nothing was measured"
    # figures from the cut (the first swap; the fault's t0 is the last one's answer)
    # emulated detection: 2 failed checks 10 s apart (scaled): 0.5 s to 1 s after the cut
    assert 0.4 <= trial.truth_s <= 1.0 + 0.3, trial.truth_s
    assert windowed is not None and k_alone is not None
    last_failure = failures[-1].t_mono - trial.cut
    # the window's guarantee: the recovery comes after the last failed request, and every
    # sample from it on succeeded (the K run alone gives no such guarantee)
    assert windowed > last_failure, (windowed, last_failure)
    assert all(s.ok for s in after_cut if s.t_mono - trial.cut >= windowed)
    assert k_alone <= windowed
    # and it is the success right after that last failure: not a late stray
    assert windowed - last_failure <= 3 * interval, (windowed, last_failure)
    # every sample sees the lost zone (a round per sample): not early, not late
    assert trial.truth_s - interval <= windowed <= trial.truth_s + 3 * interval, (
        windowed,
        trial.truth_s,
    )
    # the experiment's write markers, alongside: tickets POSTed through the ALB by name,
    # one node address after the other. Every acknowledged ticket is in the table after
    # the undo (DynamoDB is regional): RPO 0; the writes not acknowledged are the ones the
    # cut zone's node or target never answered, all sent after the cut, none lost
    rpo = compute_rpo(trial.markers, trial.present, MARKER_S)
    assert rpo.measured_s == 0 and rpo.lost == 0, rpo
    acked = [m for m in trial.markers if m.acked]
    unanswered = [m for m in trial.markers if not m.acked]
    assert (rpo.written, rpo.acknowledged) == (len(trial.markers), len(acked))
    assert {m.seq for m in acked} <= trial.present
    assert unanswered, "no ticket write met the blackholed zone"
    # a write's answer may come late on a loaded machine: only those sent near the cut
    # or after it went unanswered
    assert all(m.sent_mono >= trial.cut - 0.5 for m in unanswered), [
        (round(m.sent_mono - trial.cut, 3), m.error) for m in unanswered
    ]
    after_take_out = [m for m in trial.markers if m.sent_mono > trial.cut + trial.truth_s + 0.6]
    lost_node = [m for m in after_take_out if not m.acked]
    # the zone out of the ALB's rotation, its node still in DNS: one write in three there
    assert after_take_out and 0.2 <= len(lost_node) / len(after_take_out) <= 0.5, (
        len(lost_node), len(after_take_out),
    )  # fmt: skip
    # the cleanup deleted every acknowledged ticket (and any stored after its timeout)
    assert len(acked) <= trial.cleaned <= len(trial.markers)
