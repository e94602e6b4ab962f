"""Synthetic ``recovery`` blocks, exactly as docs/architecture.md specifies them.

The measurement control that writes the real block is being built in parallel; until it
lands, sample journals produced by the real ``chaos run`` get one of these added. Series
times (``t_rel_s``) are seconds from ``fault.injected_at`` (negative before the fault).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

__all__ = ["availability_series", "recovery_block"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def availability_series(
    *,
    samples: int,
    interval: float,
    before_s: float,
    outage_start_s: float | None,
    recovery_s: float | None,
    seed: int = 7,
    flaps: int = 0,
) -> list[list[Any]]:
    """``[t_rel_s, ok, latency_ms]`` rows: ok, then failing from ``outage_start_s`` until
    ``recovery_s`` (never recovering when None); ``flaps`` isolated failures after that."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    flap_at = set(rng.sample(range(samples // 2, samples), min(flaps, samples // 2)))
    for index in range(samples):
        t = round(-before_s + index * interval, 6)
        failing = outage_start_s is not None and t >= outage_start_s
        if failing and recovery_s is not None and t >= recovery_s:
            failing = False
        if index in flap_at:
            failing = True
        latency = None if failing else round(8 + rng.random() * 6 + (t > 0) * rng.random() * 4, 2)
        rows.append([t, 0 if failing else 1, latency])
    return rows


def recovery_block(
    *,
    service: str,
    injected_at: datetime | None,
    reverted_at: datetime | None,
    rto_target: float | None = 300,
    rpo_target: float | None = 60,
    rto_s: float | None = 41.25,
    rpo_s: float | None = 0.0,
    lost: int = 0,
    interval: float = 0.25,
    samples: int = 240,
    outage_start_s: float | None = 0.5,
    environment: str = "sandbox",
    region: str = "eu-south-1",
    account: str = "000000000000",
    lag: dict[str, float] | None = None,
    fault_name: str = "rds-failover",
    seed: int = 7,
    flaps: int = 0,
) -> dict[str, Any]:
    """A ``recovery`` block whose availability series agrees with the RTO figures."""
    before_s = 5.0
    series = availability_series(
        samples=samples,
        interval=interval,
        before_s=before_s,
        outage_start_s=outage_start_s if rto_s != 0 else None,
        recovery_s=rto_s,
        seed=seed,
        flaps=flaps,
    )
    ok = sum(row[1] for row in series)
    t0 = injected_at
    outage_at = (
        t0 + timedelta(seconds=outage_start_s) if t0 and outage_start_s is not None else None
    )
    recovered_at = t0 + timedelta(seconds=rto_s) if t0 and rto_s else None
    written = 800
    return {
        "service": service,
        "target": {"rto_s": rto_target, "rpo_s": rpo_target},
        "fault": {"name": fault_name, "injected_at": _iso(t0), "reverted_at": _iso(reverted_at)},
        "rto": {
            "measured_s": rto_s,
            "resolution_s": interval,
            "met": None if rto_s is None or rto_target is None else rto_s <= rto_target,
            "outage_started_at": _iso(outage_at) if rto_s != 0 else None,
            "recovered_at": _iso(recovered_at),
            "phases": {
                "detected_s": round(rto_s * 0.7, 2) if rto_s else None,
                "control_plane_s": round(rto_s * 0.9, 2) if rto_s else None,
                "dns_s": None,
                "first_success_s": rto_s,
            },
        },
        "rpo": {
            "measured_s": rpo_s,
            "resolution_s": 0.2,
            "met": None if rpo_s is None or rpo_target is None else rpo_s <= rpo_target,
            "written": written,
            "acknowledged": written - 22,
            "lost": lost,
        },
        "replication_lag_s": lag,
        "availability": {
            "samples": len(series),
            "ok": ok,
            "ratio": round(ok / len(series), 4) if series else None,
            "series": series,
        },
        "environment": {"target": environment, "region": region, "account": account},
    }
