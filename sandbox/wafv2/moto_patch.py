"""moto as strict as AWS for WAFv2 (the model lives in :mod:`sandbox.wafv2.capacity`).

While installed, ``CreateWebACL``/``UpdateWebACL`` whose rules cost more than
``waf_web_acl_capacity`` WCU -> ``WAFLimitsExceededException``; ``CheckCapacity``
(absent from moto) answers the WCU of the rules by the same model. A switch set to None
leaves moto's leniency. The switches are a :class:`sandbox.strictness.Strictness`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.moto_patching import before, patch, restore
from sandbox.wafv2.capacity import rules_capacity

if TYPE_CHECKING:
    from sandbox.strictness import Strictness

__all__ = ["active", "install", "installed", "uninstall"]

_lock = threading.Lock()
_active: Strictness | None = None
_originals: dict[tuple[type, str], Any] = {}


def active() -> Strictness | None:
    return _active


def installed() -> bool:
    return bool(_originals)


def _waf_error(code: str, message: str) -> Exception:
    from moto.wafv2.exceptions import WAFv2ClientError

    return WAFv2ClientError(code, message)


def _rule_group_capacity(response: Any) -> Callable[[str], int]:
    groups = getattr(response.wafv2_backend, "rule_groups", {})

    def capacity(arn: str) -> int:
        group = groups.get(arn)
        return int(getattr(group, "capacity", 0) or 0)

    return capacity


def _check_capacity(response: Any) -> None:
    strict = _active
    if strict is None or strict.waf_web_acl_capacity is None:
        return
    rules = json.loads(response.body or "{}").get("Rules") or []
    used = rules_capacity(rules, _rule_group_capacity(response))
    if used > strict.waf_web_acl_capacity:
        raise _waf_error(
            "WAFLimitsExceededException",
            f"AWS WAF couldn't perform the operation because you exceeded your resource "
            f"limit: the rules need {used} WCU, the web ACL capacity is "
            f"{strict.waf_web_acl_capacity}",
        )


def _check_capacity_action(self: Any) -> Any:
    """CheckCapacity: the WCU of ``Rules`` by the sandbox's model."""
    rules = json.loads(self.body or "{}").get("Rules") or []
    used = rules_capacity(rules, _rule_group_capacity(self))
    return 200, {"Content-Type": "application/json"}, json.dumps({"Capacity": used})


def install(strictness: Strictness) -> None:
    """Apply ``strictness`` to moto's WAFv2 in this process (again: new switches)."""
    global _active
    from moto.wafv2.responses import WAFV2Response

    with _lock:
        _active = strictness
        for name in ("create_web_acl", "update_web_acl"):
            patch(_originals, WAFV2Response, name, lambda o: before(o, _check_capacity))
        patch(_originals, WAFV2Response, "check_capacity", lambda _o: _check_capacity_action)


def uninstall() -> None:
    global _active
    with _lock:
        _active = None
        restore(_originals)
