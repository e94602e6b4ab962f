"""deploy/: the image, the Kubernetes CronJobs and the scheduled workflow, validated
offline against the schemas that check-jsonschema and kubernetes-validate ship."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.helpers import REPO
from tests.helpers.executables import venv_executable

DEPLOY = REPO / "deploy"
CRONJOBS = DEPLOY / "kubernetes" / "gameday-cronjobs.yaml"
WORKFLOW = DEPLOY / "github" / "gameday-nightly.yml"
K8S_VERSION = "1.30.0"  # CronJob timeZone is GA since 1.27


def _documents() -> list[dict]:
    return list(yaml.safe_load_all(CRONJOBS.read_text()))


def _check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            venv_executable("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_kubernetes_document_is_valid_strictly() -> None:
    for document in _documents():
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_a_broken_cronjob_is_refused() -> None:
    cronjob = next(d for d in _documents() if d["kind"] == "CronJob")
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)


def test_one_cronjob_per_suite_with_irsa_the_lock_table_and_no_overlap() -> None:
    documents = _documents()
    (account,) = [d for d in documents if d["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert re.search(r"^GAMEDAY_LOCK_TABLE=\S+$", config["data"]["staging.env"], re.M)
    cronjobs = [d for d in documents if d["kind"] == "CronJob"]
    suites = []
    for cronjob in cronjobs:
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        args = container["args"]
        assert args[0] == "run" and "--var-file=/config/staging.env" in args
        assert "--evidence" in args
        suites.append(args[1])
    assert suites == ["rds-forced-failover", "healthcheck-path-block"]
    for suite in suites:
        assert (REPO / "experiments" / f"{suite}.yaml").is_file()


def test_the_workflow_is_valid_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    done = _check_workflow(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["schedule"][0]["cron"]  # YAML 1.1 reads `on:` as True
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["gameday"]["steps"]
    assert any("gameday run" in s.get("run", "") and "--evidence" in s["run"] for s in steps)
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [1, {}]"))
    assert _check_workflow(broken).returncode != 0


def test_the_image_is_small_and_runs_as_a_non_root_user() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0].startswith("FROM python:3.11-slim")
    assert any(
        "apt-get install" in line and "--no-install-recommends chromium" in line for line in lines
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert lines[-2] == 'ENTRYPOINT ["gameday"]'
