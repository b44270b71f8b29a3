"""AtlasDatabase under Pulumi mocks: what it registers, what it protects, and its URLs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from components.atlas import (
    AtlasDatabase,
    AtlasDatabaseArgs,
    access_entry_name,
    build_mongo_url,
    srv_host,
)
from components.atlas_settings import AtlasSettings, BackupPolicy
from components.model import AccessObject as AccessEntry
from components.model import AutoScaling

SRV = "mongodb+srv://bf-staging.abcde.mongodb.net"
HOST = "bf-staging.abcde.mongodb.net"
ORG = "5f1e2d3c4b5a697887766554"
PROJECT = "65a0b1c2d3e4f5a6b7c8d9e0"
AWKWARD_PASSWORD = "p@ss:w/rd?#%&+ ="

CLUSTER = "mongodbatlas:index/advancedCluster:AdvancedCluster"
PROJECT_TYPE = "mongodbatlas:index/project:Project"
USER = "mongodbatlas:index/databaseUser:DatabaseUser"
ACCESS = "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList"
BACKUP = "mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule"
PASSWORD = "random:index/randomPassword:RandomPassword"
COMPONENT = "botfront:atlas:AtlasDatabase"

SETTINGS = AtlasSettings(
    provider="AWS",
    region="EU_WEST_1",
    instance_size="M10",
    org_id=ORG,
    mongo_version="8.0",
    auto_scaling=AutoScaling(disk=True, compute_max="M30"),
    backup=BackupPolicy(daily_days=7),
    access_list=(AccessEntry("203.0.113.0/24", "staging NAT"), AccessEntry("198.51.100.7/32")),
)


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    protect: bool | None = None
    retain_on_delete: bool | None = None


class Mocks(pulumi.runtime.Mocks):
    """Fabricates what Atlas and pulumi-random compute; records every registration."""

    def __init__(self, password: str = "s3cret-Pa55") -> None:
        self.password = password
        self.registered: dict[str, Registered] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.registered.setdefault(args.name, Registered(args.typ, args.name, {})).inputs = dict(args.inputs)
        state = dict(args.inputs)
        if args.typ == CLUSTER:
            state["connectionStrings"] = {"standardSrv": SRV}
        elif args.typ == PASSWORD:
            state["result"] = self.password
        elif args.typ == PROJECT_TYPE:
            return PROJECT, state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


class RecordingMonitor(MockMonitor):
    """Records the `protect` flag each RegisterResource request carries to the engine."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        entry = self.recorder.registered.setdefault(request.name, Registered(request.type, request.name, {}))
        entry.protect = request.protect if request.HasField("protect") else None
        entry.retain_on_delete = request.retainOnDelete if request.HasField("retainOnDelete") else None
        return super().RegisterResource(request)


@dataclass
class Built:
    db: AtlasDatabase
    mocks: Mocks
    values: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.mocks.registered.values() if r.typ == typ]

    def one(self, typ: str) -> Registered:
        (found,) = self.of_type(typ)
        return found


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    mocks = Mocks()
    pulumi.runtime.set_mocks(
        mocks, project="botfront", stack="staging", preview=False, monitor=RecordingMonitor(mocks)
    )
    yield mocks


def build(
    mocks: Mocks,
    settings: AtlasSettings = SETTINGS,
    *,
    oplog: bool = True,
    protect: bool = True,
    database: str = "bf",
) -> Built:
    """Builds the component, resolves its outputs (values and secrecy), waits for every RPC."""
    holder: dict[str, Built] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        db = AtlasDatabase(
            "database",
            AtlasDatabaseArgs(
                settings=settings, database_name=database, oplog=oplog, protect=protect, stack="staging"
            ),
        )
        built = holder["built"] = Built(db, mocks)
        outputs: dict[str, Any] = {
            "mongo_url": db.mongo_url,
            "mongo_url_secret": pulumi.Output.from_input(db.mongo_url.is_secret()),
            "srv_host": db.srv_host,
            "cluster_name": db.cluster_name,
            "project_id": db.project_id,
        }
        if db.mongo_oplog_url is not None:
            outputs["oplog_url"] = db.mongo_oplog_url
            outputs["oplog_url_secret"] = pulumi.Output.from_input(db.mongo_oplog_url.is_secret())
        return pulumi.Output.all(**outputs).apply(built.values.update)

    run()
    return holder["built"]


