"""One masking rule for everything we write: journals, reports, JUnit, metrics, logs,
the console and the ledger.

Chaos Toolkit writes inline secrets and resolved dynamic configuration verbatim, and logs
activity arguments and outputs at DEBUG. What is masked, wherever it appears (also inside
longer strings):

- every value of the experiment's ``secrets`` (inline, resolved from the environment or
  a var file), every value under a ``secrets`` mapping anywhere (resolved secrets);
- every value stored under a key that looks like a credential (password, passwd, secret,
  token, api key, credential, private key, session token, access key, authorization...:
  ``api_token``, ``service_token``, ``aws_secret_access_key``), in the configuration too;
- the values of environment variables whose names look like credentials
  (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``PGPASSWORD``);
- passwords embedded in text by pattern: ``scheme://user:pw@host``, ``password=pw``
  (libpq DSNs), ``"token": "..."``, ``Bearer xyz``.

This module is the core's: ``reports`` imports it (through ``reports.redaction``) and
nothing else of the faults.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MASK",
    "CUT_MARK",
    "MAX_TEXT",
    "SecretLogFilter",
    "collect_secret_values",
    "dsn_passwords",
    "environment_secret_values",
    "install_log_redaction",
    "is_sensitive_key",
    "looks_secret",
    "mask_journal",
    "mask_text",
    "redact",
    "restore_dsn_password",
    "run_secret_values",
    "secret_values",
    "secret_values_from_var_files",
    "strip_dsn_password",
]

MASK = "********"

_SENSITIVE_WORDS = {
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "apikey",
    "passphrase",
    "authorization",
    "auth",
    "cookie",
    "privatekey",
    "signature",
}
_KEY_WORDS = {"key", "keys"}
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# scheme://user:password@host
# (bounded repetitions: a multi-megabyte output must not make these regexes quadratic)
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://[^:/?#\s@]{0,256}:)(?P<pw>[^@\s/]{1,256})(?=@)"
)
# password=..., pwd: ..., "token": "..." inside free text (libpq DSNs, logs, tracebacks)
_KV_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9])(?:[A-Za-z0-9]{1,40}[_-]){0,4}"
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credentials?)[\"']?\s*[=:]\s*[\"']?)"
    r"(?P<pw>[^\s\"',;&)}\]]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})")
# a value this short is only masked where it is the whole string, never inside text
_MIN_SUBSTRING_LENGTH = 4


def is_sensitive_key(key: Any) -> bool:
    """Does a mapping key look like it holds a secret (password, api_key, dsn...)?"""
    if not isinstance(key, str) or not key:
        return False
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", key).lower()) if w]
    if not words:
        return False
    if any(word in _SENSITIVE_WORDS for word in words):
        return True
    joined = "".join(words)
    if any(word in joined for word in ("password", "passwd", "apikey", "secret", "token")):
        return True
    # api_key, access_key, aws_secret_access_key, private-key; a bare "key" is a name
    return len(words) > 1 and words[-1] in _KEY_WORDS


def _string_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _string_leaves(item)


def _declared_secret_values(
    secrets: Any, environ: Mapping[str, str], referenced: set[str]
) -> Iterable[str]:
    """Values of an ``experiment.secrets`` block: inline values and resolved env vars."""
    if not isinstance(secrets, Mapping):
        return
    for value in secrets.values():
        if isinstance(value, Mapping) and value.get("type") == "env":
            name = value.get("key")
            if isinstance(name, str):
                referenced.add(name)
                if environ.get(name):
                    yield environ[name]
        elif isinstance(value, Mapping) and value.get("type") == "vault":
            continue
        elif isinstance(value, Mapping):
            yield from _declared_secret_values(value, environ, referenced)
        elif isinstance(value, str):
            for name in re.findall(r"\$\{([^}]+)\}", value):
                referenced.add(name)
                if environ.get(name):
                    yield environ[name]
            if not re.fullmatch(r"\$\{[^}]+\}", value):
                yield value
        else:
            yield from _string_leaves(value)


def _walk_collect(value: Any, found: list[str], environ: Mapping[str, str]) -> None:
    """Values under sensitive keys and under any ``secrets`` mapping, anywhere; for an env
    pointer under a sensitive key (``db_password: {type: env, key: PGPASSWORD}``), the
    variable's current value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "secrets" and isinstance(item, Mapping):
                for scope in item.values():
                    if _is_reference(scope):
                        continue
                    found.extend(_string_leaves(scope))
            elif is_sensitive_key(key) and not isinstance(item, bool):
                if isinstance(item, Mapping) and item.get("type") == "env":
                    name = item.get("key")
                    if isinstance(name, str) and environ.get(name):
                        found.append(environ[name])
                    continue
                if _is_reference(item):
                    continue
                found.extend(s for s in _string_leaves(item) if not _is_reference(s))
            else:
                _walk_collect(item, found, environ)
    elif isinstance(value, list):
        for item in value:
            _walk_collect(item, found, environ)


