from __future__ import annotations

import pytest

from chaosaws_ext.core.clients import ReadOnlyViolation, aws_client, read_only


def test_read_only_refuses_mutations_and_records_reads(mocked_aws) -> None:
    ec2 = aws_client("ec2", {"aws_region": "eu-south-1"})
    with read_only(record=True) as guard:
        ec2.describe_vpcs()
        with pytest.raises(ReadOnlyViolation, match="ec2:CreateVpc refused: read-only"):
            ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert guard.calls == [("ec2", "DescribeVpcs"), ("ec2", "CreateVpc")]
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1  # only moto's default VPC: nothing created
    ec2.create_vpc(CidrBlock="10.9.0.0/16")  # outside the block, mutations work again
