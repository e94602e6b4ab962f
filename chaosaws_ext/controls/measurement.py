"""The measurement control: samplers and write markers around the method, then the
journal's top-level ``recovery`` block (RTO/RPO against the DR plan's targets).

Declare it at the top of the experiment (after the safety control)::

    controls:
      - name: measurement
        provider:
          type: python
          module: chaosaws_ext.controls.measurement
          arguments:
            service: rds-analytics          # a service of targets.yaml (required)
            targets_file: null              # else configuration targets_file, env
                                            # GAMEDAY_TARGETS_FILE, ./experiments/targets.yaml,
                                            # the project's experiments/targets.yaml
            frequency_hz: 4                 # or interval_s: 0.25 (at most 50 Hz)
            timeout_s: null                 # per sample; default 0.8 x interval
            consecutive: 3                  # K successes that make a recovery
            recovery_window_s: 0            # and no failure this long after the first
                                            # (a partial outage: see probes.recovery)
            max_in_flight: 4                # checks per sampler still running; more = overrun
            fault: null                     # only this fault's stamp_injected() is t0
            series_limit: 2400              # rows of availability.series at most
            services:                       # a scenario: other services' rule and
              rds-analytics: {recovery_window_s: 0, timeout_s: 1}   # sample timeout
            samplers:                       # at least one; judge: false = observed only
                                            # service: another targets.yaml service this
                                            # sampler measures (default: the control's)
              - {name: api, kind: http, url: "https://...", expect_status: [200],
                 expect_body: "ok", verify_tls: true, headers: {},
                 requests_per_sample: 1}    # N > 1: a round of N requests per sample
              - {name: dns, kind: http_dns, url: "https://api.example.com/x",
                 nameserver: "10.0.0.2:53"}  # "" = system resolvers; answer kept for its TTL
              - {name: tcp, kind: tcp, host: 10.0.0.5, port: 5432}
              - {name: db, kind: postgres, dsn: "${db_dsn}", query: "SELECT 1"}
              - {name: ddb, kind: dynamodb, table: t, region: eu-west-1,
                 key: {pk: "x"}, operation: get}   # key omitted = from the key schema
              - {name: kb, kind: s3, bucket: b, region: eu-south-1}  # HeadBucket
            markers:                        # optional: RPO (and DynamoDB replication lag);
                                            # a list of blocks, one per service (service:)
              kind: postgres                # postgres: dsn, read_dsn (a replica), table
              dsn: "${db_dsn}"              #   (gameday_markers, created if missing)
              interval_s: 0.2               # dynamodb: table, region, read_region,
              timeout_s: null               #   replica_region (lag poller), lag_interval_s
              cleanup: true                 #   (0.1), lag_grace_s (5)
                                            # ticket-api: url (POST, 2xx = acknowledged),
                                            #   nameserver (ip[:port]: the url's host
                                            #   resolved there, writes spread over its
                                            #   addresses), table, region (read back
                                            #   there), read_url (read back through the
                                            #   API instead), read_region (read back
                                            #   there), replica_region (cleaned there
                                            #   too): probes.ticket_markers
                                            # s3: bucket, region, replica_region,
                                            #   replica_bucket (default: the destination
                                            #   of its first enabled rule); failover:
                                            #   end-of-pause (s3's default) or none,
                                            #   failover_at_s (s after t0): the failover
                                            #   RPO and catch-up (recovery.replication)

Life cycle: arguments are checked before the experiment (a bad one interrupts the run
with one line naming the key); samplers and writer start before the method; t0 is the
first ``chaosaws_ext.mutation.stamp_injected`` after that (fallback: the end of the
method's first action, reported as ``fault.t0_source: method-action``); sampling stops
after the method (the markers are read back then, so the after-hypothesis verdicts see
the RPO); after the experiment (after the rollbacks) the ``recovery`` block is written
into the journal and our markers are deleted. Chaos Toolkit swallows exceptions raised
by controls, so every failure here is logged at ERROR and the block is still written,
with ``errors``. Faults report phases with ``probes.phases.mark_phase(name)``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import region_of
from chaosaws_ext.core.redaction import (
    install_log_redaction,
    restore_dsn_password,
    run_secret_values,
    strip_dsn_password,
)
from chaosaws_ext.core.timeline import clear_phases
from chaosaws_ext.faults import MARKERS_DECLARATION
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import journaled
from chaosaws_ext.runcontext import current_run, expiry_after
from chaosaws_ext.undo import FinderSkipped, report_incomplete
from probes import drills
from probes import session as measurement
from probes.markers import DynamoMarkers, PostgresMarkers
from probes.s3_markers import S3Markers
from probes.samplers import SpecError
from probes.targets import TargetsError

__all__ = [
    "configure_control",
    "before_experiment_control",
    "before_method_control",
    "before_activity_control",
    "after_activity_control",
    "after_method_control",
    "after_experiment_control",
    "cleanup_control",
]

logger = logging.getLogger("chaosaws_ext")

_in_method = False


def _setup(
    arguments: dict[str, Any], configuration: Configuration, secrets: Secrets
) -> measurement.MeasurementSession:
    session = measurement.current()
    if session is not None and session.started_mono is None:
        return session
    try:
        spec = measurement.parse_spec(dict(arguments), configuration)
    except (SpecError, TargetsError) as error:
        message = f"measurement control: {error}"
        logger.error(message)
        raise InterruptExecution(message) from None
    return measurement.install(measurement.MeasurementSession(spec, "", configuration, secrets))


def configure_control(
    configuration: Configuration = None,
    secrets: Secrets = None,
    experiment: Any = None,
    **arguments: Any,
) -> None:
    """Forget any measurement left by a previous run in this process."""
    global _in_method
    _in_method = False
    _action_started.clear()
    measurement.clear()
    drills.clear()
    # the samplers' DSNs and errors are logged: mask the run's secrets in the chaos logs
    install_log_redaction(run_secret_values(configuration, secrets))


def before_experiment_control(
    context: Any, configuration: Configuration = None, secrets: Secrets = None, **arguments: Any
) -> None:
    """Check the arguments and the service's target; interrupt the run when wrong."""
    clear_phases()
    _setup(arguments, configuration, secrets)


