"""Route 53 as the sandbox emulates it.

Models (pure): ``health`` (checker regions, thresholds, the 18% rule), ``failover_routing``
(failover answers). Apart from them: ``probe`` (one Route 53-style probe of an
endpoint), ``checkers`` (the checker threads, the HealthCheckStatus metric and alarms),
``moto_patch`` (an honest GetHealthCheckStatus) and ``dns`` (the DNS wire server).
"""
