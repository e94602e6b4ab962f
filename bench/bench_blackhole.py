"""Benchmark: AZ blackhole inject and undo, ours side by side with azchaosaws, one moto server.

For 2, 60 and 300 subnets in the zone (one VPC, every subnet on the default NACL, one
subnet in each other zone): the AWS API calls of inject and of undo (counted with a
botocore ``before-call`` hook on every client each tool makes) and their wall times
(median of ``--repeat``), for chaosaws-ext (scope ``all``) and for azchaosaws
(``aws-az-failure-chaostoolkit``, ``fail_az``/``recover_az`` with ``failure_type
network``; it selects subnets tagged ``AZ_FAILURE=True``, so every subnet is tagged so).
Both run in the same process against the same moto server (``ThreadedMotoServer`` on
127.0.0.1, own process), alternately, on the same VPC, which is checked to be exactly
as before after each undo.

azchaosaws is NOT a dependency of this project: run the bench in its own environment,

    python -m venv .venv-bench
    .venv-bench/bin/pip install -e '.[test]' aws-az-failure-chaostoolkit
    .venv-bench/bin/python bench/bench_blackhole.py [--sizes 2 60 300] [--repeat 3]

``--rtt-ms`` adds a simulated network round trip per request to both tools (a sleep in a
``before-send`` hook; real AWS calls take tens of milliseconds, moto on loopback ~1).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REGION = "eu-south-1"
ZONE = f"{REGION}a"
PEER_TAG = {"Key": "AZ_FAILURE", "Value": "True"}  # azchaosaws' default subnet filter


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
    """A VPC with ``subnets`` /26 subnets in ZONE and one in each other zone, all tagged."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    tags = [{"ResourceType": "subnet", "Tags": [PEER_TAG]}]
    for index in range(subnets):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"10.0.{index // 4}.{(index % 4) * 64}/26",
            AvailabilityZone=ZONE,
            TagSpecifications=tags,
        )
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.250.0/24", AvailabilityZone=f"{REGION}b")
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.251.0/24", AvailabilityZone=f"{REGION}c")
    return vpc


def _serve(ports: Any) -> None:
    """Child process: a moto server on a free loopback port, until terminated."""
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    ports.put(server.get_host_and_port())
    threading.Event().wait()


class Counter:
    """Counts calls on every client it is attached to; optional simulated round trip."""

    def __init__(self, rtt_ms: float) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.rtt_ms = rtt_ms
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call", self._count)
        if self.rtt_ms:
            client.meta.events.register("before-send", self._round_trip)
        return client

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-call", self._count)
        client.meta.events.unregister("before-send", self._round_trip)

    def take(self) -> collections.Counter[str]:
        with self._lock:
            taken, self.calls = self.calls, collections.Counter()
        return taken

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def _round_trip(self, **_: Any) -> None:
        time.sleep(self.rtt_ms / 1000)


def _subnet_acls(ec2: Any, vpc: str) -> dict[str, str]:
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return {
        a["SubnetId"]: n["NetworkAclId"] for n in acls["NetworkAcls"] for a in n["Associations"]
    }


def _timed(counter: Counter, call: Callable[[], Any]) -> tuple[float, int, Any]:
    counter.take()
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, sum(counter.take().values()), result


def _ours(vpc: str, size: int, folder: Path, attempt: int, counter: Counter) -> dict[str, Any]:
    from chaosaws_ext.aws import aws_client
    from chaosaws_ext.blackhole.actions import (
        blackhole_availability_zone,
        restore_availability_zone,
    )
    from chaosaws_ext.runcontext import start_run

    configuration = {
        "aws_region": REGION,
        "chaos_ledger_path": str(folder / f"ledger-{size}-{attempt}.jsonl"),
        "allowed_accounts": "123456789012",  # moto's account
        "max_resources": size + 1,
    }
    start_run(configuration, "bench-blackhole")
    clients = [aws_client(s, configuration, None, REGION) for s in ("ec2", "sts")]
    for client in clients:
        counter.attach(client)
    try:
        inject = _timed(
            counter,
            lambda: blackhole_availability_zone(
                ZONE, vpc_id=vpc, max_subnets=size, configuration=configuration
            ),
        )
        undo = _timed(counter, lambda: restore_availability_zone(configuration))
    finally:
        for client in clients:
            counter.detach(client)
    return {"inject": inject, "undo": undo, "moved": inject[2]["subnets_moved"]}


