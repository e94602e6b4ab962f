"""The sandbox: a local twin of the reference architecture (it plays "AWS").

    python -m sandbox --time-scale 0.05          # or: gameday sandbox up
    chaos run experiments/<x>.yaml --var-file <the env file it prints>

or, from Python::

    from sandbox.server import Sandbox
    with Sandbox(time_scale=0.05) as topology:   # Topology: ids, ARNs, ports, DSN, DNS
        ...

Laid out by AWS service, as moto is. In each service package the behaviour model (pure,
testable without moto) lives apart from its moto patch (``moto_patch``) and from its
wire server:

- ``ec2``: ``nacl`` (network ACL evaluation);
- ``elbv2``: ``listener_rules``, ``target_health``, ``limits`` (models), ``moto_patch``
  (strictness, DescribeTargetHealth), ``http`` (the ALB on loopback);
- ``wafv2``: ``web_acl``, ``capacity`` (models), ``moto_patch`` (capacity);
- ``rds``: ``failover`` (model), ``moto_patch``, ``db_proxy`` (TCP wire), ``postgres``;
- ``route53``: ``health``, ``failover_routing`` (models), ``probe``, ``checkers``,
  ``moto_patch`` (GetHealthCheckStatus), ``dns`` (DNS wire);
- ``dynamodb``: ``replication`` (model), ``moto_patch``, ``replicator``;
- ``s3``: ``replication`` (model: cross-region replication rules and lag),
  ``moto_patch`` (write hooks, a faithful GetBucketReplication), ``replicator``;
- ``workload``: ``api``, the ticket API instances (not AWS: what runs on it).

Around them: ``lifecycle`` (the one start/stop protocol every part implements),
``moto_server``, ``strictness`` (the switches of the limits moto lacks), ``seed`` (the
DR plan's architecture created by API calls), ``orchestrator`` (:class:`Sandbox`: every
part on one ExitStack; one Sandbox per process at a time, moto's state being
process-wide), ``topology``, ``pgdata_cache``, ``foreground`` (``run_foreground``),
``timing`` (the published AWS figures and the one ``time_scale``), ``envfile`` (the
``--var-file``), ``server`` (the entry points, re-exported). ``behaviour`` and
``dataplane`` keep the old import paths working.

This package imports nothing from chaosaws_ext, probes or gameday.
"""