def _journal_markers(spec: dict[str, Any] | None, configuration: Configuration) -> None:
    """The write markers are our writes too: ledger them before the first one, so a
    crash (SIGKILL) leaves them to ``gameday recover`` instead of in the table."""
    if not spec:
        return
    run = current_run(configuration)
    args: dict[str, Any] = {"kind": spec["kind"], "run_id": run.run_id}
    if spec["kind"] == "postgres":
        # never the password: the replay finds it again in configuration/secrets/env
        args.update(
            dsn=strip_dsn_password(spec["dsn"]), table=spec.get("table") or "gameday_markers"
        )
        region, resource = "local", f"postgres table {args['table']}"
    elif spec["kind"] == "s3":
        region = region_of(configuration, spec.get("region"))
        args.update(
            bucket=spec["bucket"],
            replica_region=spec.get("replica_region"),
            replica_bucket=spec.get("replica_bucket"),
        )
        resource = f"s3 bucket {spec['bucket']}"
    else:  # dynamodb items, or tickets the API stored there (ticket-api)
        region = region_of(configuration, spec.get("region"))
        args.update(table=spec["table"], replica_region=spec.get("replica_region"))
        resource = f"dynamodb table {spec['table']}"
    journaled(
        fault="measurement-markers",
        region=region,
        resource=resource,
        change=f"write-marker rows/items of run {run.run_id}",
        undoer=MARKERS_UNDOER,
        undo_args=args,
        undo_describe="delete every marker of the run",
        call=lambda: None,
        configuration=configuration,
    )


def _close_markers_entry(
    session: measurement.MeasurementSession, configuration: Configuration
) -> None:
    """The sessions deleted their markers by key: close their ledger entries, so the
    final undo does not scan the tables for them (the scan is only for a crashed run)."""
    writing = [s for s in session.sessions() if s.writer is not None]
    if not writing or any(s.cleaned is None for s in writing):
        return
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    for entry in ledger.unreverted(run_id=run.run_id, fault="measurement-markers"):
        deleted = sum(s.cleaned or 0 for s in writing)
        ledger.mark_reverted(entry.id, {"deleted": deleted, "by": "measurement"})


def delete_markers(
    kind: str,
    run_id: str,
    table: str = "",
    dsn: str | None = None,
    region: str | None = None,
    replica_region: str | None = None,
    bucket: str = "",
    replica_bucket: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **_: Any,
) -> dict[str, Any]:
    """Idempotent undo of the markers of ``run_id`` (used by the ledger replay)."""
    if kind == "postgres":
        full_dsn = restore_dsn_password(str(dsn), configuration, secrets)
        deleted = PostgresMarkers(full_dsn, table).cleanup(run_id, [])
    elif kind == "s3":
        markers = S3Markers(bucket, region, replica_region, replica_bucket, configuration, secrets)
        deleted = markers.cleanup(run_id, [])
    else:  # dynamodb and ticket-api: items of the table, found by their run id
        backend = DynamoMarkers(table, region, None, replica_region, configuration, secrets)
        # configuration may be empty (gameday recover): the region comes from the ledger
        deleted = backend.cleanup_run(run_id)
    return {"deleted": deleted}


MARKERS_FAULT = MARKERS_DECLARATION.id  # "measurement-markers"
MARKERS_UNDOER = MARKERS_DECLARATION.undoer_name("delete-markers")
MARKER_SCAN_PAGES = 20  # x MARKER_SCAN_PAGE_SIZE items evaluated; configuration overrides
MARKER_SCAN_PAGE_SIZE = 500


