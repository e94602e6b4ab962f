"""Old import paths of the behaviour moto lacks, kept working: each module re-exports its
new home in the service packages (``sandbox.rds``, ``sandbox.dynamodb``,
``sandbox.route53``, ``sandbox.elbv2``/``sandbox.wafv2`` with ``sandbox.strictness``)."""
