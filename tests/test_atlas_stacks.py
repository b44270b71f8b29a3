"""The Atlas stack files (every stack with database.mode atlas), each checked on its own plan:
cluster, user roles, access list, backups, protection, and the secret URLs Botfront gets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ops.offline import Plan, load_stack_config
from tests.conftest import STACKS, env_of, plan_for

CLUSTER = "mongodbatlas:index/advancedCluster:AdvancedCluster"
USER = "mongodbatlas:index/databaseUser:DatabaseUser"
ACCESS = "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList"
BACKUP = "mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule"
PASSWORD = "random:index/randomPassword:RandomPassword"


def config(stack: str) -> dict[str, Any]:
    """The stack's `botfront:*` values as the program receives them, decoded."""
    values, _ = load_stack_config(stack)
    decoded: dict[str, Any] = {}
    for key, text in values.items():
        if key.startswith("botfront:"):
            try:
                decoded[key.split(":", 1)[1]] = json.loads(text)
            except ValueError:
                decoded[key.split(":", 1)[1]] = text
    return decoded


ATLAS_STACKS = [s for s in STACKS if config(s)["database"].get("mode") == "atlas"]


def test_the_long_lived_stacks_use_atlas() -> None:
    assert {"staging", "prod"} <= set(ATLAS_STACKS)


@pytest.fixture(params=ATLAS_STACKS)
def stack(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Plan]:
    return request.param, config(request.param), plan_for(request.param)


def only(plan: Plan, type_: str) -> Any:
    (resource,) = plan.of_type(type_)
    return resource


def test_cluster_follows_the_stack(stack: tuple[str, dict[str, Any], Plan]) -> None:
    _, cfg, plan = stack
    atlas, protect = cfg["atlas"], cfg.get("protect", True)
    cluster = only(plan, CLUSTER)
    inputs = cluster.secret_inputs
    assert inputs["clusterType"] == "REPLICASET"
    (spec,) = inputs["replicationSpecs"]
    (region,) = spec["regionConfigs"]
    assert (region["providerName"], region["regionName"]) == (atlas["provider"], atlas["region"])
    assert region["electableSpecs"]["instanceSize"] == atlas["instanceSize"]
    assert inputs["mongoDbMajorVersion"] == atlas["mongoVersion"]
    assert inputs["backupEnabled"] is bool(atlas.get("backup"))
    assert inputs["terminationProtectionEnabled"] is protect
    assert (cluster.protect, cluster.retain_on_delete) == (protect, protect)
    assert not plan.of_type("kubernetes:apps/v1:Deployment") or "mongo" not in {
        d.name for d in plan.of_type("kubernetes:apps/v1:Deployment")
    }


def test_one_user_scoped_to_the_cluster_with_the_right_roles(stack: tuple[str, dict[str, Any], Plan]) -> None:
    _, cfg, plan = stack
    user = only(plan, USER).secret_inputs
    cluster_name = only(plan, CLUSTER).secret_inputs["name"]
    expected = [{"roleName": "readWrite", "databaseName": cfg["database"]["name"]}]
    if cfg["database"].get("oplog", False):
        expected.append({"roleName": "read", "databaseName": "local"})
    assert user["roles"] == expected
    assert user["authDatabaseName"] == "admin"
    assert user["scopes"] == [{"type": "CLUSTER", "name": cluster_name}]


def test_access_list_is_exactly_the_stack_list(stack: tuple[str, dict[str, Any], Plan]) -> None:
    _, cfg, plan = stack
    wanted = {e["cidr"] if isinstance(e, dict) else e for e in cfg["atlas"]["accessList"]}
    assert {r.secret_inputs["cidrBlock"] for r in plan.of_type(ACCESS)} == wanted
    assert "0.0.0.0/0" not in wanted


def test_backup_schedule_exactly_when_asked(stack: tuple[str, dict[str, Any], Plan]) -> None:
    _, cfg, plan = stack
    schedules = plan.of_type(BACKUP)
    assert bool(schedules) is bool(cfg["atlas"].get("backup"))
    if schedules:
        (schedule,) = schedules
        daily = schedule.secret_inputs["policyItemDaily"]
        assert daily["retentionValue"] == cfg["atlas"].get("backupRetentionDays", 7)  # the default: a week
        assert schedule.secret_inputs["clusterName"] == only(plan, CLUSTER).secret_inputs["name"]


def test_botfront_gets_secret_well_formed_srv_urls(stack: tuple[str, dict[str, Any], Plan]) -> None:
    _, cfg, plan = stack
    data = plan.get("kubernetes:core/v1:Secret", "botfront-secrets").secret_inputs["stringData"]
    url = urlsplit(data["mongo-url"])
    user = only(plan, USER).secret_inputs
    assert url.scheme == "mongodb+srv" and url.hostname and url.hostname.endswith(".mongodb.net")
    assert url.username == user["username"]
    assert unquote(url.password or "") == user["password"]  # special characters survive encoding
    assert url.path == "/" + cfg["database"]["name"]
    assert parse_qs(url.query)["authSource"] == ["admin"]
    assert ("mongo-oplog-url" in data) is bool(cfg["database"].get("oplog", False))
    assert env_of(plan, "botfront")["MONGO_URL"] == ("secret", "botfront-secrets", "mongo-url")
    assert "mongoUrl" in plan.secret_outputs
    text = json.dumps(plan.as_json())
    assert user["password"] not in text and data["mongo-url"] not in text


def test_the_password_needs_url_encoding_and_gets_it() -> None:
    # The generated password has special characters (mocks always include a reserved one), so the
    # URL test above exercises encoding for real.
    plan = plan_for(ATLAS_STACKS[0])
    password = only(plan, USER).secret_inputs["password"]
    assert any(c in password for c in ":/?#[]@%+=")
