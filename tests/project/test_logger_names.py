"""One logger scheme: library modules log through ``logging.getLogger(__name__)``.

Named after the module, every logger sits under its package's (``chaosaws_ext``,
``gameday``, ...), so one level or handler on the package covers it and a log line says
which module wrote it. A literal name of ours is refused, except in the modules listed
below, which other work is rewriting today: the list only shrinks.
"""

from __future__ import annotations

import ast
import warnings

from tests.helpers import REPO

ROOT = REPO
OUR_PACKAGES = ("chaosaws_ext", "probes", "reports", "gameday", "sandbox")

# baseline: remove a line when its module uses getLogger(__name__).
LITERAL_NAMES_LEFT = {
    "chaosaws_ext/blackhole/actions.py",
    "chaosaws_ext/blackhole/network_acls.py",
    "chaosaws_ext/blackhole/planning.py",
    "chaosaws_ext/controls/measurement.py",
    "chaosaws_ext/controls/safety.py",
    "chaosaws_ext/controls/stop_alarms.py",
    "chaosaws_ext/dynamodb/actions.py",
    "chaosaws_ext/dynamodb/conflict.py",
    "chaosaws_ext/dynamodb/probes.py",
    "chaosaws_ext/healthcheck/actions.py",
    "chaosaws_ext/healthcheck/probes.py",
    "chaosaws_ext/rds/actions.py",
    "chaosaws_ext/rds/probes.py",
    "gameday/cli.py",
    "gameday/gamedayrun.py",
    "gameday/recover.py",
    "gameday/runner.py",
}


def _literal_names_of_ours(source: str) -> list[tuple[int, str]]:
    """(line, name) of each ``getLogger("<one of our packages>...")`` call."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "getLogger"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.split(".")[0] in OUR_PACKAGES
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_library_modules_name_their_logger_after_themselves() -> None:
    offenders, converted = [], []
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            found = _literal_names_of_ours(path.read_text())
            if found and relative not in LITERAL_NAMES_LEFT:
                offenders += [f"{relative}:{line}: getLogger({name!r})" for line, name in found]
            if not found and relative in LITERAL_NAMES_LEFT:
                converted.append(relative)
    if converted:
        warnings.warn(
            f"drop from LITERAL_NAMES_LEFT (now __name__ or gone): {converted}", stacklevel=1
        )
    assert not offenders, "use logging.getLogger(__name__):\n" + "\n".join(offenders)


def test_the_check_sees_a_literal_name_and_lets_third_party_names_pass() -> None:
    source = (
        'import logging\nlogger = logging.getLogger("chaosaws_ext")\n'
        'logging.getLogger("werkzeug").setLevel(logging.ERROR)\n'
        "other = logging.getLogger(__name__)\n"
    )
    assert _literal_names_of_ours(source) == [(2, "chaosaws_ext")]
