"""The installed package works for a stranger: every runtime dependency is in
``install_requires`` (not only in an extra), every data file ships in the wheel, and the
package list in ``setup.cfg`` is complete.

The real proof runs in ``.ci/run``: the built wheel, installed with only the ``sandbox``
extra into a fresh venv, runs ``gameday run --sandbox``. These tests say which file or
dependency is missing, in seconds, before that.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from setuptools import find_packages

from tests.helpers import REPO

ROOT = REPO
OUR_ROOTS = ("chaosaws_ext", "probes", "reports", "gameday", "sandbox")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+")


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    return parser


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: str) -> set[str]:
    names = set()
    for line in lines.splitlines():
        match = _NAME.match(line.strip())
        if match:
            names.add(_canonical(match.group(0)))
    return names


def _closure(names: set[str]) -> set[str]:
    """The distributions installed because of ``names`` (their requirements, no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            needed = requires(name) or []
        except PackageNotFoundError:  # not installed: not needed on this platform
            continue
        for line in needed:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_canonical(requirement.name))
    return seen


def _experiment_files() -> list[Path]:
    return sorted((ROOT / "experiments").glob("*.yaml")) + sorted(
        (ROOT / "experiments" / "examples").glob("*.yaml")
    )


def _modules_and_tolerances() -> tuple[set[str], set[str]]:
    modules: set[str] = set()
    tolerances: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            provider = node.get("provider")
            if isinstance(provider, dict) and provider.get("type") == "python":
                modules.add(str(provider["module"]))
            if "module" in node and isinstance(node.get("module"), str) and "provider" in node:
                modules.add(node["module"])
            tolerance = node.get("tolerance")
            if isinstance(tolerance, dict) and "type" in tolerance:
                tolerances.add(str(tolerance["type"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in _experiment_files():
        walk(yaml.safe_load(path.read_text()))
    return modules, tolerances


def test_setup_cfg_lists_every_package() -> None:
    listed = set(_setup_cfg()["options"]["packages"].split())
    found = set(find_packages(str(ROOT), include=[f"{r}*" for r in OUR_ROOTS]))
    assert found | {"chaosaws_ext.experiments"} == listed


def test_every_module_the_experiments_load_needs_only_install_requires() -> None:
    modules, tolerances = _modules_and_tolerances()
    assert "chaosaws_ext.controls.measurement" in modules  # the walk found the controls
    script = (
        "import importlib, json, sys\n"
        f"for name in {sorted(modules)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd="/"
        ).stdout
    )
    runtime = _closure(_requirement_names(_setup_cfg()["options"]["install_requires"]))
    ours = set(OUR_ROOTS)
    by_module = packages_distributions()
    missing = {}
    for module in loaded:
        if module in ours or module in sys.stdlib_module_names or module.startswith("_"):
            continue
        dists = {_canonical(d) for d in by_module.get(module, [])}
        if dists and not dists & runtime:
            missing[module] = sorted(dists)
    assert not missing, f"imported at run time but not in install_requires: {missing}"
    # chaoslib imports a tolerance's library only when it evaluates one
    if "jsonpath" in tolerances:
        assert "jsonpath2" in runtime, "jsonpath tolerances need jsonpath2 in install_requires"


@pytest.mark.e2e
def test_the_wheel_ships_every_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("chaosaws_ext-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    expected = set()
    for path in tracked:
        top, _, rest = path.partition("/")
        if top == "experiments":
            expected.add(f"chaosaws_ext/experiments/{rest}")
        elif top in OUR_ROOTS:
            expected.add(path)
    missing = sorted(p for p in expected if p not in shipped)
    assert not missing, f"not in the wheel: {missing}"
