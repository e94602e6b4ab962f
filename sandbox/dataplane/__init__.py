"""Old import paths of the data plane, kept working: each module re-exports its new home.

The sandbox is laid out by AWS service, as moto is: ``sandbox.ec2`` (``nacl``),
``sandbox.elbv2`` (``listener_rules``, ``target_health``, the ALB's ``http`` server),
``sandbox.wafv2`` (``web_acl``), ``sandbox.rds`` (``db_proxy``, ``postgres``),
``sandbox.route53`` (``failover_routing``, ``dns``), ``sandbox.workload`` (``api``) and
``sandbox.loopback_http``.
"""
