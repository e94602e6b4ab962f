"""WAFv2 web ACL evaluation over moto's models (pure functions, no I/O).

Supported, as AWS WAF evaluates them: rules in ascending ``Priority``; the first rule
whose statement matches and whose action is ``Block`` or ``Allow`` ends the evaluation;
``Count`` records the match and goes on; nothing terminating -> the web ACL's
``DefaultAction``. A ``Block`` answers 403 unless its ``CustomResponse`` names another
code.

Statements: ``ByteMatchStatement`` (``FieldToMatch`` ``UriPath``, ``QueryString``,
``Method``, ``SingleHeader``; ``PositionalConstraint`` ``EXACTLY``, ``STARTS_WITH``,
``ENDS_WITH``, ``CONTAINS``, ``CONTAINS_WORD``; text transformations ``NONE``,
``LOWERCASE``, ``URL_DECODE``, ``COMPRESS_WHITE_SPACE``), ``AndStatement``,
``OrStatement``, ``NotStatement``, ``IPSetReferenceStatement`` (the request's source IP
in the IP set's addresses; ``IPSetForwardedIPConfig`` is not evaluated). Any other
statement never matches (logged once).

``SearchString`` is a blob: over the wire (boto3 -> moto) it arrives base64-encoded and
moto stores that text, so a ``str`` is base64-decoded; ``bytes`` are used as they are.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = [
    "HttpRequest",
    "WafVerdict",
    "evaluate_web_acl",
    "web_acl_for_resource",
    "ip_sets_of",
]

log = logging.getLogger(__name__)
_warned: set[str] = set()


@dataclass(frozen=True)
class HttpRequest:
    """What WAF inspects of one request."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    source_ip: str = "0.0.0.0"


@dataclass(frozen=True)
class WafVerdict:
    """The outcome: ``action`` is ``"allow"`` or ``"block"``; ``rule`` the terminating
    rule's name (None for the default action); ``counted`` the Count rules that matched."""

    action: str
    status: int = 200
    rule: str | None = None
    counted: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.action == "block"


def web_acl_for_resource(wafv2_backend: Any, resource_arn: str) -> Any | None:
    """The moto ``FakeWebACL`` associated with ``resource_arn``, if any."""
    for web_acl in list(wafv2_backend.wacls.values()):
        if resource_arn in list(getattr(web_acl, "associated_resources", [])):
            return web_acl
    return None


def ip_sets_of(wafv2_backend: Any) -> dict[str, list[str]]:
    """{IP set ARN: addresses (CIDRs)} of a moto wafv2 backend."""
    return {
        arn: list(getattr(ip_set, "addresses", []) or [])
        for arn, ip_set in list(getattr(wafv2_backend, "ip_sets", {}).items())
    }


def _in_ip_set(addresses: Sequence[str], source_ip: str) -> bool:
    source = ipaddress.ip_address(source_ip)
    for cidr in addresses:
        network = ipaddress.ip_network(str(cidr), strict=False)
        if network.version == source.version and source in network:
            return True
    return False


def _search_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _field_bytes(field_to_match: Mapping[str, Any], request: HttpRequest) -> bytes | None:
    if "UriPath" in field_to_match:
        return request.path.encode()
    if "QueryString" in field_to_match:
        return request.query.encode()
    if "Method" in field_to_match:
        return request.method.encode()
    if "SingleHeader" in field_to_match:
        name = str(field_to_match["SingleHeader"].get("Name", "")).lower()
        for key, value in request.headers.items():
            if key.lower() == name:
                return value.encode()
        return None
    _warn_once(f"FieldToMatch {sorted(field_to_match)}")
    return None


def _transform(data: bytes, transformations: list[Mapping[str, Any]]) -> bytes:
    for step in sorted(transformations, key=lambda t: int(t.get("Priority", 0))):
        kind = step.get("Type", "NONE")
        if kind == "LOWERCASE":
            data = data.lower()
        elif kind == "URL_DECODE":
            data = unquote_to_bytes(data)
        elif kind == "COMPRESS_WHITE_SPACE":
            data = re.sub(rb"\s+", b" ", data)
        elif kind != "NONE":
            _warn_once(f"TextTransformation {kind}")
    return data


