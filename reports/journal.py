"""The journal schema: loading Chaos Toolkit journals and reading them tolerantly.

This is the only module of ``reports`` that knows where things live in a journal; inside
the ``recovery`` block, every field is named through the block's schema
(:mod:`chaosaws_ext.core.recovery_schema`) with :func:`recovery_value`. Every
accessor tolerates missing keys, ``null`` values and wrong types: a SIGINT journal has no
``status``, a plain chaostoolkit experiment has no ``recovery`` block, an old control may
write fewer fields. Nothing here raises on a journal that was parsed; only
``load_journal`` raises ``JournalError`` (one line naming the file and the problem).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaosaws_ext.core.recovery_schema import field as schema_field

__all__ = [
    "Journal",
    "JournalError",
    "as_journals",
    "fault_value",
    "find_journal_files",
    "get_path",
    "load_journal",
    "load_journals",
    "number",
    "parse_time",
    "recovery_value",
]

logger = logging.getLogger(__name__)

#: run statuses chaoslib writes; a journal without one was interrupted (SIGINT).
KNOWN_STATUSES = ("completed", "deviated", "failed", "aborted", "interrupted")


class JournalError(Exception):
    """A file that is not a usable journal; ``str()`` is one line naming file and problem."""


@dataclass
class Journal:
    """One journal: where it came from and its parsed JSON object."""

    source: str
    data: dict[str, Any] = field(repr=False)

    @property
    def experiment(self) -> dict[str, Any]:
        value = self.data.get("experiment")
        return value if isinstance(value, dict) else {}

    @property
    def title(self) -> str:
        title = self.experiment.get("title")
        if isinstance(title, str) and title.strip():
            return title.strip()
        return Path(self.source).stem or "untitled experiment"

    @property
    def status(self) -> str | None:
        """chaoslib's run status, or None when the journal has none (interrupted)."""
        status = self.data.get("status")
        return status if isinstance(status, str) and status else None

    @property
    def recovery(self) -> dict[str, Any] | None:
        value = self.data.get("recovery")
        return value if isinstance(value, dict) else None

    @property
    def safety(self) -> dict[str, Any] | None:
        """The safety control's record (run id, ledger, the final undo), when it ran."""
        value = self.data.get("safety")
        return value if isinstance(value, dict) else None

    @property
    def started_at(self) -> datetime | None:
        return parse_time(self.data.get("start"))

    @property
    def ended_at(self) -> datetime | None:
        return parse_time(self.data.get("end"))

    @property
    def duration_s(self) -> float | None:
        return number(self.data.get("duration"))

    def activities(self, section: str) -> list[dict[str, Any]]:
        """Runs of ``run`` (the method) or ``rollbacks``: dicts only."""
        value = self.data.get(section)
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, dict)]

    def steady_state(self, when: str) -> dict[str, Any] | None:
        states = self.data.get("steady_states")
        if not isinstance(states, dict):
            return None
        value = states.get(when)
        return value if isinstance(value, dict) else None


def get_path(data: Any, *keys: str | int, default: Any = None) -> Any:
    """``data[k1][k2]...`` or ``default`` when any step is missing or of the wrong type."""
    current = data
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, list) or not -len(current) <= key < len(current):
                return default
            current = current[key]
        else:
            if not isinstance(current, dict) or key not in current:
                return default
            current = current[key]
    return default if current is None else current


def recovery_value(recovery: Any, *path: str, default: Any = None) -> Any:
    """The ``recovery`` block's field at ``path``, or ``default`` when it is missing, null or
    of the wrong type. ``path`` is checked against the schema (KeyError naming the step it
    does not hold): a renamed field breaks its reader here, not silently in a report."""
    return get_path(recovery, *schema_field(*path), default=default)


def fault_value(fault: Any, key: str) -> Any:
    """A field of one fault record (``recovery.fault``, or one item of a list of them),
    named through the schema like :func:`recovery_value`."""
    return get_path(fault, schema_field("fault", key)[-1])


def number(value: Any) -> float | None:
    """A finite float, or None (bools, strings, NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    if result != result or result in (float("inf"), float("-inf")):
        return None
    return result


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string (naive ones are taken as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_shape(data: Any) -> str | None:
    """Why ``data`` is not a journal, or None when it looks like one."""
    if not isinstance(data, dict):
        return f"JSON {type(data).__name__}, not a Chaos Toolkit journal object"
    if not isinstance(data.get("experiment"), dict):
        return "JSON but not a Chaos Toolkit journal (no 'experiment' object)"
    if not any(key in data for key in ("start", "run", "steady_states", "status")):
        return "JSON but not a Chaos Toolkit journal (no 'start', 'run' or 'steady_states')"
    if "recovery" in data and data["recovery"] is not None:
        if not isinstance(data["recovery"], dict):
            return "'recovery' is not an object"
    return None


def load_journal(path: str | Path) -> Journal:
    """Read and check one journal file; raise JournalError with one line on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise JournalError(f"{path}: is a directory") from None
    except OSError as error:
        raise JournalError(f"{path}: cannot read ({error.strerror or error})") from None
    if not raw.strip():
        raise JournalError(f"{path}: empty file, not a journal")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JournalError(f"{path}: not UTF-8 text, not a journal") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise JournalError(
            f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except RecursionError:
        raise JournalError(f"{path}: JSON nested too deeply") from None
    problem = _check_shape(data)
    if problem:
        raise JournalError(f"{path}: {problem}")
    return Journal(source=str(path), data=data)


def find_journal_files(directory: str | Path) -> list[Path]:
    """The ``*.json`` files under ``directory`` (recursive), sorted by path."""
    directory = Path(directory)
    return sorted(p for p in directory.rglob("*.json") if p.is_file())


def _expand(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """(file, named explicitly) for each path; directories expand to their json files."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files = find_journal_files(path)
            if not files:
                raise JournalError(f"{path}: directory holds no journals (*.json)")
            for file in files:
                yield file, False
        else:
            yield path, True


def load_journals(
    paths: Iterable[str | Path], *, skip_foreign_json: bool = False
) -> tuple[list[Journal], list[str]]:
    """Load journals from files and directories.

    Returns ``(journals, errors)``: every problem is one line naming the file. With
    ``skip_foreign_json``, JSON files found in a directory that are not journals (a var
    file, a report's own data) are skipped silently instead of being errors.
    """
    journals: list[Journal] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for item in paths:
        try:
            expanded = list(_expand([item]))
        except JournalError as error:
            errors.append(str(error))
            continue
        for file, explicit in expanded:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            try:
                journals.append(load_journal(file))
            except JournalError as error:
                foreign = "JSON but not" in str(error) or "not a Chaos Toolkit" in str(error)
                if skip_foreign_json and not explicit and foreign:
                    logger.info("skipping %s", error)
                    continue
                errors.append(str(error))
    return journals, errors


def as_journals(items: Iterable[Journal | dict[str, Any]]) -> list[Journal]:
    """Accept Journal objects or bare journal dicts (a live ``state``)."""
    result = []
    for index, item in enumerate(items):
        if isinstance(item, Journal):
            result.append(item)
        elif isinstance(item, dict):
            result.append(Journal(source=f"journal #{index + 1}", data=item))
        else:
            raise TypeError(f"not a journal: {type(item).__name__}")
    return result
