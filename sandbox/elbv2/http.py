"""An Application Load Balancer on loopback, driven by what moto stores.

Each request goes through, in this order (moto state is re-read for every request, so a
change made through the API takes effect on the next request):

1. the client path: the emulated internet client (``client_ip``, TEST-NET-2 by default)
   must reach the ALB node (TCP ``listener port``, replies to an ephemeral port) through
   the NACL of that node's subnet. A request to one node's own address
   (:mod:`sandbox.elbv2.nodes`, what the load balancer's DNS name answers) needs that
   node; if its subnet drops the traffic, the connection gets no answer until the client
   gives up (``dropped_hold_s`` at most). A request to the emulator's own address (the
   region's front, standing for a client that tries every node address) needs at least
   one reachable node; if none is, it hangs for ``connect_timeout_s`` and is closed
   without an answer, as a client of a black-holed public subnet would see;
2. WAF: the web ACL associated with the load balancer in moto's wafv2 backend
   (``sandbox.wafv2.web_acl.evaluate_web_acl``): Block -> 403 (or the custom response code);
3. listener rules of the listener (``listener_rules.route_request``): fixed-response,
   redirect, forward;
4. forward: round robin over the target group's targets in rotation (healthy ones, or all
   when none is: fail-open). A target is reached from the node that received the request
   (cross-zone), or, for a request to the front, through the ALB node in the target's
   Availability Zone (the load balancer's subnet in that AZ, else its first subnet); a
   node's VPC address is its subnet's network address + 4 (the first address AWS does not
   reserve). The connection needs the NACLs of both subnets to let TCP to the target port
   through and replies back (``nacl.connection_allowed``); if they do not, the request
   waits ``connect_timeout_s`` (AWS: 10 s, scaled) and gets 504, as an ALB whose
   connection attempt times out. A refused connection gets 502; no registered target 503.

Health checks follow the target group's ``HealthCheckIntervalSeconds``,
``HealthCheckTimeoutSeconds``, ``HealthyThresholdCount``, ``UnhealthyThresholdCount``,
``HealthCheckPath`` and ``Matcher`` (durations times ``time_scale``), through the same
NACL evaluation (a denied path fails at once, reason ``Target.Timeout``); see
``sandbox.elbv2.target_health`` for the state machine. ``HealthCheckPort`` is ignored:
checks go to the target's real address. With ``publish_health``, moto's
``describe_target_health`` answers this view
(:func:`sandbox.elbv2.moto_patch.publish_target_health`). Targets are IP addresses (or
instance ids) registered in moto; ``targets`` maps each to the (host, port) of the
process that really serves it.
"""

from __future__ import annotations

import http.client
import ipaddress
import itertools
import logging
import random
import select
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from sandbox.ec2 import nacl
from sandbox.elbv2 import listener_rules, moto_patch
from sandbox.elbv2.target_health import TargetHealthBook, matcher_accepts
from sandbox.lifecycle import Lifecycle
from sandbox.loopback_http import LoopbackHttpServer, QuietHandler
from sandbox.wafv2 import web_acl as waf

__all__ = ["AlbEmulator", "AlbRequestHandler", "DEFAULT_CLIENT_IP", "DROPPED_HOLD_S"]

log = logging.getLogger(__name__)

