"""Each FIS action the sandbox executes, with AWS state compared before, during, after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.dynamodb.replicator import GlobalTableReplicator
from sandbox.rds.moto_patch import RdsFailoverEmulator
from sandbox.s3.replicator import BucketReplicator
from tests.conftest import OTHER_REGION, REGION
from tests.helpers.fis_world import FisWorld, fis_world


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[FisWorld]:
    with fis_world(moto_endpoint) as started:
        yield started


def _network(world: FisWorld) -> dict[str, Any]:
    """A VPC with one subnet per AZ; subnet a on a custom NACL whose rule 1 allows 443."""
    ec2 = world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for az, cidr in (("a", "10.0.1.0/24"), ("b", "10.0.2.0/24"), ("c", "10.0.3.0/24"))
    }
    custom = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=custom,
            RuleNumber=1,
            Protocol="6",
            PortRange={"From": 443, "To": 443},
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    association = _association(ec2, subnets["a"])
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=custom)
    return {"vpc": vpc, "subnets": subnets, "custom": custom}


def _association(ec2: Any, subnet_id: str) -> str:
    for acl in ec2.describe_network_acls()["NetworkAcls"]:
        for association in acl["Associations"]:
            if association["SubnetId"] == subnet_id:
                return str(association["NetworkAclAssociationId"])
    raise AssertionError(f"{subnet_id} has no association")


def _acls(ec2: Any, vpc: str) -> dict[str, Any]:
    """Every NACL of the VPC: entries and tags, and which subnets it holds."""
    found = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return {
        acl["NetworkAclId"]: {
            "entries": sorted(acl["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"])),
            "tags": acl.get("Tags", []),
            "subnets": sorted(a["SubnetId"] for a in acl["Associations"]),
        }
        for acl in found["NetworkAcls"]
    }


def _subnet_target(vpc: str, az: str | None = None) -> dict[str, Any]:
    parameters = {"vpc": vpc}
    if az:
        parameters["availabilityZoneIdentifier"] = f"{REGION}{az}"
    return {"resourceType": "aws:ec2:subnet", "parameters": parameters, "selectionMode": "ALL"}


def _disrupt(scope: str, duration: str = "PT1M") -> dict[str, Any]:
    return {
        "actionId": "aws:network:disrupt-connectivity",
        "parameters": {"duration": duration, "scope": scope},
        "targets": {"Subnets": "az-subnets"},
    }


def test_disrupt_connectivity_all_clones_denies_swaps_and_restores_exactly(
    world: FisWorld,
) -> None:
    ec2 = world.client("ec2")
    net = _network(world)
    before = _acls(ec2, net["vpc"])
    experiment_id = world.start(
        {"blackhole": _disrupt("all")}, {"az-subnets": _subnet_target(net["vpc"], "a")}
    )
    world.wait_action(experiment_id, "blackhole", "running")
    during = _acls(ec2, net["vpc"])
    clones = {i: acl for i, acl in during.items() if i not in before}
    assert len(clones) == 1
    clone = next(iter(clones.values()))
    assert clone["tags"] == [{"Key": "managedByFIS", "Value": "true"}]
    assert clone["subnets"] == [net["subnets"]["a"]]
    assert during[net["custom"]]["subnets"] == []
    for egress in (False, True):
        rules = [e for e in clone["entries"] if e["Egress"] is egress]
        # the deny in front, then the original's 443 allow (shifted behind it)
        assert [(e["RuleNumber"], e["RuleAction"], e["CidrBlock"]) for e in rules] == [
            (1, "deny", "0.0.0.0/0"),
            (2, "allow", "0.0.0.0/0"),
        ]
        assert rules[1]["PortRange"] == {"From": 443, "To": 443}
    done = world.wait_status(experiment_id)
    assert done["state"]["status"] == "completed"
    assert _acls(ec2, net["vpc"]) == before


def test_disrupt_connectivity_availability_zone_denies_the_other_azs(world: FisWorld) -> None:
    ec2 = world.client("ec2")
    net = _network(world)
    before = _acls(ec2, net["vpc"])
    experiment_id = world.start(
        {"cut": _disrupt("availability-zone")}, {"az-subnets": _subnet_target(net["vpc"], "b")}
    )
    world.wait_action(experiment_id, "cut", "running")
    during = _acls(ec2, net["vpc"])
    (clone,) = [acl for i, acl in during.items() if i not in before]
    assert clone["subnets"] == [net["subnets"]["b"]]
    denies = {
        (e["Egress"], e["RuleNumber"], e["CidrBlock"])
        for e in clone["entries"]
        if e["RuleAction"] == "deny" and e["RuleNumber"] < 32767
    }
    assert denies == {
        (egress, number, cidr)
        for egress in (False, True)
        for number, cidr in ((1, "10.0.1.0/24"), (2, "10.0.3.0/24"))
    }
    world.fis.stop_experiment(id=experiment_id)
    stopped = world.wait_status(experiment_id)
    assert stopped["state"]["status"] == "stopped"
    assert _acls(ec2, net["vpc"]) == before


def test_disrupt_connectivity_unknown_scope_fails_and_changes_nothing(world: FisWorld) -> None:
    ec2 = world.client("ec2")
    net = _network(world)
    before = _acls(ec2, net["vpc"])
    experiment_id = world.start(
        {"cut": _disrupt("prefix-list")}, {"az-subnets": _subnet_target(net["vpc"], "a")}
    )
    failed = world.wait_status(experiment_id)
    assert failed["state"]["status"] == "failed"
    assert "scope 'prefix-list'" in failed["state"]["reason"]
    assert failed["actions"]["cut"]["state"]["status"] == "failed"
    assert _acls(ec2, net["vpc"]) == before


@pytest.fixture
def rds_failover() -> Iterator[RdsFailoverEmulator]:
    emulator = RdsFailoverEmulator(time_scale=0.005).install()
    yield emulator
    emulator.uninstall()


def _db(world: FisWorld, name: str) -> dict[str, Any]:
    rds = world.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MultiAZ=True,
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": "fis-target", "Value": "yes"}],
    )
    return dict(rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])


def test_reboot_db_instances_with_force_failover_swaps_the_az(
    world: FisWorld, rds_failover: RdsFailoverEmulator
) -> None:
    before = _db(world, "orders")
    experiment_id = world.start(
        {
            "failover": {
                "actionId": "aws:rds:reboot-db-instances",
                "parameters": {"forceFailover": "true"},
                "targets": {"DBInstances": "db"},
            }
        },
        {
            "db": {
                "resourceType": "aws:rds:db",
                "resourceArns": [before["DBInstanceArn"]],
                "selectionMode": "ALL",
            }
        },
    )
    done = world.wait_status(experiment_id)
    assert done["state"]["status"] == "completed"
    assert rds_failover.wait_idle(timeout=10)
    after = world.client("rds").describe_db_instances(DBInstanceIdentifier="orders")
    db = after["DBInstances"][0]
    assert (db["AvailabilityZone"], db["SecondaryAvailabilityZone"]) == (
        before["SecondaryAvailabilityZone"],
        before["AvailabilityZone"],
    )


def test_stop_instances_starts_them_again_after_the_duration(world: FisWorld) -> None:
    ec2 = world.client("ec2")
    reservation = ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "tier", "Value": "api"}]}],
    )
    ids = sorted(i["InstanceId"] for i in reservation["Instances"])

    def states() -> list[str]:
        found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        return sorted(i["State"]["Name"] for r in found for i in r["Instances"])

    experiment_id = world.start(
        {
            "stop": {
                "actionId": "aws:ec2:stop-instances",
                "parameters": {"startInstancesAfterDuration": "PT1M"},
                "targets": {"Instances": "api"},
            }
        },
        {
            "api": {
                "resourceType": "aws:ec2:instance",
                "resourceTags": {"tier": "api"},
                "selectionMode": "ALL",
            }
        },
    )
    world.wait_action(experiment_id, "stop", "running")
    assert states() == ["stopped", "stopped"]
    assert world.wait_status(experiment_id)["state"]["status"] == "completed"
    assert states() == ["running", "running"]


@pytest.fixture
def replicated(world: FisWorld) -> Iterator[tuple[Any, Any, BucketReplicator]]:
    """A versioned source in eu-south-1 replicating docs/ and logs/ to eu-west-1."""
    replicator = BucketReplicator(lag_seconds=0.05, jitter_seconds=0.0, seed=1)
    replicator.start()
    source, replica = world.client("s3"), world.client("s3", "eu-west-1")
    source.create_bucket(Bucket="kb-src", CreateBucketConfiguration={"LocationConstraint": REGION})
    replica.create_bucket(
        Bucket="kb-dst", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    for name in ("kb-src", "kb-dst"):
        source.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    rules = [
        {
            "ID": rule_id,
            "Priority": priority,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": "arn:aws:s3:::kb-dst", "StorageClass": "STANDARD"},
        }
        for rule_id, prefix, priority in (("docs", "docs/", 1), ("logs", "logs/", 2))
    ]
    source.put_bucket_replication(
        Bucket="kb-src",
        ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": rules},
    )
    source.put_bucket_tagging(Bucket="kb-src", Tagging={"TagSet": [{"Key": "kb", "Value": "1"}]})
    yield source, replica, replicator
    replicator.stop()


def test_bucket_pause_replication_pauses_the_prefix_and_restores_the_rules(
    world: FisWorld, replicated: tuple[Any, Any, BucketReplicator]
) -> None:
    source, replica, replicator = replicated
    before = source.get_bucket_replication(Bucket="kb-src")["ReplicationConfiguration"]
    experiment_id = world.start(
        {
            "pause": {
                "actionId": "aws:s3:bucket-pause-replication",
                "parameters": {"duration": "PT1M", "region": "eu-west-1", "prefixes": "docs/"},
                "targets": {"Buckets": "kb"},
            }
        },
        {
            "kb": {
                "resourceType": "aws:s3:bucket",
                "resourceTags": {"kb": "1"},
                "selectionMode": "ALL",
            }
        },
    )
    world.wait_action(experiment_id, "pause", "running")
    during = source.get_bucket_replication(Bucket="kb-src")["ReplicationConfiguration"]
    assert {r["ID"]: r["Status"] for r in during["Rules"]} == {
        "docs": "Disabled",
        "logs": "Enabled",
    }
    source.put_object(Bucket="kb-src", Key="docs/during.txt", Body=b"x")
    source.put_object(Bucket="kb-src", Key="logs/during.txt", Body=b"x")
    assert replicator.drain(timeout=5)
    assert world.wait_status(experiment_id)["state"]["status"] == "completed"
    assert source.get_bucket_replication(Bucket="kb-src")["ReplicationConfiguration"] == before
    source.put_object(Bucket="kb-src", Key="docs/after.txt", Body=b"x")
    assert replicator.drain(timeout=5)
    keys = sorted(o["Key"] for o in replica.list_objects_v2(Bucket="kb-dst").get("Contents", []))
    assert keys == ["docs/after.txt", "logs/during.txt"]


def test_dynamodb_pause_replication_holds_the_replica_until_its_end(world: FisWorld) -> None:
    """FIS's pause is two Deny statements with an aws:CurrentTime expiry appended to the
    target replica's resource policy (the table in the experiment's region): its writes
    stop reaching the other replica while they stand, arrive after, and the policy is
    back to its text before, byte for byte."""
    replicator = GlobalTableReplicator(lag_seconds=0.05, policy_update_block_seconds=0.5)
    replicator.start()
    try:
        source = world.client("dynamodb")
        replica = world.client("dynamodb", OTHER_REGION)
        source.create_table(
            TableName="tickets",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        replicator.make_global("tickets", [REGION, OTHER_REGION])
        arn = source.describe_table(TableName="tickets")["Table"]["TableArn"]
        theirs = {"Version": "2012-10-17", "Statement": [{
            "Sid": "TeamReadOnly", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "dynamodb:GetItem", "Resource": arn}]}  # fmt: skip
        source.put_resource_policy(ResourceArn=arn, Policy=json.dumps(theirs))
        before = source.get_resource_policy(ResourceArn=arn)["Policy"]
        experiment_id = world.start(
            {
                "pause": {
                    "actionId": "aws:dynamodb:global-table-pause-replication",
                    "parameters": {"duration": "PT30M"},  # 18 s at the tests' scale
                    "targets": {"Tables": "replica"},
                }
            },
            {
                "replica": {
                    "resourceType": "aws:dynamodb:global-table",
                    "resourceArns": [arn],
                    "selectionMode": "ALL",
                }
            },  # fmt: skip
        )
        world.wait_action(experiment_id, "pause", "running")
        during = json.loads(source.get_resource_policy(ResourceArn=arn)["Policy"])
        added = during["Statement"][1:]
        assert during["Statement"][0]["Sid"] == "TeamReadOnly"
        assert [s["Effect"] for s in added] == ["Deny", "Deny"]
        assert all("aws:CurrentTime" in s["Condition"]["DateLessThan"] for s in added)
        source.put_item(TableName="tickets", Item={"id": {"S": "during"}})
        assert wait_until(lambda: replicator.stats["held"] >= 1, timeout=10, interval=0.05,
                          what="the replicator to hold the write")  # fmt: skip
        assert "Item" not in replica.get_item(TableName="tickets", Key={"id": {"S": "during"}})

        world.fis.stop_experiment(id=experiment_id)  # FIS reverts what it put there
        ended = world.wait_status(experiment_id, timeout=60)
        assert ended["state"]["status"] == "stopped"
        assert source.get_resource_policy(ResourceArn=arn)["Policy"] == before

        def arrived() -> bool:
            found = replica.get_item(TableName="tickets", Key={"id": {"S": "during"}})
            return "Item" in found

        assert wait_until(arrived, timeout=10, interval=0.05, what="the held write")
    finally:
        replicator.stop()


def test_failover_db_cluster_moves_the_writer(
    world: FisWorld, rds_failover: RdsFailoverEmulator
) -> None:
    rds = world.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="aurora",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )
    for name in ("aurora-1", "aurora-2"):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="aurora",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )

    def writer() -> str:
        members = rds.describe_db_clusters(DBClusterIdentifier="aurora")["DBClusters"][0]
        return next(
            m["DBInstanceIdentifier"] for m in members["DBClusterMembers"] if m["IsClusterWriter"]
        )

    first = writer()
    experiment_id = world.start(
        {
            "failover": {
                "actionId": "aws:rds:failover-db-cluster",
                "targets": {"Clusters": "cluster"},
            }
        },
        {"cluster": {"resourceType": "aws:rds:cluster", "selectionMode": "ALL"}},
    )
    assert world.wait_status(experiment_id)["state"]["status"] == "completed"
    assert rds_failover.wait_idle(timeout=10)
    assert writer() != first


def test_an_action_without_its_target_fails_naming_it(world: FisWorld) -> None:
    failed = world.wait_status(world.start({"reboot": {"actionId": "aws:rds:reboot-db-instances"}}))
    assert failed["state"] == {
        "status": "failed",
        "reason": "Action reboot (aws:rds:reboot-db-instances) needs target DBInstances.",
    }


def test_stopping_the_emulation_reverts_a_running_experiment(world: FisWorld) -> None:
    """The sandbox stops its FIS emulation before moto: running actions are reverted."""
    ec2 = world.client("ec2")
    net = _network(world)
    before = _acls(ec2, net["vpc"])
    experiment_id = world.start(
        {"blackhole": _disrupt("all", "PT12H")}, {"az-subnets": _subnet_target(net["vpc"])}
    )
    world.wait_action(experiment_id, "blackhole", "running")
    assert _acls(ec2, net["vpc"]) != before
    assert world.emulator is not None
    world.emulator.stop()
    assert _acls(ec2, net["vpc"]) == before
