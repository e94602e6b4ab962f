"""Health-check path block: make the path a Route 53 health check probes fail at the ALB.

``actions.py`` plans, injects and undoes the block (an ALB listener rule or a WAFv2
rule), ``probes.py`` reads health check status and failover DNS answers,
``targets.py`` resolves health check -> load balancer -> listener / web ACL, and
``rules.py`` builds and recognises the rules we add.
"""
