"""The rules we add to block a path, and how to recognise them (ours, or in the way).

Listener rule: ``path-pattern`` = exactly the path -> fixed-response 503, tagged with
``chaos_tags``. WAF rule: ``chaos-<run id>``, ByteMatch EXACTLY on the URI path with no
text transformation, action Block. Priorities: the numerically smallest free one, which
is the one evaluated first among free slots (both ELB and WAF evaluate ascending).
"""

from __future__ import annotations

import re
from typing import Any

from chaosaws_ext.core.identity import (
    LABEL_EXPIRES_AT_PREFIX,
    MANAGED_BY,
    TAG_FAULT,
    TAG_MANAGED,
    TAG_RUN_ID,
    RunContext,
    chaos_tags,
    elb_tag_value,
)
from chaosaws_ext.healthcheck.load_balancers import FAULT, MAX_PAGES, tags_of

__all__ = [
    "WAF_RULE_PREFIX",
    "listener_rule_paths",
    "rule_has_regex",
    "path_pattern_matches",
    "smallest_free_listener_priority",
    "shadowing_rules",
    "listener_rules",
    "our_listener_rules",
    "fixed_response_rule",
    "waf_rule_name",
    "waf_block_rule",
    "waf_rule_expiry",
    "waf_rule_blocks_path",
    "waf_rule_is_ours",
    "smallest_free_waf_priority",
    "waf_rule_terminates",
    "parse_web_acl_arn",
    "web_acl_update_args",
]

ELB_MAX_PRIORITY = 50000
WAF_RULE_PREFIX = "chaos-"


def listener_rule_paths(rule: dict[str, Any]) -> list[str] | None:
    """The path-pattern values of a rule, or None when it has no path condition."""
    paths: list[str] | None = None
    for condition in rule.get("Conditions", []):
        if condition.get("Field") == "path-pattern":
            values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get(
                "Values", []
            )
            paths = (paths or []) + list(values)
    return paths


def rule_has_regex(rule: dict[str, Any]) -> bool:
    """True when a condition of ``rule`` matches by regex (``RegexValues`` of a path or
    host condition, botocore elbv2 ``PathPatternConditionConfig``/``RuleCondition``)."""
    for condition in rule.get("Conditions", []):
        configs = [condition, *(v for v in condition.values() if isinstance(v, dict))]
        if any(config.get("RegexValues") for config in configs):
            return True
    return False


def path_pattern_matches(pattern: str, path: str) -> bool:
    """ELB path-pattern semantics: case-sensitive, ``*`` any run, ``?`` one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, path, flags=re.DOTALL) is not None


def _priority(rule: dict[str, Any]) -> int | None:
    value = rule.get("Priority")
    return int(value) if value is not None and str(value).isdigit() else None


def smallest_free_listener_priority(rules: list[dict[str, Any]]) -> int | None:
    used = {p for p in (_priority(r) for r in rules) if p is not None}
    for candidate in range(1, ELB_MAX_PRIORITY + 1):
        if candidate not in used:
            return candidate
    return None


def shadowing_rules(rules: list[dict[str, Any]], path: str, priority: int) -> list[dict[str, Any]]:
    """Non-default rules evaluated before ``priority`` that may answer requests for ``path``
    (a matching path-pattern, no path condition at all, or a regex condition).

    A regex (path or host ``RegexValues``) is taken to "may match" rather than evaluated:
    ALB's regex dialect is not Python's, and a wrong "cannot match" means a block that
    never applies, while a wrong "may match" is a clear refusal."""
    found = []
    for rule in rules:
        own = _priority(rule)
        if own is None or own >= priority:
            continue
        paths = listener_rule_paths(rule)
        if rule_has_regex(rule) or paths is None:
            found.append(rule)
        elif any(path_pattern_matches(p, path) for p in paths):
            found.append(rule)
    return found


def listener_rules(elbv2: Any, listener_arn: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    marker: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"ListenerArn": listener_arn, "PageSize": 400}
        if marker:
            kwargs["Marker"] = marker
        page = elbv2.describe_rules(**kwargs)
        rules.extend(page.get("Rules", []))
        marker = page.get("NextMarker")
        if not marker:
            break
    return rules


def our_listener_rules(
    elbv2: Any,
    rules: list[dict[str, Any]],
    run_id: str | None = None,
    path: str | None = None,
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(rule, tags) of the rules this fault created (optionally of one run / one path)."""
    candidates = [r for r in rules if not r.get("IsDefault")]
    tags = tags_of(elbv2, [r["RuleArn"] for r in candidates])
    found = []
    for rule in candidates:
        rule_tags = tags.get(rule["RuleArn"], {})
        if rule_tags.get(TAG_MANAGED) != MANAGED_BY or rule_tags.get(TAG_FAULT) != FAULT:
            continue
        if run_id is not None and rule_tags.get(TAG_RUN_ID) != elb_tag_value(run_id):
            continue
        if path is not None and listener_rule_paths(rule) != [path]:
            continue
        found.append((rule, rule_tags))
    return found


