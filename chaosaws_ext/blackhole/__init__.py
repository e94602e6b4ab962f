"""The AZ network blackhole fault (``az-blackhole``).

Swaps the subnets of one availability zone onto a fresh network ACL that denies
traffic (everything, or only the traffic to and from the VPC's other AZs), and puts
each subnet back on its recorded original NACL on undo. See :mod:`.actions`.
"""
