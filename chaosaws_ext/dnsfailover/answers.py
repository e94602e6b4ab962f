"""What a client resolver answers for a name right now (the failover as clients see it)."""

from __future__ import annotations

import dns.exception
import dns.resolver

__all__ = ["resolve_addresses"]


def resolve_addresses(name: str, nameserver: str, timeout: float) -> set[str]:
    """The A answer for ``name`` through ``nameserver`` ("ip", "ip:port"; "" = the
    system resolver), uncached; empty when it fails."""
    if nameserver:
        host, port = nameserver, "53"
        if nameserver.count(":") == 1:
            host, _, port = nameserver.partition(":")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port)
    else:
        resolver = dns.resolver.Resolver()
    resolver.cache = None
    try:
        answer = resolver.resolve(name, "A", lifetime=timeout, search=False)
    except dns.exception.DNSException:
        return set()
    return {str(item) for item in answer}