def _byte_match(statement: Mapping[str, Any], request: HttpRequest) -> bool:
    data = _field_bytes(statement.get("FieldToMatch", {}), request)
    if data is None:
        return False
    transformations = list(statement.get("TextTransformations", []))
    data = _transform(data, transformations)
    needle = _transform(_search_bytes(statement.get("SearchString", b"")), transformations)
    constraint = statement.get("PositionalConstraint", "CONTAINS")
    if constraint == "EXACTLY":
        return data == needle
    if constraint == "STARTS_WITH":
        return data.startswith(needle)
    if constraint == "ENDS_WITH":
        return data.endswith(needle)
    if constraint == "CONTAINS":
        return needle in data
    if constraint == "CONTAINS_WORD":
        return re.search(rb"(^|\W)" + re.escape(needle) + rb"($|\W)", data) is not None
    _warn_once(f"PositionalConstraint {constraint}")
    return False


def _matches(
    statement: Mapping[str, Any], request: HttpRequest, ip_sets: Mapping[str, Sequence[str]]
) -> bool:
    if "ByteMatchStatement" in statement:
        return _byte_match(statement["ByteMatchStatement"], request)
    if "AndStatement" in statement:
        nested = statement["AndStatement"]["Statements"]
        return all(_matches(s, request, ip_sets) for s in nested)
    if "OrStatement" in statement:
        nested = statement["OrStatement"]["Statements"]
        return any(_matches(s, request, ip_sets) for s in nested)
    if "NotStatement" in statement:
        return not _matches(statement["NotStatement"]["Statement"], request, ip_sets)
    if "IPSetReferenceStatement" in statement:
        arn = str(statement["IPSetReferenceStatement"].get("ARN", ""))
        if arn not in ip_sets:
            _warn_once(f"IP set {arn} (unknown)")
            return False
        return _in_ip_set(ip_sets[arn], request.source_ip)
    _warn_once(f"statement {sorted(statement)}")
    return False


def _warn_once(what: str) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning("WAF emulation does not evaluate %s; treated as no match", what)


def _block_status(block: Mapping[str, Any] | None) -> int:
    custom = (block or {}).get("CustomResponse") or {}
    return int(custom.get("ResponseCode", 403))


def _rule_fields(rule: Any) -> tuple[str, int, Mapping[str, Any], Mapping[str, Any]]:
    if isinstance(rule, Mapping):
        return (
            rule.get("Name", ""),
            int(rule.get("Priority", 0)),
            rule.get("Statement", {}),
            rule.get("Action") or {},
        )
    return rule.name, int(rule.priority), rule.statement or {}, rule.action or {}


def evaluate_web_acl(
    web_acl: Any | None,
    request: HttpRequest,
    ip_sets: Mapping[str, Sequence[str]] | None = None,
) -> WafVerdict:
    """Evaluate a moto ``FakeWebACL`` (or None: no web ACL, allow) for ``request``;
    ``ip_sets``: {IP set ARN: CIDRs} for ``IPSetReferenceStatement`` (:func:`ip_sets_of`)."""
    ip_sets = ip_sets or {}
    if web_acl is None:
        return WafVerdict("allow")
    counted: list[str] = []
    rules = sorted((_rule_fields(r) for r in list(web_acl.rules)), key=lambda r: r[1])
    for name, _priority, statement, action in rules:
        if not _matches(statement, request, ip_sets):
            continue
        if "Block" in action:
            return WafVerdict("block", _block_status(action["Block"]), name, tuple(counted))
        if "Allow" in action:
            return WafVerdict("allow", 200, name, tuple(counted))
        counted.append(name)  # Count, Captcha, Challenge: recorded, evaluation goes on
    default = web_acl.default_action or {"Allow": {}}
    if "Block" in default:
        return WafVerdict("block", _block_status(default["Block"]), None, tuple(counted))
    return WafVerdict("allow", 200, None, tuple(counted))