def _when(written: Any) -> datetime:
    if isinstance(written, datetime):
        return written
    try:
        return datetime.fromisoformat(str(written).replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)  # unreadable: treat as long expired


def _marker_spec(args: dict[str, Any], resource: str, written: Any, configuration: Any) -> dict:
    return {
        "resource": resource,
        "undoer": MARKERS_UNDOER,
        "args": args,
        "describe": f"delete the write markers of run {args['run_id']} ({resource})",
        "expires_at": expiry_after(_when(written), configuration),
    }


# A crashed failover run leaves the database failing over: RDS Multi-AZ failover
# "typically completes within 60-120 seconds" (Amazon RDS User Guide, "Failing over a
# Multi-AZ DB instance"), so the search waits for it to accept connections again.
MARKERS_CONNECT_WAIT_S = 150.0


def _postgres_runs_left(backend: PostgresMarkers, configuration: Any) -> dict[str, Any]:
    """:meth:`PostgresMarkers.runs_left`, retried (bounded) while the database refuses
    connections (``markers_connect_wait_s``, default the failover window above)."""
    import psycopg

    wait = float(configuration.get("markers_connect_wait_s") or MARKERS_CONNECT_WAIT_S)
    deadline = time.monotonic() + wait
    while True:
        try:
            return backend.runs_left()
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _s3_markers_left(
    spec: dict[str, Any], home: str, region: str | None, configuration: Any, secrets: Any
) -> list[dict[str, Any]]:
    """Runs with marker objects left in the source bucket (searched in its region)."""
    bucket = str(spec.get("bucket") or "")
    if not bucket or region != home:
        return []
    replica_region, replica_bucket = spec.get("replica_region"), spec.get("replica_bucket")
    backend = S3Markers(bucket, home, replica_region, replica_bucket, configuration, secrets)
    try:
        runs = backend.runs_left()
    except Exception as error:  # noqa: BLE001 - reported, never "0 found"
        if getattr(error, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
            return []  # no such bucket (a default name this account lacks): no marker in it
        report_incomplete(f"s3 markers bucket {bucket}: {type(error).__name__}")
        return []
    found = []
    for run_id, written in sorted(runs.items()):
        args = {"kind": "s3", "run_id": run_id, "bucket": bucket,
                "replica_region": replica_region, "replica_bucket": replica_bucket}  # fmt: skip
        found.append(_marker_spec(args, f"s3 bucket {bucket}@{home}", written, configuration))
    return found


def find_markers(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Write markers a crashed run left, found without the ledger, in the tables and
    databases the experiments' markers specs name (configuration ``chaos_markers``, set
    by ``gameday recover`` from the experiments). A marker's expiry is its last write +
    max_fault_seconds; PostgreSQL rows are searched once (region ``local``)."""
    specs = (configuration or {}).get("chaos_markers")
    if specs is None:
        raise FinderSkipped(
            "no experiment configuration naming the marker tables and DSNs "
            "(gameday recover --var-file ... --experiment ...)"
        )
    configuration = configuration or {}
    pages = int(configuration.get("orphan_scan_pages") or MARKER_SCAN_PAGES)
    size = int(configuration.get("orphan_scan_page_size") or MARKER_SCAN_PAGE_SIZE)
    found: list[dict[str, Any]] = []
    searched: set[tuple[str, str, str | None]] = set()
    # a table named with its replica region first: its finds carry it (crash cleanup in
    # both regions), whichever experiment's spec naming the table comes first
    for spec in sorted(specs, key=lambda spec: not spec.get("replica_region")):
        table = str(spec.get("table") or "gameday_markers")
        if spec.get("kind") == "postgres":
            if not spec.get("dsn"):
                continue  # configured empty: no markers were written
            if region != (configuration.get("chaos_recovery_regions") or [region])[0]:
                continue  # one database, searched with the first region only
            try:
                runs = _postgres_runs_left(PostgresMarkers(str(spec["dsn"]), table), configuration)
            except Exception as error:  # noqa: BLE001 - reported, never "0 found"
                report_incomplete(f"postgres markers table {table}: {type(error).__name__}")
                continue
            for run_id, written in sorted(runs.items()):
                args = {"kind": "postgres", "run_id": run_id, "dsn": spec["dsn"], "table": table}
                marker = _marker_spec(args, f"postgres table {table}", written, configuration)
                found.append({**marker, "region": "local"})
            continue
        if spec.get("kind") == "ticket-api" and not (spec.get("url") and spec.get("table")):
            continue  # configured empty: no ticket was written
        home = region_of(configuration, spec.get("region"))
        if spec.get("kind") == "s3":
            found.extend(_s3_markers_left(spec, home, region, configuration, secrets))
            continue
        if region not in (home, spec.get("replica_region")):
            continue
        # dynamodb and ticket-api markers (the tickets the API stored) are items of a
        # table: each table searched once per region, whichever experiments name it
        if (table, home, region) in searched:
            continue
        searched.add((table, home, region))
        backend = DynamoMarkers(
            table, home, None, spec.get("replica_region"), configuration, secrets
        )
        try:
            runs, truncated = backend.runs_left(str(region), pages, size)
        except Exception as error:  # noqa: BLE001 - reported, never "0 found"
            report_incomplete(f"dynamodb markers table {table}: {error}")
            continue
        if truncated:
            report_incomplete(
                f"scan of markers table {table} truncated after {pages} page(s) of {size} "
                "items evaluated; raise orphan_scan_pages to search the rest"
            )
        for run_id, written in sorted(runs.items()):
            args = {
                "kind": "dynamodb",  # ticket-api markers too: deleted the same way
                "run_id": run_id,
                "table": table,
                "replica_region": spec.get("replica_region"),
            }
            found.append(
                _marker_spec(args, f"dynamodb table {table}@{home}", written, configuration)
            )
    return found


def before_method_control(
    context: Any, configuration: Configuration = None, secrets: Secrets = None, **arguments: Any
) -> None:
    """Start the samplers and the marker writer."""
    global _in_method
    session = _setup(arguments, configuration, secrets)
    _in_method = True
    try:
        for spec in session.spec.all_specs():
            _journal_markers(spec.markers, configuration)
        session.start()
    except Exception as error:
        session.errors.append(f"could not start sampling: {error}")
        logger.exception("measurement control: could not start sampling")


_action_started: dict[str, tuple[float, int]] = {}  # name -> (monotonic, thread)


def before_activity_control(context: Any, **arguments: Any) -> None:
    """Note when and on which thread a method action starts (a scenario step's span on
    the timeline; background actions overlap, each on its own thread)."""
    if _in_method and isinstance(context, dict) and context.get("type") == "action":
        _action_started[str(context.get("name"))] = (time.monotonic(), threading.get_ident())


def after_activity_control(context: Any, state: Any = None, **arguments: Any) -> None:
    """Remember the end of the method's first action (t0 when no fault stamped one) and
    every action of the method with its output (the scenario's steps)."""
    session = measurement.current()
    if session is None or not _in_method or not isinstance(context, dict):
        return
    if context.get("type") == "action":
        session.note_method_action(context.get("name"))
        name = str(context.get("name"))
        provider = context.get("provider") or {}
        output = state.get("output") if isinstance(state, dict) else None
        started, thread = _action_started.pop(name, (time.monotonic(), threading.get_ident()))
        session.note_activity(
            {
                "action": name,
                "function": f"{provider.get('module')}.{provider.get('func')}",
                "started_mono": started,
                "ended_mono": time.monotonic(),
                "thread": thread,
                "status": state.get("status") if isinstance(state, dict) else None,
                "output": output if isinstance(output, dict) else None,
            }
        )


def after_method_control(context: Any, state: Any = None, **arguments: Any) -> None:
    """Stop sampling and read the markers back, before the after-hypothesis."""
    global _in_method
    _in_method = False
    session = measurement.current()
    if session is None:
        return
    try:
        session.stop()
    except Exception as error:
        session.errors.append(f"stopping the measurement failed: {error}")
        logger.exception("measurement control: stopping failed")


def after_experiment_control(
    context: Any, state: Any = None, configuration: Configuration = None, **arguments: Any
) -> None:
    """Write the ``recovery`` block into the journal (runs after the rollbacks)."""
    session = measurement.current()
    if session is None:
        logger.error("measurement control: no measurement: no recovery block written")
        return
    block: dict[str, Any]
    try:
        session.stop()
        session.cleanup()
        _close_markers_entry(session, configuration)
        block = session.recovery_block()
    except Exception as error:
        logger.exception("measurement control: could not build the recovery block")
        block = {"service": session.spec.service, "errors": [*session.errors, repr(error)]}
    for error in block.get("errors") or []:
        logger.error("measurement control: %s", error)
    if isinstance(state, dict):
        state["recovery"] = block
    rto, rpo = block.get("rto") or {}, block.get("rpo") or {}
    logger.info(
        "recovery of %s: RTO %s s (target %s, met %s), RPO %s s (target %s, met %s)",
        block.get("service"),
        rto.get("measured_s"),
        rto.get("target_s"),
        rto.get("met"),
        rpo.get("measured_s"),
        rpo.get("target_s"),
        rpo.get("met"),
    )


def cleanup_control() -> None:
    """Stop anything still running when Chaos Toolkit unloads the control."""
    session = measurement.current()
    if session is not None:
        session.stop()
