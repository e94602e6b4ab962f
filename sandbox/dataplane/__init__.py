"""Emulated data plane of the sandbox: what moto stores, acted on by real traffic.

Behaviour (pure evaluation over moto's models) lives apart from the servers that speak
HTTP, DNS or TCP, as moto keeps ``models.py`` apart from ``responses.py``:

- behaviour: ``nacl`` (network ACL evaluation), ``waf`` (WAFv2 web ACL evaluation),
  ``listener_rules`` (ELBv2 listener rule matching), ``target_health`` (the health
  check state machine), ``failover_routing`` (Route 53 failover answers);
- servers: ``api`` (the ticket API instances), ``alb`` (the load balancer),
  ``db_proxy`` (TCP proxy in front of PostgreSQL), ``postgres`` (the real database),
  ``dns`` (the DNS server).

Nothing here imports the extension, the probes or the CLI: the sandbox is "AWS".
"""
