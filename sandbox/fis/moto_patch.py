"""FIS experiments executed, added to moto (which stores them and executes nothing).

:class:`FisEmulator` patches moto's FIS backend of THIS process so that StartExperiment
hands the experiment to an :class:`~sandbox.fis.executor.ExperimentRun` (one thread per
experiment, at most ``max_running`` at once), GetExperiment and ListExperiments answer
the run's real states, action start and end times, StopExperiment stops it (reverting
what runs), and ListExperimentResolvedTargets lists what the run resolved. ``stop()``
stops every run (each reverts its actions) before restoring moto's methods.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from typing import Any

from moto.fis.exceptions import FISException
from moto.fis.models import Experiment, FISBackend, ResolvedTarget

from sandbox.fis.executor import ExperimentRun, ExperimentSpec
from sandbox.fis.stop_conditions import STOP_CONDITION_POLL_S
from sandbox.fis.targets import ClientFactory
from sandbox.lifecycle import Lifecycle
from sandbox.moto_patching import patch, restore
from sandbox.timing import Timings

__all__ = ["FisEmulator", "MAX_RUNNING_EXPERIMENTS"]

log = logging.getLogger(__name__)

# FIS limits the experiments running at once per account and Region ("AWS Fault Injection
# Service endpoints and quotas", https://docs.aws.amazon.com/general/latest/gr/fis.html);
# 5 is the figure assumed here (not checked against the page), a parameter.
MAX_RUNNING_EXPERIMENTS = 5
_STOP_JOIN_S = 30.0
_active: FisEmulator | None = None
_active_lock = threading.Lock()


class ServiceQuotaExceeded(FISException):
    code = 402

    def __init__(self, message: str) -> None:
        super().__init__("ServiceQuotaExceededException", message)


class FisEmulator(Lifecycle):
    """``client(service, region)``: a boto3 client of the sandbox's moto endpoint.
    ``seed``: the random choice of COUNT(n)/PERCENT(n) (None: unseeded)."""

    def __init__(
        self,
        client: ClientFactory,
        timings: Timings | None = None,
        *,
        seed: int | None = None,
        stop_condition_poll_s: float = STOP_CONDITION_POLL_S,
        max_running: int = MAX_RUNNING_EXPERIMENTS,
    ) -> None:
        self._make_client = client
        self._clients: dict[tuple[str, str], Any] = {}
        self.timings = timings or Timings()
        self._rng = random.Random(seed)
        self._poll_s = self.timings.scaled(stop_condition_poll_s)
        self._max_running = max_running
        self._originals: dict[tuple[type, str], Any] = {}
        self._lock = threading.Lock()
        self.runs: dict[str, ExperimentRun] = {}

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        global _active
        with _active_lock:
            if _active is self:
                return None
            if _active is not None:
                raise RuntimeError("another FisEmulator is installed in this process")
            _active = self
        patch(self._originals, FISBackend, "start_experiment", self._wrap_start)
        patch(self._originals, FISBackend, "stop_experiment", self._wrap_stop)
        patch(self._originals, FISBackend, "get_experiment", self._wrap_get)
        for name in ("to_dict", "to_summary_dict"):
            patch(self._originals, Experiment, name, self._wrap_render)
        patch(self._originals, Experiment, "resolved_targets", self._wrap_resolved)
        return None

    def stop(self) -> None:
        global _active
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.request_stop("Experiment stopped: the sandbox stopped.")
        for run in runs:
            if not run.join(_STOP_JOIN_S):
                log.warning("FIS experiment %s did not stop in time", run.spec.experiment_id)
        restore(self._originals)
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            self.runs.clear()
        for made in clients:
            with contextlib.suppress(Exception):
                made.close()
        with _active_lock:
            if _active is self:
                _active = None

    def _client(self, service: str, region: str) -> Any:
        """One client per (service, region), shared by the runs (boto3 clients are
        thread-safe), closed by ``stop()``."""
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._make_client(service, region)
            return self._clients[key]

    # -- the patches -------------------------------------------------------------------
    def _run_of(self, experiment_id: str) -> ExperimentRun | None:
        with self._lock:
            return self.runs.get(experiment_id)

    def _wrap_start(self, original: Any) -> Any:
        emulator = self

        def start_experiment(backend: FISBackend, *args: Any, **kwargs: Any) -> Any:
            with emulator._lock:
                running = sum(
                    1
                    for r in emulator.runs.values()
                    if not r.finished and r.spec.region == backend.region_name
                )
            if running >= emulator._max_running:
                raise ServiceQuotaExceeded(
                    f"{running} experiments are running in {backend.region_name}: "
                    f"the quota is {emulator._max_running}"
                )
            result = original(backend, *args, **kwargs)
            experiment = backend.experiments[result["id"]]
            if emulator._run_of(experiment.id) is None:  # a repeated clientToken: same run
                emulator._launch(experiment)
            return experiment.to_dict(tags=backend.tagger.get_tag_dict_for_resource(experiment.arn))

        return start_experiment

    def _launch(self, experiment: Experiment) -> None:
        spec = ExperimentSpec(
            experiment_id=experiment.id,
            region=experiment.region_name,
            account=experiment.account_id,
            actions=experiment.actions,
            targets=experiment.targets,
            stop_conditions=experiment.stop_conditions,
            empty_target_mode=str(
                (experiment.experiment_options or {}).get("emptyTargetResolutionMode", "fail")
            ),
        )
        run = ExperimentRun(
            spec, client=self._client, timings=self.timings, rng=self._rng, poll_s=self._poll_s
        )
        with self._lock:
            self.runs[experiment.id] = run
        run.start()

    def _wrap_stop(self, original: Any) -> Any:
        emulator = self

        def stop_experiment(backend: FISBackend, id: str) -> Any:  # noqa: A002 - moto's name
            run = emulator._run_of(id)
            if run is None:
                return original(backend, id)
            run.request_stop()
            experiment = backend.experiments[id]
            return experiment.to_dict(tags=backend.tagger.get_tag_dict_for_resource(experiment.arn))

        return stop_experiment

    def _wrap_get(self, original: Any) -> Any:
        emulator = self

        def get_experiment(backend: FISBackend, id: str) -> Any:  # noqa: A002 - moto's name
            if id not in backend.experiments or emulator._run_of(id) is None:
                return original(backend, id)  # moto's own (advances its state machine)
            experiment = backend.experiments[id]
            tags = backend.tagger.get_tag_dict_for_resource(experiment.arn)
            return experiment.to_dict(tags=tags)

        return get_experiment

    def _wrap_render(self, original: Any) -> Any:
        emulator = self

        def render(experiment: Experiment, tags: Any = None) -> dict[str, Any]:
            result: dict[str, Any] = original(experiment, tags)
            run = emulator._run_of(experiment.id)
            if run is None:
                return result
            state, actions, end_time = run.snapshot()
            result["state"] = state
            if "actions" in result:
                rendered = {}
                for name, action in (result.get("actions") or {}).items():
                    rendered[name] = {
                        **{k: v for k, v in action.items() if k not in ("startTime", "endTime")},
                        **actions.get(name, {}),
                    }
                result["actions"] = rendered
            if end_time is not None and "startTime" in result:
                result["endTime"] = end_time
            else:
                result.pop("endTime", None)
            return result

        return render

    def _wrap_resolved(self, original: Any) -> Any:
        emulator = self

        def resolved_targets(experiment: Experiment) -> list[ResolvedTarget]:
            run = emulator._run_of(experiment.id)
            if run is None:
                return list(original(experiment))
            return [
                ResolvedTarget(
                    resource_type=str(experiment.targets[name].get("resourceType", "")),
                    target_name=name,
                    resource_arn=resource.arn,
                )
                for name, resources in sorted(run.resolved.items())
                for resource in resources
            ]

        return resolved_targets