# --- pure helpers --------------------------------------------------------------------------


def test_srv_host() -> None:
    assert srv_host(SRV) == HOST
    assert srv_host(SRV + "/") == HOST
    for bad in ("", "mongodb://host:27017", "mongodb+srv://", "mongodb+srv://u:p@host"):
        with pytest.raises(ValueError, match="mongodb\\+srv://"):
            srv_host(bad)


def test_url_encodes_awkward_passwords() -> None:
    url = build_mongo_url(SRV, "bf-staging-app", AWKWARD_PASSWORD, "bf", "authSource=admin")
    parts = urlsplit(url)
    assert parts.scheme == "mongodb+srv"
    assert parts.hostname == HOST
    assert parts.username == "bf-staging-app"
    assert parts.password is not None and unquote(parts.password) == AWKWARD_PASSWORD
    assert parts.path == "/bf"
    assert parse_qs(parts.query) == {"authSource": ["admin"]}
    assert parts.fragment == ""


def test_access_entry_names_are_stable_slugs() -> None:
    assert access_entry_name("203.0.113.0/24") == "203-0-113-0-24"


# --- the component ---------------------------------------------------------------------------


def test_cluster_args(mocks: Mocks) -> None:
    built = build(mocks)
    cluster = built.one(CLUSTER).inputs
    assert cluster["clusterType"] == "REPLICASET"
    assert cluster["name"] == "bf-staging"  # default from the stack name
    assert cluster["projectId"] == PROJECT  # the project this stack created
    assert cluster["mongoDbMajorVersion"] == "8.0"
    assert cluster["backupEnabled"] is True
    assert cluster["pitEnabled"] is False
    assert cluster["retainBackupsEnabled"] is True
    assert cluster["terminationProtectionEnabled"] is True
    assert cluster["useEffectiveFields"] is True
    (spec,) = cluster["replicationSpecs"]
    (region,) = spec["regionConfigs"]
    assert region["providerName"] == "AWS"
    assert region["regionName"] == "EU_WEST_1"
    assert region["priority"] == 7
    assert region["electableSpecs"] == {"instanceSize": "M10", "nodeCount": 3}
    assert region["autoScaling"] == {
        "diskGbEnabled": True,
        "computeEnabled": True,
        "computeScaleDownEnabled": False,
        "computeMaxInstanceSize": "M30",
    }
    assert built.values["cluster_name"] == "bf-staging"
    assert built.values["srv_host"] == HOST


def test_project_is_created_under_the_org(mocks: Mocks) -> None:
    built = build(mocks)
    project = built.one(PROJECT_TYPE).inputs
    assert project == {"orgId": ORG, "name": "botfront-staging"}
    assert built.values["project_id"] == PROJECT


def test_existing_project_is_used_not_created(mocks: Mocks) -> None:
    settings = replace(SETTINGS, org_id=None, project_id="0123456789abcdef01234567")
    built = build(mocks, settings)
    assert built.of_type(PROJECT_TYPE) == []
    assert built.one(CLUSTER).inputs["projectId"] == "0123456789abcdef01234567"
    assert {r.inputs["projectId"] for r in built.of_type(ACCESS)} == {"0123456789abcdef01234567"}
    assert built.values["project_id"] == "0123456789abcdef01234567"


def test_user_roles_and_scope_with_oplog(mocks: Mocks) -> None:
    built = build(mocks, oplog=True)
    user = built.one(USER).inputs
    assert user["username"] == "bf-staging-app"
    assert user["authDatabaseName"] == "admin"
    # The password reaches the engine as a secret (the mock monitor shows its wire form).
    assert user["password"]["value"] == mocks.password
    assert user["password"][pulumi.runtime.rpc._special_sig_key] == pulumi.runtime.rpc._special_secret_sig
    assert user["roles"] == [
        {"roleName": "readWrite", "databaseName": "bf"},
        {"roleName": "read", "databaseName": "local"},
    ]
    assert user["scopes"] == [{"name": "bf-staging", "type": "CLUSTER"}]
    assert user["projectId"] == PROJECT


