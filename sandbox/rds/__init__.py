"""RDS as the sandbox emulates it.

``failover`` (the model: failover and reboot windows, pending transitions, listeners),
``moto_patch`` (the model applied to moto's RDS backends), ``db_proxy`` (the endpoint's
TCP wire, refusing connections during a window) and ``postgres`` (the real database).
"""
