"""Compare the fields of the ``recovery`` blocks of two game days' journals.

``python -m tests.helpers.recovery_fields BEFORE_DIR AFTER_DIR`` prints, per experiment,
the field paths (with their JSON types) only one side has, and exits 1 when any differ:
the check that a refactoring left the journal's meaning alone. Figures are not compared
(they are measurements); the set of fields and their types are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["field_paths", "compare"]


def field_paths(node: Any, prefix: str = "") -> set[str]:
    """``path:type`` of every field; lists are walked as one element (``[]``)."""
    kind = type(node).__name__ if node is not None else "null"
    found = {f"{prefix}:{kind}"} if prefix else set()
    if isinstance(node, dict):
        for key, value in node.items():
            found |= field_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list) and node and not prefix.endswith("series"):
        for value in node:
            found |= field_paths(value, f"{prefix}[]")
    return found


def _blocks(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".journal.json"): json.loads(path.read_text()).get("recovery", {})
        for path in sorted(folder.glob("*.journal.json"))
    }


def compare(before: Path, after: Path) -> list[str]:
    """One line per difference (experiment, side, field:type)."""
    old, new = _blocks(before), _blocks(after)
    lines = [f"{name}: only in {before}" for name in sorted(set(old) - set(new))]
    lines += [f"{name}: only in {after}" for name in sorted(set(new) - set(old))]
    for name in sorted(set(old) & set(new)):
        a, b = field_paths(old[name]), field_paths(new[name])
        lines += [f"{name}: before only  {p}" for p in sorted(a - b)]
        lines += [f"{name}: after only   {p}" for p in sorted(b - a)]
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.helpers.recovery_fields BEFORE_DIR AFTER_DIR")
        return 2
    before, after = Path(argv[0]), Path(argv[1])
    lines = compare(before, after)
    for line in lines:
        print(line)
    total = {n: len(field_paths(b)) for n, b in _blocks(after).items()}
    print(f"{len(lines)} difference(s); fields per experiment after: {total}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