def test_user_without_oplog_has_no_access_to_local(mocks: Mocks) -> None:
    built = build(mocks, oplog=False)
    assert built.one(USER).inputs["roles"] == [{"roleName": "readWrite", "databaseName": "bf"}]
    assert built.db.mongo_oplog_url is None
    assert "oplog_url" not in built.values


def test_password_is_generated_with_specials(mocks: Mocks) -> None:
    built = build(mocks)
    password = built.one(PASSWORD).inputs
    assert password["length"] == 32
    assert password["special"] is True
    assert set(password["overrideSpecial"]) <= set("-_.~!#%*+=?")


def test_access_list_entries(mocks: Mocks) -> None:
    built = build(mocks)
    entries = {r.name: r.inputs for r in built.of_type(ACCESS)}
    assert entries == {
        "database-access-203-0-113-0-24": {
            "projectId": PROJECT,
            "cidrBlock": "203.0.113.0/24",
            "comment": "staging NAT",
        },
        "database-access-198-51-100-7-32": {
            "projectId": PROJECT,
            "cidrBlock": "198.51.100.7/32",
            "comment": "botfront staging",
        },
    }


def test_backup_schedule_and_retention(mocks: Mocks) -> None:
    settings = replace(
        SETTINGS,
        backup=BackupPolicy(daily_days=14, weekly_weeks=8, monthly_months=12, hour_utc=3, point_in_time=True),
    )
    built = build(mocks, settings)
    schedule = built.one(BACKUP).inputs
    # The cluster's own outputs, so the schedule waits for the cluster.
    assert schedule["projectId"] == PROJECT
    assert schedule["clusterName"] == "bf-staging"
    assert schedule["policyItemDaily"] == {
        "frequencyInterval": 1,
        "retentionUnit": "days",
        "retentionValue": 14,
    }
    assert schedule["policyItemWeeklies"] == [
        {"frequencyInterval": 7, "retentionUnit": "weeks", "retentionValue": 8}
    ]
    assert schedule["policyItemMonthlies"] == [
        {"frequencyInterval": 1, "retentionUnit": "months", "retentionValue": 12}
    ]
    assert schedule["referenceHourOfDay"] == 3
    assert schedule["referenceMinuteOfHour"] == 0
    assert built.one(CLUSTER).inputs["pitEnabled"] is True


def test_no_backups_when_the_stack_asks_for_none(mocks: Mocks) -> None:
    built = build(mocks, replace(SETTINGS, backup=None), protect=False)
    assert built.of_type(BACKUP) == []
    cluster = built.one(CLUSTER).inputs
    assert cluster["backupEnabled"] is False
    assert cluster["retainBackupsEnabled"] is False


def test_protected_stack_protects_its_data(mocks: Mocks) -> None:
    built = build(mocks, protect=True)
    for data in (CLUSTER, PROJECT_TYPE, BACKUP):
        assert built.one(data).protect is True, data
        assert built.one(data).retain_on_delete is True, data
    assert built.one(CLUSTER).inputs["terminationProtectionEnabled"] is True
    # Rotating these loses no data: they stay replaceable.
    assert not built.one(USER).protect
    assert not built.one(PASSWORD).protect
    assert not any(r.protect for r in built.of_type(ACCESS))
    assert built.db._protect is not True  # the component itself is not protected


def test_unprotected_stack_protects_nothing(mocks: Mocks) -> None:
    built = build(mocks, protect=False)
    assert built.mocks.registered, "nothing was registered"
    protected = [r.name for r in built.mocks.registered.values() if r.protect or r.retain_on_delete]
    assert protected == []
    assert built.one(CLUSTER).inputs["terminationProtectionEnabled"] is False


def test_snapshots_are_retained_whenever_backups_are_on_even_unprotected(mocks: Mocks) -> None:
    # Atlas reads retainBackupsEnabled only on delete, from the state: switching protection off
    # must not also switch it off, or the next delete takes every snapshot with the cluster.
    assert build(mocks, protect=False).one(CLUSTER).inputs["retainBackupsEnabled"] is True


