"""DynamoDB replication pause in the sandbox's global-table replicator: the lag without a
pause, and for pauses of each length, ended by the statements' own ``aws:CurrentTime``
expiry (nothing of ours running) or by removing them (the undo): the failover RPO at the
end (markers acknowledged in the primary, absent from the replica), the catch-up time,
and the delay from the end to the first replicated marker written after it (the
self-expiry delay when the pause expired).

Markers are items ``gameday-marker#<run>#<n>`` PUT every ``--interval`` seconds in the
primary; a poller reads the replica every 10 ms and records each marker's first
visibility (the figures' resolution). The pause is chaosaws_ext.dynamodbpause's pair of
statements put straight into moto (no ledger). Prints figures; asserts nothing.

    python bench/bench_dynamodb_replication_pause.py --pauses 2 5 10 --interval 0.1
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import datetime
from typing import Any

import boto3
from moto import mock_aws

from chaosaws_ext.dynamodbpause.planning import expiry_in
from chaosaws_ext.dynamodbpause.table_policy import pause_statements, with_statements
from sandbox.dynamodb.replicator import GlobalTableReplicator

PRIMARY, REPLICA = "eu-south-1", "eu-west-1"
TABLE = "production-ai-support-tickets"
POLL_S = 0.01


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Markers:
    """Writer (primary) and first-visibility poller (replica) of marker items; times are
    wall-clock seconds, as the policy's aws:CurrentTime."""

    def __init__(self, primary: Any, replica: Any, interval: float, run: str):
        self.primary, self.replica, self.interval, self.run = primary, replica, interval, run
        self.acked: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()

    def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            key = f"gameday-marker#{self.run}#{n:06d}"
            self.primary.put_item(TableName=TABLE, Item={"pk": {"S": key}})
            self.acked[key] = time.time()
            n += 1
            self._stop.wait(self.interval)

    def _poll(self) -> None:
        while not self._stop.is_set():
            waiting = [k for k in list(self.acked) if k not in self.seen]
            for start in range(0, len(waiting), 100):
                keys = [{"pk": {"S": k}} for k in waiting[start : start + 100]]
                answer = self.replica.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
                now = time.time()
                for item in answer["Responses"].get(TABLE, []):
                    self.seen.setdefault(item["pk"]["S"], now)
            self._stop.wait(POLL_S)

    def __enter__(self) -> Markers:
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._write, self._poll)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def wait_all_seen(self, before: float, timeout: float) -> float | None:
        """When every marker acknowledged before ``before`` had been seen (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            due = [k for k, t in list(self.acked.items()) if t <= before]
            if all(k in self.seen for k in due):
                return max((self.seen[k] for k in due), default=before)
            time.sleep(POLL_S)
        return None


def _arn(account: str = "123456789012") -> str:
    return f"arn:aws:dynamodb:{REPLICA}:{account}:table/{TABLE}"


def _pause(replica: Any, run: str, seconds: float) -> float:
    """Put the two statements expiring ``seconds`` from now; the expiry (wall clock)."""
    expiry = expiry_in(seconds)
    policy = with_statements(None, pause_statements(_arn(), run, expiry))
    replica.put_resource_policy(ResourceArn=_arn(), Policy=policy)
    return datetime.fromisoformat(expiry.replace("Z", "+00:00")).timestamp()


def _one(primary: Any, replica: Any, interval: float, pause: float, ending: str) -> dict[str, Any]:
    run = f"{ending}{pause:g}".replace(".", "")
    with Markers(primary, replica, interval, run) as markers:
        time.sleep(1.0)  # steady before the pause
        if ending == "expiry":
            end = _pause(replica, run, pause)
            time.sleep(max(0.0, end - time.time()))
        else:  # the undo: the statements (expiring later) removed at the end
            _pause(replica, run, pause + 60)
            time.sleep(pause)
            replica.delete_resource_policy(ResourceArn=_arn())
            end = time.time()
        missing = [
            k
            for k, t in list(markers.acked.items())
            if t <= end and markers.seen.get(k, 1e18) > end
        ]
        caught_up = markers.wait_all_seen(end, timeout=30)
        after = [k for k, t in sorted(markers.acked.items(), key=lambda kv: kv[1]) if t > end]
        first_after = after[0] if after else None
        deadline = time.monotonic() + 10
        while (
            first_after is not None
            and first_after not in markers.seen
            and time.monotonic() < deadline
        ):
            time.sleep(POLL_S)
    if ending == "expiry":
        replica.delete_resource_policy(ResourceArn=_arn())  # inert already: tidy for the next
    span = end - min((markers.acked[k] for k in missing), default=end)
    return {
        "missing": len(missing),
        "rpo_span_s": span,
        "catch_up_s": (caught_up - end) if caught_up is not None else float("nan"),
        "first_after_s": (markers.seen[first_after] - end)
        if first_after in markers.seen
        else float("nan"),
        # that marker's own lag (write to visible): the replicator's lag when the pause
        # ended at its end, more when it went on
        "its_lag_s": (markers.seen[first_after] - markers.acked[first_after])
        if first_after in markers.seen
        else float("nan"),
    }


def run(pauses: list[float], interval: float, lag: float, baseline: float, repeat: int) -> None:
    with mock_aws():
        # AWS's 15 s between two updates of one policy would only slow the runs down
        # (each puts and deletes the policy): off here, the undo retries it elsewhere
        replicator = GlobalTableReplicator(lag_seconds=lag, policy_update_block_seconds=0.0)
        replicator.start()
        try:
            primary = boto3.client("dynamodb", region_name=PRIMARY)
            replica = boto3.client("dynamodb", region_name=REPLICA)
            primary.create_table(
                TableName=TABLE,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            replicator.make_global(TABLE, [PRIMARY, REPLICA])
            with Markers(primary, replica, interval, "baseline") as markers:
                time.sleep(baseline)
            lags = [markers.seen[k] - t for k, t in markers.acked.items() if k in markers.seen]
            print(f"replicator lag {lag:g} s, markers every {interval:g} s, poll {POLL_S:g} s")
            print(
                f"no pause ({len(lags)} markers): lag p50 {_percentile(lags, 0.5):.3f} s, "
                f"p99 {_percentile(lags, 0.99):.3f} s, max {max(lags):.3f} s"
            )
            print(
                "pause_s  ending  missing_at_end  rpo_span_s  catch_up_s  first_after_end_s"
                "  its_lag_s"
            )
            for pause in pauses:
                for ending in ("expiry", "undo"):
                    rows = [_one(primary, replica, interval, pause, ending) for _ in range(repeat)]
                    for row in rows:
                        print(
                            f"{pause:7g}  {ending:6}  {row['missing']:14d}  "
                            f"{row['rpo_span_s']:10.3f}  {row['catch_up_s']:10.3f}  "
                            f"{row['first_after_s']:17.3f}  {row['its_lag_s']:9.3f}"
                        )
                    if repeat > 1:
                        delays = [r["first_after_s"] for r in rows]
                        print(
                            f"         {ending:6}  first_after_end median "
                            f"{statistics.median(delays):.3f} s over {repeat}"
                        )
        finally:
            replicator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pauses", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--lag", type=float, default=0.5, help="the replicator's lag (AWS: < 1 s)")
    parser.add_argument("--baseline", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    run(args.pauses, args.interval, args.lag, args.baseline, args.repeat)


if __name__ == "__main__":
    main()
