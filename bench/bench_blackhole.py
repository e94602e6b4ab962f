"""Benchmark: AZ blackhole inject + undo against a local moto server.

For 3, 30 and 300 subnets in the zone: wall time of inject + restore (median of 5) and
the number of API calls (counted with a botocore ``before-call`` hook), as a table.
Calls should grow linearly with the subnets; wall time far slower (concurrent swaps).

The moto server (``ThreadedMotoServer`` on 127.0.0.1, port 0) runs in its own process
so it does not share the client's GIL. Each size is timed with the default 8 workers
and with 1 (sequential), on raw moto and with a simulated network round trip
(``--rtt-ms``, a sleep per request in a botocore ``before-send`` hook; AWS API calls take
tens of milliseconds, moto on loopback about one).

    python bench/bench_blackhole.py [--sizes 3 30 300] [--repeat 5] [--rtt-ms 20]
"""

from __future__ import annotations

import argparse
import collections
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REGION = "eu-south-1"
ZONE = f"{REGION}a"


def _environment(endpoint: str) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("GAMEDAY_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        }
    )


def _build(ec2: Any, subnets: int) -> str:
    """A VPC with ``subnets`` /26 subnets in ZONE and one in each other zone."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for index in range(subnets):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"10.0.{index // 4}.{(index % 4) * 64}/26",
            AvailabilityZone=ZONE,
        )
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.250.0/24", AvailabilityZone=f"{REGION}b")
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.251.0/24", AvailabilityZone=f"{REGION}c")
    return vpc


def _serve(ports: Any) -> None:
    """Child process: a moto server on a free loopback port, until terminated."""
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's 500s are counted anyway
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    ports.put(server.get_host_and_port())
    threading.Event().wait()


def _measure(
    vpc: str, subnets: int, ledger_dir: Path, repeat: int, workers: int, rtt_ms: float
) -> dict[str, Any]:
    from chaosaws_ext.blackhole import network_acls
    from chaosaws_ext.blackhole.actions import (
        blackhole_availability_zone,
        restore_availability_zone,
    )
    from chaosaws_ext.core.clients import aws_client
    from chaosaws_ext.runcontext import start_run

    network_acls.WORKERS = workers

    walls: list[float] = []
    inject_walls: list[float] = []
    counts: list[collections.Counter[str]] = []
    for attempt in range(repeat):
        configuration = {
            "aws_region": REGION,
            "chaos_ledger_path": str(ledger_dir / f"ledger-{subnets}-{attempt}.jsonl"),
            "allowed_accounts": "123456789012",  # moto's account
            "max_resources": subnets + 1,  # guardrail blast radius: the subnets + the VPC
        }
        start_run(configuration, "bench-blackhole")
        calls: collections.Counter[str] = collections.Counter()
        client = aws_client("ec2", configuration, None, REGION)

        def count(model: Any, _calls: collections.Counter[str] = calls, **_: Any) -> None:
            _calls[model.name] += 1

        def round_trip(**_: Any) -> None:
            time.sleep(rtt_ms / 1000)

        client.meta.events.register("before-call.ec2", count)
        if rtt_ms:
            client.meta.events.register("before-send.ec2", round_trip)
        try:
            started = time.perf_counter()
            result = blackhole_availability_zone(
                ZONE, vpc_id=vpc, max_subnets=subnets, configuration=configuration
            )
            injected = time.perf_counter()
            restore_availability_zone(configuration)
            ended = time.perf_counter()
        finally:
            client.meta.events.unregister("before-call.ec2", count)
            client.meta.events.unregister("before-send.ec2", round_trip)
        assert result["subnets_moved"] == subnets, result
        walls.append(ended - started)
        inject_walls.append(injected - started)
        counts.append(calls)
    total_calls = [sum(c.values()) for c in counts]
    swaps = [c["ReplaceNetworkAclAssociation"] for c in counts]
    return {
        "subnets": subnets,
        "calls": int(statistics.median(total_calls)),
        "swaps": int(statistics.median(swaps)),
        "inject_s": statistics.median(inject_walls),
        "wall_s": statistics.median(walls),
        "by_operation": dict(counts[0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 30, 300])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 1])
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="0: raw moto only")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("chaosaws_ext").setLevel(logging.CRITICAL)
    import boto3
    import requests

    from chaosaws_ext.core.clients import clear_client_cache

    ports: multiprocessing.Queue[tuple[str, int]] = multiprocessing.Queue()
    child = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    child.start()
    host, port = ports.get(timeout=60)
    endpoint = f"http://{host}:{port}"
    _environment(endpoint)
    modes = [(w, 0.0) for w in args.workers]
    if args.rtt_ms:
        modes += [(w, args.rtt_ms) for w in args.workers]
    rows: dict[int, dict[tuple[int, float], dict[str, Any]]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for size in args.sizes:
                requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
                clear_client_cache()
                ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
                vpc = _build(ec2, size)
                rows[size] = {
                    mode: _measure(vpc, size, Path(folder), args.repeat, *mode) for mode in modes
                }
    finally:
        child.terminate()
        child.join(10)

    first = rows[args.sizes[0]]
    print(f"AZ blackhole inject + undo against a moto server: median of {args.repeat} runs")
    header = f"{'subnets':>7} {'API calls':>9} {'calls x':>7}"
    for workers, rtt in modes:
        label = f"{workers}w" + (f"+{rtt:g}ms" if rtt else " raw")
        header += f" | {label + ' s':>12} {'x':>5}"
    print(header)
    for size in args.sizes:
        row = rows[size]
        base = row[modes[0]]
        line = f"{size:>7} {base['calls']:>9} {base['calls'] / first[modes[0]]['calls']:>7.1f}"
        for mode in modes:
            wall = row[mode]["wall_s"]
            line += f" | {wall:>12.3f} {wall / first[mode]['wall_s']:>5.1f}"
        print(line)
    largest = rows[args.sizes[-1]][modes[0]]
    print(f"calls at {args.sizes[-1]} subnets: {dict(sorted(largest['by_operation'].items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