def test_children_are_parented_to_the_component(mocks: Mocks) -> None:
    built = build(mocks)
    assert built.one(COMPONENT).name == "database"
    children = built.db._childResources
    assert built.db.cluster in children and built.db.user in children
    assert built.db.project in children and built.db.backup_schedule in children
    assert all(entry in children for entry in built.db.access_entries)


def test_urls_are_secret_and_well_formed(mocks: Mocks) -> None:
    built = build(mocks, oplog=True)
    assert built.values["mongo_url_secret"] is True
    assert built.values["oplog_url_secret"] is True

    url = urlsplit(built.values["mongo_url"])
    assert url.scheme == "mongodb+srv"
    assert url.hostname == HOST
    assert url.username == "bf-staging-app"
    assert url.password is not None and unquote(url.password) == mocks.password
    assert url.path == "/bf"
    assert parse_qs(url.query) == {"retryWrites": ["true"], "w": ["majority"], "authSource": ["admin"]}

    oplog = urlsplit(built.values["oplog_url"])
    assert (oplog.scheme, oplog.hostname, oplog.username) == ("mongodb+srv", HOST, "bf-staging-app")
    assert oplog.path == "/local"  # Meteor insists on the local database
    assert parse_qs(oplog.query) == {"authSource": ["admin"]}


def test_awkward_password_round_trips_through_the_url(mocks: Mocks) -> None:
    mocks.password = AWKWARD_PASSWORD
    built = build(mocks)
    for key in ("mongo_url", "oplog_url"):
        parts = urlsplit(built.values[key])
        assert parts.hostname == HOST, key  # '@', ':' and '/' in the password did not leak
        assert parts.fragment == "", key  # '#' did not cut the URL short
        assert parts.password is not None and unquote(parts.password) == AWKWARD_PASSWORD, key
    assert urlsplit(built.values["mongo_url"]).path == "/bf"


@pytest.mark.parametrize("size", ["M0", "FLEX"])
def test_shared_tiers(mocks: Mocks, size: str) -> None:
    settings = replace(
        SETTINGS, instance_size=size, mongo_version=None, backup=None, auto_scaling=AutoScaling()
    )
    built = build(mocks, settings, oplog=False, protect=False)
    cluster = built.one(CLUSTER).inputs
    (region,) = cluster["replicationSpecs"][0]["regionConfigs"]
    assert region["backingProviderName"] == "AWS"
    assert region["priority"] == 7
    assert region["providerName"] == ("TENANT" if size == "M0" else "FLEX")
    assert ("electableSpecs" in region) == (size == "M0")
    for dedicated_only in ("mongoDbMajorVersion", "backupEnabled", "pitEnabled", "useEffectiveFields"):
        assert dedicated_only not in cluster
    assert built.of_type(BACKUP) == []


def test_gcp_disk_size_and_names(mocks: Mocks) -> None:
    settings = replace(
        SETTINGS,
        provider="GCP",
        region="WESTERN_EUROPE",
        instance_size="M30",
        node_count=5,
        disk_size_gb=40,
        cluster_name="botfront-prod",
        project_name="Botfront prod",
        auto_scaling=AutoScaling(disk=False, compute_min="M20", compute_max="M40"),
    )
    built = build(mocks, settings)
    (region,) = built.one(CLUSTER).inputs["replicationSpecs"][0]["regionConfigs"]
    assert region["electableSpecs"] == {"instanceSize": "M30", "nodeCount": 5, "diskSizeGb": 40}
    assert region["autoScaling"]["computeScaleDownEnabled"] is True
    assert region["autoScaling"]["computeMinInstanceSize"] == "M20"
    assert built.one(CLUSTER).inputs["name"] == "botfront-prod"
    assert built.one(PROJECT_TYPE).inputs["name"] == "Botfront prod"
    assert built.one(USER).inputs["username"] == "botfront-prod-app"
    assert built.one(USER).inputs["scopes"] == [{"name": "botfront-prod", "type": "CLUSTER"}]
