"""EC2 as the sandbox emulates it: network ACL evaluation (``nacl``, a pure model over
moto's EC2 objects)."""
