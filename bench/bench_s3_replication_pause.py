"""S3 replication pause in the sandbox's S3 emulation, measured by the product's own
measurement code: the lag distribution without a pause, and for a pause of each length
the failover RPO at its end (acknowledged markers a failover to the replica region would
not find) and the catch-up after it.

Markers: ``probes.s3_markers.S3Markers`` written by ``probes.markers.MarkerWriter`` every
``--interval`` s, first visibility by ``probes.markers.LagPoller`` every ``--poll`` s;
figures by ``probes.replication``. The pause disables every rule
(chaosaws_ext.s3replication's mechanism, applied here directly to moto: no ledger).
Prints figures; asserts nothing. The emulated lag is the sandbox's default (2 s +
U(0, 1) s, "most objects replicate within seconds") times ``--time-scale`` (default the
demo game day's 0.05, as ``gameday run --sandbox``; 1 for AWS's own figure).

    python bench/bench_s3_replication_pause.py --pauses 10 60 300 --interval 0.2
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from moto import mock_aws

from probes.markers import LagPoller, MarkerWriter
from probes.replication import catch_up, failover_rpo, lag_outside
from probes.s3_markers import S3Markers
from sandbox.s3.replication import DEFAULT_JITTER_SECONDS, DEFAULT_LAG_SECONDS
from sandbox.s3.replicator import BucketReplicator
from sandbox.s3.seed import seed_replicated_buckets

DEMO_TIME_SCALE = 0.05  # gameday.sandboxing.DEMO_TIME_SCALE (bench imports no product CLI)

PRIMARY, REPLICA = "eu-south-1", "eu-west-1"


class Measured:
    """One writer + poller over the knowledge-base pair, for one phase."""

    def __init__(self, bucket: str, run_id: str, interval: float, poll: float) -> None:
        self.executor = ThreadPoolExecutor(16, thread_name_prefix="bench")
        self.backend = S3Markers(bucket, PRIMARY, REPLICA, configuration={"aws_region": PRIMARY})
        self.writer = MarkerWriter(self.backend, run_id, interval, self.executor)
        self.poller = LagPoller(self.backend, self.writer, REPLICA, poll, self.executor)

    def __enter__(self) -> Measured:
        self.writer.start()
        self.poller.start()
        return self

    def stop_writing(self) -> None:
        self.writer.stop()

    def __exit__(self, *exc: object) -> None:
        self.writer.stop()
        self.poller.stop()
        self.backend.cleanup(self.writer.run_id, [])
        self.executor.shutdown(wait=True)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def run(
    pauses: list[float], interval: float, poll: float, baseline: float, window: float, scale: float
) -> None:
    with mock_aws():
        # the sandbox's defaults (the published lag), scaled like a sandbox game day
        replicator = BucketReplicator(time_scale=scale, seed=7)
        replicator.start()
        source = boto3.client("s3", region_name=PRIMARY)
        replica = boto3.client("s3", region_name=REPLICA)
        pair = seed_replicated_buckets(
            source, replica, "123456789012", "production", PRIMARY, REPLICA
        )["knowledge_base"]
        original = source.get_bucket_replication(Bucket=pair["source"])["ReplicationConfiguration"]
        print(
            f"emulated lag ({DEFAULT_LAG_SECONDS:g} s + U(0, {DEFAULT_JITTER_SECONDS:g}) s) "
            f"x time scale {scale:g}; writer every {interval:g} s, lag poll every {poll:g} s"
        )
        with Measured(pair["source"], "baseline", interval, poll) as phase:
            time.sleep(baseline)
            phase.stop_writing()
            _wait_seen(phase, window)
            spread = lag_outside(phase.writer.markers(), None, None)
        print(
            f"no pause ({spread['count']} markers): lag p50 {_seconds(spread['p50'])}  "
            f"p99 {_seconds(spread['p99'])}  max {_seconds(spread['max'])}"
        )
        for pause in pauses:
            paused = {**original, "Rules": [{**r, "Status": "Disabled"} for r in original["Rules"]]}
            with Measured(pair["source"], f"pause-{pause:g}", interval, poll) as phase:
                time.sleep(2.0)
                source.put_bucket_replication(
                    Bucket=pair["source"], ReplicationConfiguration=paused
                )
                started = time.monotonic()
                time.sleep(pause)
                source.put_bucket_replication(
                    Bucket=pair["source"], ReplicationConfiguration=original
                )
                ended = time.monotonic()
                time.sleep(2.0)
                phase.stop_writing()
                _wait_seen(phase, window)
                markers = phase.writer.markers()
                polled = phase.poller.last_poll_mono or ended
            during = [m for m in markers if m.acked and started <= (m.ack_mono or 0) <= ended]
            failover = failover_rpo(markers, ended, interval)
            caught = catch_up(markers, ended, polled, poll)
            after = lag_outside(markers, started, ended)
            caught_text = (
                f"caught up {_seconds(caught.caught_up_s)} after the end"
                if caught.caught_up_s is not None
                else f"not caught up within {caught.window_s:.1f} s ({caught.still_missing} "
                "markers never replicated)"
            )
            print(
                f"pause {pause:g} s: {len(during)} markers written during it; failover RPO at "
                f"its end {failover.missing} of {failover.acknowledged} markers missing, "
                f"{failover.span_s:.2f} s of writes; {caught_text}; lag outside the pause "
                f"p50 {_seconds(after['p50'])} max {_seconds(after['max'])}"
            )
        replicator.stop()


def _wait_seen(phase: Any, window: float) -> None:
    """Until every acknowledged marker is seen in the replica, at most ``window`` s."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline and not phase.poller.all_seen():
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=float, nargs="+", default=[10.0, 60.0, 300.0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--baseline", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=15.0, help="catch-up window, s")
    parser.add_argument("--time-scale", type=float, default=DEMO_TIME_SCALE)
    args = parser.parse_args()
    run(args.pauses, args.interval, args.poll, args.baseline, args.window, args.time_scale)


if __name__ == "__main__":
    main()