def _peer(size: int, folder: Path, attempt: int, counter: Counter) -> dict[str, Any]:
    import azchaosaws.ec2.actions as peer

    made: list[Any] = []
    original_client = peer.client

    def counted_client(*args: Any, **kwargs: Any) -> Any:
        made.append(counter.attach(original_client(*args, **kwargs)))
        return made[-1]

    peer.client = counted_client
    state = str(folder / f"peer-{size}-{attempt}.json")
    configuration = {"aws_region": REGION}
    try:
        inject = _timed(
            counter,
            lambda: peer.fail_az(
                az=ZONE,
                dry_run=False,
                failure_type="network",
                state_path=state,
                configuration=configuration,
            ),
        )
        undo = _timed(
            counter, lambda: peer.recover_az(state_path=state, configuration=configuration)
        )
    finally:
        peer.client = original_client
        for client in made:
            counter.detach(client)
    return {"inject": inject, "undo": undo, "moved": len(inject[2]["Subnets"])}


def _median(runs: list[dict[str, Any]], key: str, index: int) -> float:
    return statistics.median(run[key][index] for run in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 60, 300])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="simulated round trip")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.ERROR)
    for name in ("chaosaws_ext", "azchaosaws", "logzero_default"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        import azchaosaws.ec2.actions  # noqa: F401
    except ImportError:
        print("azchaosaws is not installed here: see the docstring (its own venv)")
        return 2
    import boto3
    import logzero
    import requests

    from chaosaws_ext.aws import clear_client_cache

    logzero.loglevel(logging.CRITICAL)
    ports: multiprocessing.Queue[tuple[str, int]] = multiprocessing.Queue()
    child = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    child.start()
    host, port = ports.get(timeout=60)
    endpoint = f"http://{host}:{port}"
    _environment(endpoint)
    counter = Counter(args.rtt_ms)
    rows: list[tuple[int, dict[str, list[dict[str, Any]]]]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for size in args.sizes:
                requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
                clear_client_cache()
                boto3.DEFAULT_SESSION = None
                ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
                vpc = _build(ec2, size)
                before = _subnet_acls(ec2, vpc)
                runs: dict[str, list[dict[str, Any]]] = {"chaosaws-ext": [], "azchaosaws": []}
                for attempt in range(args.repeat):
                    for tool in (
                        ("chaosaws-ext", "azchaosaws")
                        if attempt % 2 == 0
                        else (
                            "azchaosaws",
                            "chaosaws-ext",
                        )
                    ):
                        if tool == "chaosaws-ext":
                            run = _ours(vpc, size, Path(folder), attempt, counter)
                        else:
                            run = _peer(size, Path(folder), attempt, counter)
                        if _subnet_acls(ec2, vpc) != before:
                            raise SystemExit(f"{tool} did not restore the VPC exactly")
                        runs[tool].append(run)
                rows.append((size, runs))
    finally:
        child.terminate()
        child.join(10)

    rtt = f", {args.rtt_ms:g} ms simulated round trip" if args.rtt_ms else ", raw moto"
    print(f"AZ blackhole on one moto server: median of {args.repeat} runs{rtt}")
    print(
        f"{'subnets':>7} {'tool':<13} {'moved':>5} {'inject calls':>12} {'undo calls':>10} "
        f"{'inject s':>9} {'undo s':>8}"
    )
    for size, runs in rows:
        for tool, tool_runs in runs.items():
            print(
                f"{size:>7} {tool:<13} {tool_runs[0]['moved']:>5} "
                f"{int(_median(tool_runs, 'inject', 1)):>12} "
                f"{int(_median(tool_runs, 'undo', 1)):>10} "
                f"{_median(tool_runs, 'inject', 0):>9.3f} {_median(tool_runs, 'undo', 0):>8.3f}"
            )
        ours, peer = runs["chaosaws-ext"], runs["azchaosaws"]
        print(
            f"{'':>7} {'ratio':<13} {'':>5} "
            f"{_median(ours, 'inject', 1) / _median(peer, 'inject', 1):>12.2f} "
            f"{_median(ours, 'undo', 1) / _median(peer, 'undo', 1):>10.2f} "
            f"{_median(ours, 'inject', 0) / _median(peer, 'inject', 0):>9.2f} "
            f"{_median(ours, 'undo', 0) / _median(peer, 'undo', 0):>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
