"""The sandbox: a local twin of the reference architecture (it plays "AWS").

    python -m sandbox --time-scale 0.05          # or: gameday sandbox up
    chaos run experiments/<x>.yaml --var-file <the env file it prints>

or, from Python::

    from sandbox.server import Sandbox
    with Sandbox(time_scale=0.05) as topology:   # Topology: ids, ARNs, ports, DSN, DNS
        ...

What runs, all in one process and on 127.0.0.0/8:

- ``server``: the :class:`~sandbox.server.Sandbox` orchestrator (start/stop, Topology,
  ``run_foreground``); one Sandbox per process at a time (moto's state is
  process-wide), any number of processes per machine;
- ``seed``: the DR plan's architecture created by API calls in a moto server (two
  regions, VPCs, nine subnets each, ALBs, WAF, Multi-AZ RDS, global table, Route 53
  failover records with health checks, alarms);
- ``behaviour``: what moto lacks, added by wrapping its backends: RDS failover windows,
  DynamoDB global-table replication, Route 53 health checkers;
- ``dataplane``: real traffic: API instances per AZ, ALB emulators applying listener
  rules, WAF and NACLs, PostgreSQL behind a proxy that follows the RDS state, a DNS
  server answering the failover records;
- ``timing``: the published AWS figures and the one ``time_scale`` that shrinks them;
- ``envfile``: the ``--var-file`` for ``chaos run``.

This package imports nothing from chaosaws_ext, probes or gameday.
"""