# the address the emulated internet clients come from (sandbox.ec2.nacl)
DEFAULT_CLIENT_IP = nacl.INTERNET_CLIENT_IP
# "the load balancer [...] if it can't establish a connection with a target within
# 10 seconds [returns] HTTP 504" (ELB user guide, troubleshooting: HTTP 504).
TARGET_CONNECT_TIMEOUT_S = 10.0
# Default ALB idle timeout (connection idle for this long -> 504).
IDLE_TIMEOUT_S = 60.0
# How long a node whose subnet drops the client's packets keeps a connection without an
# answer (sandbox.ec2.nacl.DROPPED_HOLD_S: a client's SYN retransmissions)
DROPPED_HOLD_S = nacl.DROPPED_HOLD_S
MIN_SCALED_S = 0.01
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "server",
    "date",
}
_REASONS = {
    403: "Forbidden",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass(frozen=True)
class _Node:
    subnet_id: str
    az: str
    ip: str


@dataclass(frozen=True)
class _Target:
    target_id: str
    ip: str | None
    subnet_id: str | None
    az: str | None
    port: int


def _error_page(status: int) -> bytes:
    title = f"{status} {_REASONS.get(status, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


class _AlbHandler(QuietHandler):
    server_version = "awselb/2.0"
    sys_version = ""

    def _handle(self) -> None:
        # the AlbEmulator itself (the region's front) or one of its nodes (nodes._NodeFront)
        owner: Any = self.server.owner  # type: ignore[attr-defined]
        body = self.read_body(limit=10 << 20)
        try:
            owner.handle(self, body)
        except OSError:  # the client went away
            self.close_connection = True
        except Exception:  # never leave a client without an answer
            log.exception("ALB emulator failed on %s %s", self.command, self.path)
            self.close_connection = True
            try:
                self.send_body(500, _error_page(500), "text/html")
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


AlbRequestHandler = _AlbHandler  # what the node listeners (sandbox.elbv2.nodes) serve


class AlbEmulator(Lifecycle):
    """Emulates the moto load balancer ``load_balancer_arn`` on ``host:port``.

    ``targets`` maps a registered target id (IP address or instance id) to the real
    (host, port) serving it; ``set_target_address`` changes it later. ``time_scale``
    multiplies every AWS duration (health check interval and timeout, connect timeout).
    ``publish_health`` makes moto's ``describe_target_health`` report this emulator's
    view (it wraps ``health_for`` on the target group objects; undone by ``stop``).
    """

    def __init__(
        self,
        region: str,
        load_balancer_arn: str,
        targets: Mapping[str, tuple[str, int]] | None = None,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        listener_port: int | None = None,
        client_ip: str = DEFAULT_CLIENT_IP,
        time_scale: float = 1.0,
        connect_timeout_s: float | None = None,
        health_checks: bool = True,
        publish_health: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        dropped_hold_s: float = DROPPED_HOLD_S,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        self.region, self.account_id = region, account_id
        self.load_balancer_arn = load_balancer_arn
        self.listener_port = listener_port
        self.client_ip = str(ipaddress.ip_address(client_ip))
        self.time_scale = time_scale
        self.connect_timeout_s = (
            connect_timeout_s
            if connect_timeout_s is not None
            else self.scaled(TARGET_CONNECT_TIMEOUT_S)
        )
        self.health_checks, self.publish_health = health_checks, publish_health
        self.dropped_hold_s = dropped_hold_s
        self._addresses: dict[str, tuple[str, int]] = dict(targets or {})
        self._lock = threading.Lock()
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._book = TargetHealthBook()
        self._stop = threading.Event()
        self._health_thread: threading.Thread | None = None
        self._published: dict[str, Any] = {}
        self._due: dict[str, float] = {}  # target group ARN -> next health check (monotonic)
        self._random = random.Random(0)
        self._server = LoopbackHttpServer(_AlbHandler, self, host, port)

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        """Run one health check round, then serve; returns (host, port)."""
        self._stop.clear()
        if self.health_checks:
            self.check_health_now()
        address = self._server.start("alb")
        if self.health_checks:
            self._health_thread = threading.Thread(
                target=self._health_loop, name="alb-health", daemon=True
            )
            self._health_thread.start()
        log.info("ALB %s on %s:%s", self.load_balancer_arn.rsplit("/", 2)[-2], *address)
        return address

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._server.stop(timeout)
        if self._health_thread is not None:
            self._health_thread.join(timeout)
            self._health_thread = None
        for group in self._published.values():
            moto_patch.unpublish_target_health(group)
        self._published.clear()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def set_target_address(self, target_id: str, host: str, port: int) -> None:
        with self._lock:
            self._addresses[target_id] = (host, port)

    def scaled(self, seconds: float) -> float:
        return max(MIN_SCALED_S, float(seconds) * self.time_scale)

    # --- moto state -----------------------------------------------------------------
    def _elbv2(self) -> Any:
        return get_backend("elbv2")[self.account_id][self.region]

    def _ec2(self) -> Any:
        return get_backend("ec2")[self.account_id][self.region]

    @property
    def dns_name(self) -> str | None:
        """The load balancer's DNSName (None once it is deleted)."""
        load_balancer = self._load_balancer()
        return None if load_balancer is None else str(load_balancer.dns_name)

    def _load_balancer(self) -> Any | None:
        return self._elbv2().load_balancers.get(self.load_balancer_arn)

    def _nodes(self, load_balancer: Any) -> list[_Node]:
        nodes = []
        for subnet in list(load_balancer.subnets):
            network = ipaddress.ip_network(subnet.cidr_block, strict=False)
            nodes.append(_Node(subnet.id, subnet.availability_zone, str(network[4])))
        return sorted(nodes, key=lambda n: n.az)

    def node_azs(self) -> list[str]:
        """The enabled AZs (one node each): the AZs of the load balancer's subnets."""
        load_balancer = self._load_balancer()
        return [] if load_balancer is None else [n.az for n in self._nodes(load_balancer)]

    def _target_groups(self, load_balancer: Any) -> list[Any]:
        elbv2 = self._elbv2()
        arns: dict[str, None] = {}
        for listener in list(load_balancer.listeners.values()):
            actions = list(listener.default_actions)
            for rule in list(listener.rules.values()):
                actions += list(rule.actions)
            for action in actions:
                data = action.data if hasattr(action, "data") else action
                for arn, _weight in listener_rules.forward_target_groups(data):
                    arns[arn] = None
        for arn, group in list(elbv2.target_groups.items()):
            if self.load_balancer_arn in list(getattr(group, "load_balancer_arns", [])):
                arns[arn] = None
        groups = [elbv2.target_groups.get(arn) for arn in arns]
        return [g for g in groups if g is not None]

    def _target(self, group: Any, registration: Mapping[str, Any]) -> _Target:
        target_id = str(registration["Id"])
        port = int(registration.get("Port") or group.port or 80)
        ec2 = self._ec2()
        ip: str | None = None
        subnet = None
        if target_id.startswith("i-"):
            instance = ec2.get_instance_by_id(target_id)
            if instance is not None:
                ip = instance.private_ip
                subnet = ec2.get_subnet(instance.subnet_id)
        else:
            ip = target_id
            subnet = nacl.subnet_for_ip(ec2, ip, vpc_id=group.vpc_id)
        if subnet is None:
            return _Target(target_id, ip, None, None, port)
        return _Target(target_id, ip, subnet.id, subnet.availability_zone, port)

    def _reachable(self, nodes: list[_Node], target: _Target) -> bool:
        """Whether the ALB node for the target's AZ can hold a TCP connection to it."""
        if target.ip is None:
            return False
        if not nodes:
            return True
        node = next((n for n in nodes if n.az == target.az), nodes[0])
        return nacl.connection_allowed(
            self._ec2(),
            nacl.Endpoint(node.ip, node.subnet_id),
            nacl.Endpoint(target.ip, target.subnet_id),
            6,
            target.port,
        )

    def _client_reaches_a_node(self, nodes: list[_Node], port: int) -> bool:
        if not nodes:
            return True
        client = nacl.Endpoint(self.client_ip, None)
        return any(
            nacl.connection_allowed(self._ec2(), client, nacl.Endpoint(n.ip, n.subnet_id), 6, port)
            for n in nodes
        )

    # --- health checks --------------------------------------------------------------
    def check_health_now(self) -> dict[str, dict[str, dict[str, object]]]:
        """Check every target of every target group of the load balancer once."""
        load_balancer = self._load_balancer()
        if load_balancer is not None:
            nodes = self._nodes(load_balancer)
            for group in self._target_groups(load_balancer):
                self._check_group(group, nodes)
        return self.target_health()

    def _check_group(self, group: Any, nodes: list[_Node]) -> None:
        interval = self.scaled(float(group.health_check_interval_seconds or 30))
        self._due[group.arn] = time.monotonic() + interval
        registrations = list(group.targets.values())
        self._book.forget_except(group.arn, [str(r["Id"]) for r in registrations])
        if self.publish_health:
            self._publish(group)
        if str(getattr(group, "health_check_enabled", "true")).lower() == "false":
            for registration in registrations:
                self._book.record(group.arn, str(registration["Id"]), True, 1, 1)
            return
        healthy_threshold = int(group.healthy_threshold_count or 5)
        unhealthy_threshold = int(group.unhealthy_threshold_count or 2)
        timeout = max(0.25, self.scaled(float(group.health_check_timeout_seconds or 5)))
        path = group.health_check_path or "/"
        for registration in registrations:
            target = self._target(group, registration)
            ok, reason, description = self._probe(group, nodes, target, path, timeout)
            before = self._book.get(group.arn, target.target_id)
            after = self._book.record(
                group.arn,
                target.target_id,
                ok,
                healthy_threshold,
                unhealthy_threshold,
                reason,
                description,
            )
            if before is None or before.state != after.state:
                log.info("target %s of %s: %s", target.target_id, group.name, after.state)

    def _probe(
        self, group: Any, nodes: list[_Node], target: _Target, path: str, timeout: float
    ) -> tuple[bool, str | None, str | None]:
        if not self._reachable(nodes, target):
            return False, "Target.Timeout", "Request timed out"
        with self._lock:
            address = self._addresses.get(target.target_id)
        if address is None:
            return False, "Target.FailedHealthChecks", "No process serves this target"
        connection = http.client.HTTPConnection(*address, timeout=timeout)
        try:
            connection.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
            response = connection.getresponse()
            response.read(1 << 16)
            status = response.status
        except TimeoutError:
            return False, "Target.Timeout", "Request timed out"
        except OSError:
            return False, "Target.FailedHealthChecks", "Health checks failed"
        finally:
            connection.close()
        if matcher_accepts(getattr(group, "matcher", None), status):
            return True, None, None
        return False, "Target.ResponseCodeMismatch", f"Health checks failed with code: [{status}]"

    def _health_loop(self) -> None:
        """Check each target group when due (a group seen for the first time at once);
        wake at least every 0.1 s to pick up new groups and changed settings."""
        while not self._stop.is_set():
            waits: list[float] = []
            try:
                load_balancer = self._load_balancer()
                groups = [] if load_balancer is None else self._target_groups(load_balancer)
                nodes = [] if load_balancer is None else self._nodes(load_balancer)
                for group in groups:
                    if time.monotonic() >= self._due.get(group.arn, 0.0):
                        self._check_group(group, nodes)
                    waits.append(self._due[group.arn] - time.monotonic())
            except Exception:  # moto state mutated under us: try again next tick
                log.debug("health round failed", exc_info=True)
            self._stop.wait(max(0.0, min([0.1, *waits])))

    def target_states(self) -> dict[str, list[str]]:
        """{target group ARN: [state of each registered target]} for every target group
        of the load balancer, empty groups included; a target not yet checked is
        ``initial``. What Route 53 reads for an alias with ``EvaluateTargetHealth``."""
        load_balancer = self._load_balancer()
        if load_balancer is None:
            return {}
        states: dict[str, list[str]] = {}
        for group in self._target_groups(load_balancer):
            ids = [str(r["Id"]) for r in list(group.targets.values())]
            found = [self._book.get(group.arn, target_id) for target_id in ids]
            states[group.arn] = [h.state if h is not None else "initial" for h in found]
        return states

    def target_health(self) -> dict[str, dict[str, dict[str, object]]]:
        """{target group ARN: {target id: {"state", "reason", "description"}}}."""
        return self._book.snapshot()

    def _publish(self, group: Any) -> None:
        if group.arn in self._published and "health_for" in vars(group):
            return
        moto_patch.publish_target_health(group, self._book)
        self._published[group.arn] = group

    # --- requests -------------------------------------------------------------------
    def handle(self, handler: QuietHandler, body: bytes, node_az: str | None = None) -> None:
        """Answer one request received by the listener: on the front (``node_az`` None)
        or on the node of ``node_az``."""
        path, _, query = handler.path.partition("?")
        headers = {k: v for k, v in handler.headers.items()}
        load_balancer = self._load_balancer()
        if load_balancer is None:
            self._error(handler, 503)
            return
        try:
            listener = listener_rules.listener_for_port(load_balancer, self.listener_port)
        except LookupError:
            self._error(handler, 503)
            return
        nodes = self._nodes(load_balancer)
        if node_az is not None:
            nodes = [n for n in nodes if n.az == node_az]
            if not nodes or not self._client_reaches_a_node(nodes, int(listener.port)):
                self._hold_unanswered(handler)  # the node's subnet drops the packets
                return
        elif not self._client_reaches_a_node(nodes, int(listener.port)):
            self._stop.wait(self.connect_timeout_s)
            handler.close_connection = True
            return
        wafv2_backend = get_backend("wafv2")[self.account_id][self.region]
        web_acl = waf.web_acl_for_resource(wafv2_backend, self.load_balancer_arn)
        verdict = waf.evaluate_web_acl(
            web_acl,
            waf.HttpRequest(handler.command, path, query, headers, self.client_ip),
            waf.ip_sets_of(wafv2_backend) if web_acl is not None else None,
        )
        if verdict.blocked:
            self._error(handler, verdict.status)
            return
        facts = listener_rules.RequestFacts(
            method=handler.command,
            path=path,
            host=headers.get("Host", ""),
            query=query,
            headers=headers,
            source_ip=self.client_ip,
        )
        routed = listener_rules.route_request(listener, facts)
        if routed.type == "fixed-response":
            config = routed.action.get("FixedResponseConfig") or {}
            handler.send_body(
                int(config.get("StatusCode", 200)),
                str(config.get("MessageBody", "")).encode(),
                config.get("ContentType") or "text/plain; charset=utf-8",
            )
        elif routed.type == "redirect":
            self._redirect(handler, routed.action, path, query, int(listener.port))
        else:
            self._forward(handler, routed.action, nodes, int(listener.port), body)

    def _hold_unanswered(self, handler: QuietHandler) -> None:
        """Send nothing until the client closes the connection (its timeout), the
        emulator stops, or ``dropped_hold_s`` passes; then close."""
        handler.close_connection = True
        connection = handler.connection
        deadline = time.monotonic() + self.dropped_hold_s
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([connection], [], [], min(0.1, left))
            if readable:
                try:
                    if not connection.recv(1 << 16):
                        return  # the client gave up
                except OSError:
                    return

    def _error(self, handler: QuietHandler, status: int) -> None:
        handler.send_body(status, _error_page(status), "text/html")

    def _redirect(
        self,
        handler: QuietHandler,
        action: Mapping[str, Any],
        path: str,
        query: str,
        listener_port: int,
    ) -> None:
        config = action.get("RedirectConfig") or {}
        host = handler.headers.get("Host", "").split(":")[0]
        values = {
            "#{protocol}": "http",
            "#{host}": host,
            "#{port}": str(listener_port),
            "#{path}": path.lstrip("/"),
            "#{query}": query,
        }

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        protocol = fill(str(config.get("Protocol", "#{protocol}"))).lower()
        target_query = fill(str(config.get("Query", "#{query}")))
        location = (
            f"{protocol}://{fill(str(config.get('Host', '#{host}')))}"
            f":{fill(str(config.get('Port', '#{port}')))}"
            f"/{fill(str(config.get('Path', '/#{path}'))).lstrip('/')}"
            + (f"?{target_query}" if target_query else "")
        )
        status = 301 if config.get("StatusCode") == "HTTP_301" else 302
        handler.send_body(status, b"", headers={"Location": location})

    def _choose_group(self, action: Mapping[str, Any]) -> Any | None:
        weighted = [(a, w) for a, w in listener_rules.forward_target_groups(action) if w > 0]
        if not weighted:
            return None
        arns, weights = zip(*weighted, strict=True)
        with self._lock:
            arn = self._random.choices(arns, weights)[0]
        return self._elbv2().target_groups.get(arn)

    def _next_target(self, group: Any) -> Any | None:
        registrations = list(group.targets.values())
        if not registrations:
            return None
        ids = self._book.in_rotation(group.arn, [str(r["Id"]) for r in registrations])
        with self._lock:
            counter = self._round_robin.setdefault(group.arn, itertools.count())
            chosen = ids[next(counter) % len(ids)]
        return next(r for r in registrations if str(r["Id"]) == chosen)

    def _forward(
        self,
        handler: QuietHandler,
        action: Mapping[str, Any],
        nodes: list[_Node],
        listener_port: int,
        body: bytes,
    ) -> None:
        group = self._choose_group(action)
        registration = None if group is None else self._next_target(group)
        if group is None or registration is None:
            self._error(handler, 503)
            return
        target = self._target(group, registration)
        if not self._reachable(nodes, target):
            self._stop.wait(self.connect_timeout_s)
            self._error(handler, 504)
            return
        with self._lock:
            address = self._addresses.get(target.target_id)
        if address is None:
            self._error(handler, 502)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        forwarded_for = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = (
            f"{forwarded_for}, {self.client_ip}" if forwarded_for else self.client_ip
        )
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(listener_port)
        headers.setdefault(
            "X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        )
        if body or handler.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*address, timeout=self.connect_timeout_s)
        try:
            connection.connect()
            connection.sock.settimeout(self.scaled(IDLE_TIMEOUT_S))
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            upstream_headers = [
                (k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP
            ]
            status = response.status
        except TimeoutError:
            self._error(handler, 504)
            return
        except (OSError, http.client.HTTPException):
            self._error(handler, 502)
            return
        finally:
            connection.close()
        handler.send_response(status)
        content_type_sent = False
        for name, value in upstream_headers:
            handler.send_header(name, value)
            content_type_sent |= name.lower() == "content-type"
        if not content_type_sent:
            handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("X-Sandbox-Target", target.target_id)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)
