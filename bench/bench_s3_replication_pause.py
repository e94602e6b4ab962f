"""S3 replication pause in the sandbox's S3 emulation: the lag distribution without a
pause, and the failover RPO at the end of a pause of each length (markers acknowledged
but absent from the destination) and what catches up after.

Markers are sequence-numbered objects PUT every ``--interval`` seconds in the source;
a poller lists the destination every 20 ms and records each marker's first visibility.
The pause disables every rule (chaosaws_ext.s3replication's mechanism, applied here
directly to moto: no ledger). Prints figures; asserts nothing.

    python bench/bench_s3_replication_pause.py --pauses 10 60 --interval 0.2
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

import boto3
from moto import mock_aws

from sandbox.s3.replicator import BucketReplicator
from sandbox.s3.seed import seed_replicated_buckets


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Markers:
    """Writer and first-visibility poller of marker objects."""

    def __init__(self, source: Any, replica: Any, pair: dict[str, str], interval: float):
        self.source, self.replica, self.pair, self.interval = source, replica, pair, interval
        self.run = str(time.monotonic_ns())  # each run's markers apart
        self.acked: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()

    def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            key = f"gameday-marker/{self.run}/{n:06d}"
            self.source.put_object(Bucket=self.pair["source"], Key=key, Body=b"m")
            self.acked[key] = time.monotonic()
            n += 1
            self._stop.wait(self.interval)

    def _poll(self) -> None:
        while not self._stop.is_set():
            page = self.replica.list_objects_v2(
                Bucket=self.pair["replica"], Prefix=f"gameday-marker/{self.run}/"
            )
            now = time.monotonic()
            for obj in page.get("Contents", []):
                self.seen.setdefault(obj["Key"], now)
            self._stop.wait(0.02)

    def __enter__(self) -> Markers:
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._write, self._poll)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def missing_at(self, moment: float) -> list[str]:
        return [k for k, t in self.acked.items() if t <= moment and self.seen.get(k, 1e18) > moment]


def run(pauses: list[float], interval: float, lag: float, jitter: float, baseline: float) -> None:
    with mock_aws():
        replicator = BucketReplicator(lag_seconds=lag, jitter_seconds=jitter, seed=7)
        replicator.start()
        source = boto3.client("s3", region_name="eu-south-1")
        replica = boto3.client("s3", region_name="eu-west-1")
        pairs = seed_replicated_buckets(
            source, replica, "123456789012", "production", "eu-south-1", "eu-west-1"
        )
        pair = pairs["knowledge_base"]
        original = source.get_bucket_replication(Bucket=pair["source"])["ReplicationConfiguration"]
        with Markers(source, replica, pair, interval) as markers:
            time.sleep(baseline)
        replicator.drain(timeout=lag + jitter + 5)
        time.sleep(0.1)
        lags = [markers.seen[k] - markers.acked[k] for k in markers.acked if k in markers.seen]
        print(f"lag without a pause ({len(lags)} markers, emulated lag {lag}+U(0,{jitter}) s): "
              f"p50 {statistics.median(lags):.3f} s  p99 {_percentile(lags, 0.99):.3f} s  "
              f"max {max(lags):.3f} s")  # fmt: skip
        for pause in pauses:
            paused = {**original, "Rules": [{**r, "Status": "Disabled"} for r in original["Rules"]]}
            markers = Markers(source, replica, pair, interval)
            with markers:
                time.sleep(1.0)
                source.put_bucket_replication(
                    Bucket=pair["source"], ReplicationConfiguration=paused
                )
                started = time.monotonic()
                time.sleep(pause)
                source.put_bucket_replication(
                    Bucket=pair["source"], ReplicationConfiguration=original
                )
                ended = time.monotonic()
                time.sleep(lag + jitter + 2.0)
            during = [k for k, t in markers.acked.items() if started <= t < ended]
            missing = markers.missing_at(ended)
            span = (
                max(markers.acked[k] for k in missing) - min(markers.acked[k] for k in missing)
                if missing
                else 0.0
            )
            never = [k for k in missing if k not in markers.seen]
            caught_up = [markers.seen[k] - ended for k in missing if k in markers.seen]
            last = max(caught_up, default=0.0)
            print(f"pause {pause:g} s: written during the pause {len(during)}; failover RPO at "
                  f"the end of the pause {len(missing)} markers / {span:.2f} s; never "
                  f"replicated after it {len(never)}; caught up "
                  f"{len(caught_up)} (last {last:.2f} s after the end)")  # fmt: skip
        replicator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--lag", type=float, default=2.0, help="default: sandbox.s3 default")
    parser.add_argument("--jitter", type=float, default=1.0)
    parser.add_argument("--baseline", type=float, default=20.0)
    args = parser.parse_args()
    run(args.pauses, args.interval, args.lag, args.jitter, args.baseline)


if __name__ == "__main__":
    main()
