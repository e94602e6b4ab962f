"""Mask secret values in journals before they reach a disk, a report or a dashboard.

Chaos Toolkit writes inline secrets and resolved dynamic configuration verbatim. We mask
(1) every value that came from the experiment's secrets, (2) values of keys that look
like credentials, (3) the password part of URLs/DSNs, (4) AWS credentials from the
environment, wherever they appear, including inside longer strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "secret_values", "redact", "looks_secret"]

MASK = "***"
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|"
    r"session[_-]?key|auth)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@/\s]+)(?=@)", re.IGNORECASE
)
_DSN_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
_ENV_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def looks_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        if value.get("type") == "env" and "key" in value:  # a reference, not a value
            resolved = os.environ.get(str(value["key"]))
            if resolved:
                yield resolved
            return
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def secret_values(*sources: Any) -> set[str]:
    """Every secret value found in the given secrets mappings and the environment."""
    found = {leaf for source in sources for leaf in _leaves(source)}
    found.update(os.environ[name] for name in _ENV_SECRETS if os.environ.get(name))
    return {value for value in found if len(value) >= _MIN_SECRET_LENGTH}


def _mask_string(text: str, values: list[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group("scheme") + MASK, text)
    return _DSN_PASSWORD.sub(lambda m: m.group("key") + MASK, text)


def redact(document: Any, values: Iterable[str] = ()) -> Any:
    """A copy of ``document`` with secrets masked (longest values first)."""
    ordered = sorted(set(values), key=len, reverse=True)

    def walk(node: Any, key: str | None = None) -> Any:
        if isinstance(node, dict):
            if key == "secrets":  # the experiment's secret declarations: keep only names
                return {k: _mask_section(v) for k, v in node.items()}
            return {k: walk(v, str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item, key) for item in node]
        if isinstance(node, str):
            if key and looks_secret(key) and node and not _is_reference(node):
                return MASK
            return _mask_string(node, ordered)
        if (
            key
            and looks_secret(key)
            and isinstance(node, int | float)
            and not isinstance(node, bool)
        ):
            return MASK
        return node

    return walk(document)


def _is_reference(text: str) -> bool:
    return text.startswith("${") and text.endswith("}")


def _mask_section(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") == "env" and "key" in node:
            return {"type": "env", "key": node["key"]}
        return {k: _mask_section(v) for k, v in node.items()}
    return MASK