def collect_secret_values(
    data: Mapping[str, Any],
    *,
    extra: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Every secret value known for one journal, longest first (for replacement)."""
    environ = os.environ if environ is None else environ
    referenced: set[str] = set()
    found: list[str] = []
    experiment = data.get("experiment") if isinstance(data, Mapping) else None
    if isinstance(experiment, Mapping):
        found.extend(_declared_secret_values(experiment.get("secrets"), environ, referenced))
    _walk_collect(data, found, environ)
    found.extend(v for v in extra if isinstance(v, str))
    found.extend(environment_secret_values(environ))
    values = {v for v in found if v and v.strip() and v != MASK}
    return sorted(values, key=lambda v: (-len(v), v))


def mask_text(text: str, secret_values: Iterable[str] = ()) -> str:
    """Mask known secret values and embedded passwords in one string."""
    for value in secret_values:
        if len(value) >= _MIN_SUBSTRING_LENGTH:
            if value in text:
                text = text.replace(value, MASK)
        elif text == value:
            return MASK
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _BEARER.sub(lambda m: m.group("head") + MASK, text)
    return text


def _is_reference(item: Any) -> bool:
    """An env/vault pointer or a ``${name}`` placeholder: a name, not a value."""
    if isinstance(item, Mapping):
        return item.get("type") in ("env", "vault")
    return isinstance(item, str) and re.fullmatch(r"\$\{[^}]+\}", item) is not None


def _mask_secrets_block(value: Any) -> Any:
    """Inside a ``secrets`` mapping every leaf is a secret (env/vault pointers excepted)."""
    if _is_reference(value):
        return value
    if isinstance(value, dict):
        return {k: _mask_secrets_block(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets_block(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return MASK


def _is_number_row(row: Any) -> bool:
    return isinstance(row, list) and all(
        x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in row
    )


#: longer strings are cut before masking (no output shows more than a few thousand
#: characters; masking megabytes of activity output would cost seconds)
MAX_TEXT = 65_536
CUT_MARK = re.compile(r"…\[cut: (\d+) characters in total\]$")


def _cut(value: str, secrets: list[str]) -> str:
    """``value`` cut near MAX_TEXT, never inside a secret (which would leave half of it
    unmasked), with a mark that says how long it was."""
    if len(value) <= MAX_TEXT:
        return value
    cut = MAX_TEXT
    for _ in range(8):  # moving the cut left can only land on an earlier secret
        moved = cut
        for secret in secrets:
            start = value.find(secret, max(0, moved - len(secret) + 1), moved + len(secret) - 1)
            if 0 <= start < moved:
                moved = start
        window_start = max(0, moved - 800)
        for pattern in (_URL_PASSWORD, _KV_PASSWORD, _BEARER):
            for match in pattern.finditer(value, window_start, min(len(value), moved + 800)):
                if match.start() < moved < match.end():
                    moved = match.start()
        if moved == cut:
            break
        cut = moved
    return f"{value[:cut]}…[cut: {len(value)} characters in total]"


def _mask_tree(value: Any, secrets: list[str], secret_set: set[str]) -> Any:
    if isinstance(value, str):
        return MASK if value in secret_set else mask_text(_cut(value, secrets), secrets)
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "secrets" and isinstance(item, dict):
                result[key] = {k: _mask_secrets_block(v) for k, v in item.items()}
            elif is_sensitive_key(key) and item is not None and not isinstance(item, bool):
                result[key] = item if _is_reference(item) else _mask_secrets_block(item)
            else:
                result[key] = _mask_tree(item, secrets, secret_set)
        return result
    if isinstance(value, list):
        # availability series: rows of numbers hold nothing to mask, copy them as they are
        return [
            list(item) if _is_number_row(item) else _mask_tree(item, secrets, secret_set)
            for item in value
        ]
    return value


def mask_journal(
    data: Mapping[str, Any],
    *,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A masked deep copy of a journal dict (the input is never modified)."""
    secrets = collect_secret_values(data, extra=extra_secret_values, environ=environ)
    secret_set = set(secrets)
    return _mask_tree(dict(data), secrets, secret_set)


def _load_var_file(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(configuration, secrets, env lines) of a chaostoolkit ``--var-file``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml", ".json"):
        data = yaml.safe_load(text) if path.suffix != ".json" else json.loads(text)
        if isinstance(data, dict):
            configuration = data.get("configuration") or {}
            secrets = data.get("secrets") or {}
            return (
                configuration if isinstance(configuration, dict) else {},
                secrets if isinstance(secrets, dict) else {},
                {},
            )
        return {}, {}, {}
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        env[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return {}, {}, env


def secret_values_from_var_files(
    paths: Iterable[str | Path], experiment: Mapping[str, Any] | None = None
) -> list[str]:
    """Secret values held by chaostoolkit var files (JSON/YAML or .env).

    Everything under ``secrets`` is secret; a configuration entry or .env line is secret
    when its name looks sensitive or when the experiment's secrets refer to it (as
    ``${name}`` or as an env secret's ``key``).
    """
    referenced: set[str] = set()
    if experiment is not None:
        list(_declared_secret_values(experiment.get("secrets"), {}, referenced))
    values: list[str] = []
    for path in paths:
        configuration, secrets, env = _load_var_file(Path(path))
        values.extend(_string_leaves(secrets))
        for name, value in {**configuration, **env}.items():
            if is_sensitive_key(name) or name in referenced:
                values.extend(_string_leaves(value))
    return [v for v in values if v]


_WORKING_DIRECTORIES = {"PWD", "OLDPWD"}  # "pwd" here is a folder, not a password


def environment_secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like credentials."""
    environ = os.environ if environ is None else environ
    return [
        value
        for name, value in environ.items()
        if value and name not in _WORKING_DIRECTORIES and is_sensitive_key(name)
    ]


def dsn_passwords(text: str) -> list[str]:
    """The passwords embedded in one string (URL userinfo, libpq ``password=``)."""
    found = [m.group("pw") for m in _URL_PASSWORD.finditer(text)]
    found += [m.group("pw").strip("'\"") for m in _KV_PASSWORD.finditer(text)]
    return [value for value in found if value and value != MASK]


def run_secret_values(configuration: Any = None, secrets: Any = None) -> list[str]:
    """Every secret value a running experiment knows, longest first: its resolved
    secrets, its configuration values under credential-like keys, the passwords inside
    its configuration's DSNs and the credential-named environment variables."""
    found: list[str] = list(_string_leaves(secrets or {}))
    _walk_collect(configuration or {}, found, os.environ)
    for text in _string_leaves(configuration or {}):
        found.extend(dsn_passwords(text))
    found.extend(environment_secret_values())
    values = {v for v in found if v and v.strip() and v != MASK}
    return sorted(values, key=lambda v: (-len(v), v))


# --- the older names (chaosaws_ext callers), same rule -------------------------------


def looks_secret(key: str) -> bool:
    return is_sensitive_key(key)


def secret_values(*sources: Any) -> set[str]:
    """Every secret value in the given (resolved or declared) secrets mappings, plus
    credential-named environment variables."""
    found: list[str] = []
    for source in sources:
        found.extend(_declared_secret_values(source, os.environ, set()))
    found.extend(environment_secret_values())
    return {v for v in found if v and v.strip() and v != MASK}


def redact(document: Any, values: Iterable[str] = ()) -> Any:
    """A masked copy of ``document`` (a journal or any JSON-like tree)."""
    if isinstance(document, Mapping):
        return mask_journal(document, extra_secret_values=values)
    secrets = sorted({v for v in values if v}, key=lambda v: (-len(v), v))
    return _mask_tree(document, secrets, set(secrets))


# --- DSNs in the ledger ----------------------------------------------------------------


def strip_dsn_password(dsn: str) -> str:
    """``dsn`` without its password (URL userinfo or libpq ``password=``): the form the
    ledger stores; ``restore_dsn_password`` finds the password again at replay."""
    if not re.match(r"\s*[a-zA-Z][a-zA-Z0-9+.-]{0,30}://", dsn):  # libpq key=value
        text = re.sub(r"(?i)(?<![A-Za-z0-9_])password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)\s*", "", dsn)
        return text.strip()
    text = re.sub(
        r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://[^:/?#\s@]{0,256}):[^@\s/]{1,256}(?=@)",
        lambda m: m.group("head"),
        dsn,
    )
    text = re.sub(r"([?&])password=[^&#\s]*&?", lambda m: m.group(1), text)
    return re.sub(r"[?&](?=#|$)", "", text).strip()


def restore_dsn_password(dsn: str, *sources: Any) -> str:
    """The full DSN whose password-less form is ``dsn``, found in ``sources``
    (configuration, secrets) or the environment; ``dsn`` itself when none holds it
    (libpq still reads ``PGPASSWORD`` and ``~/.pgpass``)."""
    candidates = [text for source in sources for text in _string_leaves(source or {})]
    candidates += list(os.environ.values())
    for candidate in candidates:
        if candidate != dsn and strip_dsn_password(candidate) == dsn:
            return candidate
    return dsn


# --- logs and the console --------------------------------------------------------------


class SecretLogFilter(logging.Filter):
    """Masks known secret values (and embedded passwords) in every record it sees,
    exception text included; never drops a record."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__()
        self.values: list[str] = []
        self.update(values)

    def update(self, values: Iterable[str]) -> None:
        merged = set(self.values) | {v for v in values if v}
        self.values = sorted(merged, key=lambda v: (-len(v), v))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: mask what there is
            message = str(record.msg)
        record.msg, record.args = mask_text(message, self.values), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, self.values)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, self.values)
        return True


_LOGGERS = ("chaostoolkit", "")  # chaoslib/chaostoolkit's logger (no propagation), root


def install_log_redaction(values: Iterable[str]) -> SecretLogFilter:
    """Mask ``values`` in every record the chaos process logs (console and log file)
    and make its log files readable by their owner only (0600)."""
    handlers: list[logging.Handler] = [logging.lastResort] if logging.lastResort else []
    for name in _LOGGERS:
        handlers.extend(logging.getLogger(name).handlers)
    existing = next(
        (f for h in handlers for f in h.filters if isinstance(f, SecretLogFilter)), None
    )
    log_filter = existing or SecretLogFilter()
    log_filter.update(values)
    for handler in handlers:
        if log_filter not in handler.filters:
            handler.addFilter(log_filter)
        if isinstance(handler, logging.FileHandler):
            _owner_only(Path(handler.baseFilename))
    return log_filter


def _owner_only(path: Path) -> None:
    """Make a log file ours alone; never a device (chaos logs to /dev/null with
    ``--no-log-file``, and a chmod there breaks every process on the machine)."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
            path.chmod(0o600)
    except OSError as error:
        logging.getLogger(__name__).warning("could not make %s private: %s", path, error)
