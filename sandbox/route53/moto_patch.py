"""An honest GetHealthCheckStatus for moto (which always answers "Success").

One patch per process, shared by every installed set of checkers (one per moto
account): the response lists each checker region's latest observation, as AWS does.
The checkers register here (:func:`register`); an account without checkers gets moto's
answer.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from sandbox.route53.health import Observation
from sandbox.timing import HEALTH_CHECKER_REGIONS

__all__ = ["register", "unregister"]

DEFAULT_ACCOUNT_ID = "123456789012"
# The addresses AWS checkers come from are public; these are documentation addresses.
_CHECKER_IPS = {region: f"192.0.2.{10 + i}" for i, region in enumerate(HEALTH_CHECKER_REGIONS)}


class Checkers(Protocol):
    account_id: str

    def observations(self, health_check_id: str) -> list[Observation]: ...


_registry: dict[str, Checkers] = {}
_registry_lock = threading.Lock()
_original: Any = None


def register(checkers: Checkers) -> None:
    global _original
    from moto.route53.responses import Route53

    with _registry_lock:
        if checkers.account_id in _registry and _registry[checkers.account_id] is not checkers:
            raise RuntimeError(
                f"moto account {checkers.account_id} already has health checkers installed"
            )
        _registry[checkers.account_id] = checkers
        if _original is None:
            _original = Route53.get_health_check_status
            Route53.get_health_check_status = _patched_get_health_check_status


def unregister(checkers: Checkers) -> None:
    global _original
    from moto.route53.responses import Route53

    with _registry_lock:
        if _registry.get(checkers.account_id) is checkers:
            del _registry[checkers.account_id]
        if not _registry and _original is not None:
            Route53.get_health_check_status = _original
            _original = None


def _patched_get_health_check_status(self: Any) -> Any:
    from moto.core.responses import ActionResult

    with _registry_lock:
        checkers = _registry.get(getattr(self, "current_account", DEFAULT_ACCOUNT_ID))
        original = _original
    health_check_id = self._get_param("HealthCheckId")
    if checkers is None:
        return original(self)
    self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck, as before
    observations = checkers.observations(health_check_id)
    return ActionResult(
        {
            "HealthCheckObservations": [
                {
                    "Region": o.region,
                    "IPAddress": _CHECKER_IPS.get(o.region, "192.0.2.1"),
                    "StatusReport": {"Status": o.status, "CheckedTime": o.checked_at},
                }
                for o in observations
            ]
        }
    )
