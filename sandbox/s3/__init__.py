"""S3 in the sandbox: cross-region replication, which moto stores but never performs.

``replication`` is the model (which rule replicates which write, and when), apart from
``moto_patch`` (the hooks in moto's S3 backend, and a GetBucketReplication that answers
what was stored) and ``replicator`` (the model applied to moto's buckets).
This package is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""
