"""Record every AWS call a run makes, subprocesses included, one JSON line per call.

``chaosaws_ext.core.clients.aws_client`` calls the function named by ``GAMEDAY_AWS_CLIENT_HOOK``
with each client it makes; :func:`install` (named there by :func:`recording_env`)
registers two botocore hooks on it: ``before-parameter-build`` keeps the API parameters
of the call, ``after-call`` (or ``after-call-error``) appends the record to the file
named by ``GAMEDAY_TEST_AWS_CALLS``. Each record holds the service, the operation, the
region, the parameters, the answer (identifiers AWS resolves server side, such as the
subnet behind a NACL association, are read from it; item data is left out), the error
code if any, ``origin``: the module of ours that made the call (``gameday recover
--by-tag`` runs every fault's orphan finder, each needing its own experiment's policy),
and ``run``: the process's ``GAMEDAY_RUN_ID`` (``gameday run`` gives each experiment's
``chaos run`` its own, starting with the experiment's name), "" outside a run.

Only clients made by that factory are hooked, and, from the first of them on, the clients
chaostoolkit-aws makes from boto3's default session (its activities run in the same
``chaos run``; their origin is the ``chaosaws.*`` module). The sandbox's own clients (its
seeding, its emulators) are plain clients of sessions of its own and are never recorded.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Call", "install", "install_into", "load_calls", "recording_env", "CALLS_FILE_ENV"]

CALLS_FILE_ENV = "GAMEDAY_TEST_AWS_CALLS"
RUN_ID_ENV = "GAMEDAY_RUN_ID"
HOOK = "tests.helpers.aws_calls:install"
OUR_PACKAGES = ("chaosaws_ext.", "probes.", "gameday.", "reports.")
CHAOSTOOLKIT_AWS = ("chaosaws.",)  # chaostoolkit-aws's activities, recorded as theirs
NOT_ORIGINS = ("chaosaws_ext.aws", "chaosaws_ext.core", "chaosaws_ext.waiting")
# Answer members holding table data, not identifiers: not written.
DATA_MEMBERS = frozenset({"Item", "Items", "Responses", "Attributes", "UnprocessedKeys"})
_write_lock = threading.Lock()


@dataclass(frozen=True)
class Call:
    """One recorded AWS API call."""

    service: str
    operation: str
    region: str
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    origin: str = ""
    run: str = ""

    def describe(self) -> str:
        return f"{self.service}.{self.operation} in {self.region} (from {self.origin or '?'})"


def recording_env(path: Path) -> dict[str, str]:
    """Environment variables that make a process append its AWS calls to ``path``."""
    return {"GAMEDAY_AWS_CLIENT_HOOK": HOOK, CALLS_FILE_ENV: str(path)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if k not in DATA_MEMBERS}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _origin() -> str:
    """The innermost module of ours (not the client factory) on the calling stack."""
    frame = sys._getframe(1)
    for _ in range(200):
        if frame is None:
            break
        name = str(frame.f_globals.get("__name__", ""))
        if name.startswith(OUR_PACKAGES + CHAOSTOOLKIT_AWS) and not name.startswith(NOT_ORIGINS):
            return name
        frame = frame.f_back
    return ""


def _keep_params(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    context["recorded_params"] = _jsonable(
        {k: v for k, v in params.items() if k not in ("Item",)} | _item_keys(params)
    )
    context["recorded_origin"] = _origin()


def _item_keys(params: dict[str, Any]) -> dict[str, Any]:
    """PutItem's item is data, but its key attributes are what IAM's LeadingKeys sees:
    kept as ``ItemAttributes`` (names and the string values only)."""
    item = params.get("Item")
    if not isinstance(item, dict):
        return {}
    return {"ItemAttributes": {k: v for k, v in item.items() if isinstance(v, dict) and "S" in v}}


def _append(
    region: str,
    model: Any,
    context: dict[str, Any],
    response: Any,
    error: str,
    into: Path | None = None,
) -> None:
    path = str(into) if into else os.environ.get(CALLS_FILE_ENV)
    if not path:
        return
    record = {
        "service": model.service_model.service_name,
        "operation": model.name,
        "region": region,
        "params": context.get("recorded_params", {}),
        "response": _jsonable(
            {k: v for k, v in (response or {}).items() if k != "ResponseMetadata"}
        ),
        "error": error,
        "origin": context.get("recorded_origin", ""),
        "run": os.environ.get(RUN_ID_ENV, ""),
    }
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    with _write_lock:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)


def _region(context: dict[str, Any], fallback: str) -> str:
    return str(context.get("client_region") or fallback or "")


def _register(
    events: Any, region: str = "", origins: tuple[str, ...] = (), appender: Any = None
) -> None:
    """Record the calls of clients using ``events``; with ``origins``, only the calls
    made from those modules (boto3's default session serves the sandbox's plain clients
    as well as chaostoolkit-aws's)."""

    write = appender or _append

    def wanted(context: dict[str, Any]) -> bool:
        return not origins or str(context.get("recorded_origin", "")).startswith(origins)

    def after_call(model: Any, parsed: Any, context: dict[str, Any], **_: Any) -> None:
        if not wanted(context):
            return
        code = str((parsed or {}).get("Error", {}).get("Code", "")) if parsed else ""
        write(_region(context, region), model, context, parsed if not code else {}, code)

    def after_error(model: Any, exception: Exception, context: dict[str, Any], **_: Any) -> None:
        if wanted(context):
            write(_region(context, region), model, context, {}, type(exception).__name__)

    events.register("before-parameter-build.*.*", _keep_params)
    events.register("after-call.*.*", after_call)
    events.register("after-call-error.*.*", after_error)


_hooked_sessions: set[int] = set()


def _hook_default_session() -> None:
    """chaostoolkit-aws's clients come from boto3's default session (made by its
    ``aws_client`` with ``boto3.setup_default_session``): record the clients it makes
    from now on, including from a default session set up later."""
    import boto3

    if not getattr(boto3.setup_default_session, "_records_calls", False):
        original = boto3.setup_default_session

        def setup_default_session(**kwargs: Any) -> None:
            original(**kwargs)
            _hook_default_session()

        setup_default_session._records_calls = True  # type: ignore[attr-defined]
        boto3.setup_default_session = setup_default_session
    session = boto3.DEFAULT_SESSION
    if session is not None and id(session) not in _hooked_sessions:
        _hooked_sessions.add(id(session))
        _register(session.events, origins=CHAOSTOOLKIT_AWS)


def install_into(client: Any, path: Path) -> None:
    """Record every call of ``client`` into ``path`` (a client of this process that our
    factory did not make: the sandbox's FIS emulation acting with the experiment role)."""

    def append(region: str, model: Any, context: dict[str, Any], response: Any, error: str) -> None:
        _append(region, model, context, response, error, path)

    _register(client.meta.events, client.meta.region_name or "", appender=append)


def install(client: Any) -> None:
    """Record every call of ``client`` (the ``GAMEDAY_AWS_CLIENT_HOOK`` entry point)."""
    _register(client.meta.events, client.meta.region_name or "")
    _hook_default_session()


def load_calls(path: Path) -> list[Call]:
    """The calls recorded in ``path`` (none when nothing was recorded)."""
    if not path.exists():
        return []
    return [Call(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
