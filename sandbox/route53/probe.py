"""One Route 53-style probe of an endpoint: ``IPAddress:Port`` + ``ResourcePath``,
``Host`` header = ``FullyQualifiedDomainName``; 2xx/3xx within the timeouts is a success;
``*_STR_MATCH`` checks search the first 5,120 bytes of the body (as Route 53 does)."""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any

from sandbox.route53.health import ProbeResult

__all__ = ["probe_endpoint"]

# Route 53 searches the first 5,120 bytes for *_STR_MATCH checks.
_BODY_LIMIT = 5120


def probe_endpoint(config: dict[str, Any], timeouts: tuple[float, float]) -> ProbeResult:
    """One Route 53-style probe of a health check config (moto attribute names)."""
    check_type = (config.get("type") or "HTTP").upper()
    host = config.get("ip_address") or config.get("fqdn")
    port = int(config.get("port") or (443 if check_type.startswith("HTTPS") else 80))
    connect_timeout, read_timeout = timeouts
    if not host:
        return ProbeResult(False, "Failure: The health check has no IP address or domain name.")
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        return ProbeResult(
            False,
            "Failure: Connection timed out. The endpoint or the internet connection is down,"
            " or requests are being blocked by your firewall.",
        )
    except ConnectionRefusedError:
        return ProbeResult(False, "Failure: Connection refused.")
    except OSError as error:
        return ProbeResult(False, f"Failure: Could not connect: {error.strerror or error}.")
    if check_type == "TCP":
        sock.close()
        return ProbeResult(True, "Success: TCP connection established.")
    fqdn = config.get("fqdn") or host
    try:
        sock.settimeout(read_timeout)
        if check_type.startswith("HTTPS"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # Route 53 does not validate certificates
            sni = fqdn if config.get("enable_sni") else None
            sock = context.wrap_socket(sock, server_hostname=sni)
        connection = http.client.HTTPConnection(fqdn, port, timeout=read_timeout)
        connection.sock = sock  # already connected (and wrapped), to IPAddress
        try:
            path = config.get("resource_path") or "/"
            connection.request(
                "GET",
                path,
                headers={"Host": fqdn, "User-Agent": "Amazon-Route53-Health-Check-Service"},
            )
            response = connection.getresponse()
            body = response.read(_BODY_LIMIT)
        finally:
            connection.close()
    except TimeoutError:
        return ProbeResult(False, "Failure: The endpoint did not respond in time.")
    except (OSError, http.client.HTTPException) as error:
        return ProbeResult(False, f"Failure: {type(error).__name__}: {error}.")
    code, reason = response.status, response.reason
    if not 200 <= code < 400:
        return ProbeResult(False, f"Failure: HTTP Status Code {code}, {reason}")
    search = config.get("search_string")
    if check_type.endswith("STR_MATCH") and search:
        if search.encode() not in body:
            return ProbeResult(False, "Failure: Search string not found in response body.")
    return ProbeResult(True, f"Success: HTTP Status Code {code}, {reason}")