def fixed_response_rule(
    listener_arn: str, path: str, priority: int, run: RunContext
) -> dict[str, Any]:
    """Keyword arguments of ``elbv2.create_rule`` for the block."""
    return {
        "ListenerArn": listener_arn,
        "Priority": priority,
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
        "Actions": [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "text/plain",
                    "MessageBody": f"blocked by chaosaws-ext game day run {run.run_id}"[:1024],
                },
            }
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in chaos_tags(run, FAULT, "elbv2").items()],
    }


def waf_rule_name(run_id: str) -> str:
    """``chaos-<run id>``, reduced to what WAF accepts in names and metric names."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", run_id)
    return (WAF_RULE_PREFIX + cleaned)[:128]


WAF_EXPIRY_LABEL = LABEL_EXPIRES_AT_PREFIX
LOCK_ATTEMPTS = 5  # WAFOptimisticLockException retries (someone else edited the ACL)


def waf_block_rule(
    name: str, path: str, priority: int, expires_at: str | None = None
) -> dict[str, Any]:
    """Our Block rule. WAF rules carry no tags: its expiry is a rule label
    ``chaos:expires-at:<ISO UTC>`` (label names allow letters, digits, ``_-:``), so the
    orphan search can tell a live run's rule from a leftover."""
    labels = [{"Name": WAF_EXPIRY_LABEL + expires_at}] if expires_at else []
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": path.encode(),
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                "PositionalConstraint": "EXACTLY",
            }
        },
        "Action": {"Block": {}},
        "VisibilityConfig": {
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": name,
        },
        **({"RuleLabels": labels} if labels else {}),
    }


def waf_rule_expiry(rule: dict[str, Any]) -> str | None:
    """The ``chaos:expires-at`` a rule of ours carries in its labels (None: none)."""
    for label in rule.get("RuleLabels") or []:
        name = str(label.get("Name", ""))
        if name.startswith(WAF_EXPIRY_LABEL):
            return name.removeprefix(WAF_EXPIRY_LABEL)
    return None


def _waf_block_path(rule: dict[str, Any]) -> str | None:
    """The path a rule shaped like :func:`waf_block_rule` blocks (``chaos-*`` name, Block,
    URI path EXACTLY); None for any other rule, so a customer's ``chaos-...`` rule of
    another shape is never taken for ours."""
    if not str(rule.get("Name", "")).startswith(WAF_RULE_PREFIX):
        return None
    if "Block" not in (rule.get("Action") or {}):
        return None
    match = (rule.get("Statement") or {}).get("ByteMatchStatement") or {}
    if "UriPath" not in (match.get("FieldToMatch") or {}):
        return None
    if match.get("PositionalConstraint") != "EXACTLY":
        return None
    search = match.get("SearchString")
    if isinstance(search, bytes):
        search = search.decode(errors="replace")
    return str(search) if search else None


def waf_rule_is_ours(rule: dict[str, Any]) -> bool:
    """True for a rule this fault adds (what the orphan finder may remove)."""
    return _waf_block_path(rule) is not None


def waf_rule_blocks_path(rule: dict[str, Any], path: str) -> bool:
    """True for one of our rules (``chaos-*``) blocking exactly ``path``."""
    return _waf_block_path(rule) == path


def smallest_free_waf_priority(rules: list[dict[str, Any]]) -> int:
    used = {int(r["Priority"]) for r in rules if r.get("Priority") is not None}
    candidate = 0
    while candidate in used:
        candidate += 1
    return candidate


def waf_rule_terminates(rule: dict[str, Any]) -> bool:
    """True for a rule that may end the evaluation (Allow, Block, CAPTCHA, Challenge, or a
    rule group not overridden to Count): a request it matches never reaches later rules."""
    action = rule.get("Action")
    if action is not None:
        return "Count" not in action
    return "Count" not in (rule.get("OverrideAction") or {})


def parse_web_acl_arn(arn: str) -> tuple[str, str, str]:
    """(scope, name, id) of ``arn:aws:wafv2:<region>:<acct>:<regional|global>/webacl/<n>/<id>``."""
    try:
        resource = arn.split(":", 5)[5]
        scope_part, kind, name, acl_id = resource.split("/", 3)
    except (IndexError, ValueError) as error:
        raise ValueError(f"not a WAFv2 web ACL ARN: {arn}") from error
    if kind != "webacl":
        raise ValueError(f"not a WAFv2 web ACL ARN: {arn}")
    return ("CLOUDFRONT" if scope_part == "global" else "REGIONAL"), name, acl_id


def web_acl_update_args(
    wafv2: Any, web_acl: dict[str, Any], scope: str, rules: list[dict[str, Any]], lock_token: str
) -> dict[str, Any]:
    """``update_web_acl`` arguments that change only ``Rules``.

    UpdateWebACL replaces the whole ACL, so every settable field present in the ACL
    (custom response bodies, captcha config, token domains, ...) is passed back as read.
    The field list comes from the botocore model, so new fields are carried too.
    """
    members = wafv2.meta.service_model.operation_model("UpdateWebACL").input_shape.members
    args = {
        key: value
        for key, value in web_acl.items()
        if key in members
        and key not in ("Rules", "Scope", "LockToken")
        and value not in ("", None, [], {})  # AWS returns "" where it rejects "" as input
    }
    args.update({"Scope": scope, "Rules": rules, "LockToken": lock_token})
    return args
