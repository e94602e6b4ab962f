"""Chaos Toolkit control: push the run's gauges to a Pushgateway when the experiment ends.

Declare it in the experiment (or with ``chaos run --control-file``)::

    controls:
      - name: prometheus
        provider:
          type: python
          module: reports.prometheus_control
          arguments:
            pushgateway_url: http://pushgateway:9091   # or GAMEDAY_PUSHGATEWAY_URL
            textfile: /var/lib/node_exporter/gameday.prom  # optional

The experiment-level after-control runs after the rollbacks, with ``state`` the live
journal. chaoslib 1.44 applies top-level controls in declaration order (before and after
alike), so declare this control AFTER the measurement control that writes ``recovery``.
Failures are logged, never raised: a metrics outage must not change the run's outcome.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from chaosaws_ext.core.redaction import run_secret_values
from reports.journal import Journal
from reports.metrics import DEFAULT_JOB, push_metrics, write_textfile

__all__ = ["after_experiment_control"]

logger = logging.getLogger(__name__)


def after_experiment_control(
    context: dict[str, Any],
    state: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **arguments: Any,
) -> None:
    """Push (and/or write) the gauges of the journal ``state`` at the end of the run."""
    configuration = configuration or {}
    url = (
        arguments.get("pushgateway_url")
        or configuration.get("gameday_pushgateway_url")
        or os.environ.get("GAMEDAY_PUSHGATEWAY_URL")
    )
    textfile = arguments.get("textfile") or configuration.get("gameday_metrics_textfile")
    if not isinstance(state, dict):
        logger.warning("prometheus control: no journal state, nothing to push")
        return
    data = dict(state)
    if not isinstance(data.get("experiment"), dict):
        data["experiment"] = context if isinstance(context, dict) else {}
    journal = Journal(source="live run", data=data)
    # the run's resolved secrets, credential-named configuration, DSN passwords
    resolved = run_secret_values(configuration, secrets)
    if url:
        try:
            push_metrics(
                [journal],
                str(url),
                job=str(arguments.get("job") or DEFAULT_JOB),
                timeout=float(arguments.get("timeout", 10.0)),
                extra_secret_values=resolved,
            )
        except Exception as error:  # noqa: BLE001 - a metrics outage must not fail the run
            logger.warning("prometheus control: push to %s failed: %s", url, error)
    if textfile:
        try:
            write_textfile([journal], str(textfile), extra_secret_values=resolved)
        except Exception as error:  # noqa: BLE001
            logger.warning("prometheus control: writing %s failed: %s", textfile, error)
    if not url and not textfile:
        logger.warning(
            "prometheus control: no pushgateway_url/textfile argument and no "
            "GAMEDAY_PUSHGATEWAY_URL: nothing pushed"
        )
