"""Pure evaluation of WAF web ACLs and listener rules (no moto, no sockets)."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from sandbox.elbv2.listener_rules import (
    RequestFacts,
    forward_target_groups,
    route_request,
    wildcard_match,
)
from sandbox.wafv2.web_acl import HttpRequest, evaluate_web_acl


def _byte_rule(name: str, priority: int, search: str, constraint: str, action: str) -> dict:
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {
            "ByteMatchStatement": {
                # as moto stores it after the wire: base64 text
                "SearchString": base64.b64encode(search.encode()).decode(),
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                "PositionalConstraint": constraint,
            }
        },
        "Action": {action: {}},
    }


def _acl(rules: list[dict], default: str = "Allow") -> SimpleNamespace:
    return SimpleNamespace(rules=rules, default_action={default: {}})


@pytest.mark.parametrize(
    ("constraint", "search", "path", "blocked"),
    [
        ("EXACTLY", "/health", "/health", True),
        ("EXACTLY", "/health", "/health/x", False),
        ("STARTS_WITH", "/api", "/api/tickets", True),
        ("STARTS_WITH", "/api", "/v2/api", False),
        ("ENDS_WITH", ".php", "/index.PHP", True),  # LOWERCASE transformation
        ("CONTAINS", "admin", "/x/admin/y", True),
        ("CONTAINS", "admin", "/x/y", False),
        ("CONTAINS_WORD", "admin", "/x/admin/y", True),
        ("CONTAINS_WORD", "admin", "/x/administrator", False),
    ],
)
def test_byte_match_positional_constraints(
    constraint: str, search: str, path: str, blocked: bool
) -> None:
    acl = _acl([_byte_rule("r", 1, search, constraint, "Block")])
    assert evaluate_web_acl(acl, HttpRequest("GET", path)).blocked is blocked


def test_priority_order_count_and_default_action() -> None:
    rules = [
        _byte_rule("block-all-api", 20, "/api", "STARTS_WITH", "Block"),
        _byte_rule("allow-tickets", 10, "/api/tickets", "EXACTLY", "Allow"),
        _byte_rule("count-api", 5, "/api", "STARTS_WITH", "Count"),
    ]
    allowed = evaluate_web_acl(_acl(rules), HttpRequest("GET", "/api/tickets"))
    assert (allowed.action, allowed.rule, allowed.counted) == (
        "allow",
        "allow-tickets",
        ("count-api",),
    )
    blocked = evaluate_web_acl(_acl(rules), HttpRequest("GET", "/api/other"))
    assert (blocked.action, blocked.status, blocked.rule) == ("block", 403, "block-all-api")
    default_block = evaluate_web_acl(_acl(rules, default="Block"), HttpRequest("GET", "/"))
    assert default_block.blocked and default_block.rule is None
    assert not evaluate_web_acl(None, HttpRequest("GET", "/")).blocked


def test_custom_block_code_raw_bytes_and_not_statement() -> None:
    rule = {
        "Name": "only-health",
        "Priority": 0,
        "Statement": {
            "NotStatement": {
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/health",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "EXACTLY",
                    }
                }
            }
        },
        "Action": {"Block": {"CustomResponse": {"ResponseCode": 429}}},
    }
    acl = _acl([rule])
    assert evaluate_web_acl(acl, HttpRequest("GET", "/health")).action == "allow"
    assert evaluate_web_acl(acl, HttpRequest("GET", "/api")).status == 429


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("/health", "/health", True),
        ("/health", "/healthz", False),
        ("/api/*", "/api/tickets/1", True),
        ("/api/*", "/api", False),
        ("/t?ckets", "/tickets", True),
        ("/t?ckets", "/tckets", False),
        ("*.css", "/a/b.css", True),
    ],
)
def test_wildcards(pattern: str, value: str, matches: bool) -> None:
    assert wildcard_match(pattern, value) is matches


def _rule(priority: int | str, conditions: list[dict], action: dict) -> SimpleNamespace:
    return SimpleNamespace(
        arn=f"rule-{priority}",
        priority=priority,
        conditions=conditions,
        actions=[SimpleNamespace(data=action)],
        is_default=priority == "default",
    )


def test_rules_in_priority_order_all_conditions_then_default() -> None:
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
    forward_b = {"Type": "forward", "TargetGroupArn": "tg-b"}
    default = {"Type": "forward", "TargetGroupArn": "tg-a"}
    rules = {
        "r20": _rule(20, [{"Field": "path-pattern", "Values": ["/api/*"]}], forward_b),
        "r10": _rule(
            10,
            [
                {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
                {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}},
            ],
            fixed,
        ),
        "default": _rule("default", [], default),
    }
    listener = SimpleNamespace(
        arn="l", rules=rules, default_actions=[SimpleNamespace(data=default)]
    )

    def route(path: str, host: str = "tickets.test") -> str:
        action = route_request(listener, RequestFacts("GET", path, host)).action
        return action.get("TargetGroupArn") or action["FixedResponseConfig"]["StatusCode"]

    assert route("/api/x", "ADMIN.tickets.test:8080") == "503"
    assert route("/api/x") == "tg-b"
    assert route("/health") == "tg-a"


def test_forward_target_groups_both_shapes() -> None:
    assert forward_target_groups({"Type": "forward", "TargetGroupArn": "a"}) == [("a", 1)]
    config = {"TargetGroups": [{"TargetGroupArn": "a", "Weight": 3}, {"TargetGroupArn": "b"}]}
    assert forward_target_groups({"Type": "forward", "ForwardConfig": config}) == [
        ("a", 3),
        ("b", 1),
    ]


def test_the_sandbox_imports_nothing_of_ours() -> None:
    """The sandbox is "AWS": it must not import the extension, probes, reports or CLI."""
    import ast
    from pathlib import Path

    import sandbox

    forbidden = {"chaosaws_ext", "probes", "reports", "gameday", "tests"}
    for source in Path(sandbox.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{source.name} imports {name}"


def test_ip_set_reference_matches_the_source_address() -> None:
    rule = {
        "Name": "allow-office",
        "Priority": 0,
        "Statement": {"IPSetReferenceStatement": {"ARN": "arn:ipset/office"}},
        "Action": {"Allow": {}},
    }
    acl = _acl([rule], default="Block")
    sets = {"arn:ipset/office": ["198.51.100.0/24", "2001:db8::/32"]}
    assert evaluate_web_acl(acl, HttpRequest("GET", "/", source_ip="198.51.100.9"), sets).rule
    assert evaluate_web_acl(acl, HttpRequest("GET", "/", source_ip="2001:db8::1"), sets).rule
    assert evaluate_web_acl(acl, HttpRequest("GET", "/", source_ip="203.0.113.1"), sets).blocked
    assert evaluate_web_acl(acl, HttpRequest("GET", "/", source_ip="198.51.100.9")).blocked
