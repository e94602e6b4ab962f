"""DynamoDB global tables as the sandbox emulates them.

``replication`` (the model: last-writer-wins versions, the MRSC conflict rule, the
delivery queue), ``moto_patch`` (hooks in moto's DynamoDB classes) and ``replicator``
(the model applied to moto's tables).
"""
