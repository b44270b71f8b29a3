"""parse_atlas: the `botfront:atlas` block, valid and invalid (pure, no Pulumi runtime)."""

from __future__ import annotations

from typing import Any

import pytest

from components.atlas_catalog import default_cluster_name, default_project_name
from components.atlas_settings import AtlasSettings, BackupPolicy
from components.model import AccessObject as AccessEntry
from components.model import AutoScaling
from components.settings import parse_settings
from components.validation import ConfigError, show

ORG = "5f1e2d3c4b5a697887766554"
PROJECT = "65a0b1c2d3e4f5a6b7c8d9e0"
GOOD: dict[str, Any] = {
    "orgId": ORG,
    "provider": "AWS",
    "region": "EU_WEST_1",
    "instanceSize": "M10",
    "accessList": ["203.0.113.0/24"],
}


ABSENT = object()


def parse(
    atlas: Any = None,
    *,
    mode: str = "atlas",
    db: str = "bf",
    oplog: bool = False,
    protect: bool = True,
    **overrides: Any,
) -> tuple[AtlasSettings | None, list[str]]:
    """The block GOOD (or `atlas`) with `overrides` applied (None deletes a key), through parse_settings."""
    if atlas is None:
        atlas = {**GOOD, **overrides}
        atlas = {k: v for k, v in atlas.items() if v is not None}
    raw = {
        "rootUrl": "https://bf.example.com",
        "protect": protect,
        "database": {"mode": mode, "name": db, "oplog": oplog},
    }
    if atlas is not ABSENT:
        raw["atlas"] = atlas
    try:
        return parse_settings(raw, "test").atlas, []
    except ConfigError as error:
        return None, error.problems


# --- valid blocks --------------------------------------------------------------------------


def test_minimal_block_gets_production_defaults() -> None:
    settings, problems = parse()
    assert problems == []
    assert settings == AtlasSettings(
        provider="AWS",
        region="EU_WEST_1",
        instance_size="M10",
        org_id=ORG,
        node_count=3,
        mongo_version="8.0",
        auto_scaling=AutoScaling(disk=True),
        backup=BackupPolicy(daily_days=7),  # the stack protects its data
        access_list=(AccessEntry("203.0.113.0/24"),),
    )
    assert settings.dedicated and settings.tier == "dedicated"


def test_unprotected_stack_has_no_backups_by_default() -> None:
    settings, problems = parse(protect=False)
    assert problems == []
    assert settings is not None and settings.backup is None


def test_full_block() -> None:
    settings, problems = parse(
        provider="AZURE",
        region="EUROPE_WEST",
        instanceSize="M30",
        nodeCount=5,
        mongoVersion=7.0,  # unquoted in YAML: a number
        diskSizeGb=64,
        clusterName="botfront-prod",
        projectName="Botfront prod",
        autoScaling={"disk": True, "computeMin": "M20", "computeMax": "M50"},
        backup=True,
        backupRetentionDays=14,
        backupRetentionWeeks=8,
        backupRetentionMonths=12,
        backupHourUtc=3,
        pointInTime=True,
        accessList=[
            {"cidr": "198.51.100.0/28", "comment": "prod NAT"},
            "203.0.113.7",
        ],
    )
    assert problems == []
    assert settings == AtlasSettings(
        provider="AZURE",
        region="EUROPE_WEST",
        instance_size="M30",
        org_id=ORG,
        project_name="Botfront prod",
        cluster_name="botfront-prod",
        node_count=5,
        mongo_version="7.0",
        disk_size_gb=64,
        auto_scaling=AutoScaling(disk=True, compute_min="M20", compute_max="M50"),
        backup=BackupPolicy(daily_days=14, weekly_weeks=8, monthly_months=12, hour_utc=3, point_in_time=True),
        access_list=(AccessEntry("198.51.100.0/28", "prod NAT"), AccessEntry("203.0.113.7/32")),
    )


def test_existing_project_may_have_an_empty_access_list() -> None:
    settings, problems = parse(orgId=None, projectId=PROJECT, accessList=None)
    assert problems == []
    assert settings is not None and settings.project_id == PROJECT and settings.org_id is None
    assert settings.access_list == ()


def test_allow_anywhere_adds_the_open_entry_once() -> None:
    settings, problems = parse(allowAnywhere=True, accessList=[])
    assert problems == []
    assert settings is not None and settings.allow_anywhere
    assert [e.cidr for e in settings.access_list] == ["0.0.0.0/0"]
    settings, problems = parse(allowAnywhere=True, accessList=["0.0.0.0/0", "203.0.113.0/24"])
    assert problems == []
    assert settings is not None
    assert sorted(e.cidr for e in settings.access_list) == ["0.0.0.0/0", "203.0.113.0/24"]


@pytest.mark.parametrize("size", ["M0", "FLEX"])
def test_shared_tiers_without_oplog(size: str) -> None:
    settings, problems = parse(instanceSize=size, oplog=False, protect=False)
    assert problems == []
    assert settings is not None and not settings.dedicated
    assert settings.mongo_version is None  # Atlas picks it on shared tiers
    assert settings.backup is None  # even though the stack protects its data
    assert settings.auto_scaling == AutoScaling()


def test_oplog_allowed_when_the_image_reads_oplog_v2() -> None:
    settings, problems = parse(oplog=True, botfrontReadsOplogV2=True)
    assert problems == []
    assert settings is not None


@pytest.mark.parametrize(
    ("size", "family"),
    [("M30_GEN_2", "_GEN_2"), ("R40", ""), ("M200", "")],
)
def test_other_dedicated_tier_names(size: str, family: str) -> None:
    settings, problems = parse(instanceSize=size, autoScaling={"disk": False})
    assert problems == []
    assert settings is not None and settings.dedicated and settings.instance_size.endswith(family)


def test_nvme_tiers_are_refused_with_the_general_tier_to_use() -> None:
    _, problems = parse(instanceSize="M40_NVME", autoScaling={"disk": False})
    (problem,) = [p for p in problems if p.startswith("botfront:atlas.instanceSize: ")]
    assert "'M40_NVME'" in problem and "PROVISIONED" in problem and "M40" in problem


def test_default_names_are_valid_atlas_names() -> None:
    assert default_cluster_name("prod") == "bf-prod"
    assert default_cluster_name("My_Stack.pr-42") == "bf-my-stack-pr-42"
    assert len(default_cluster_name("x" * 100)) <= 64
    assert default_project_name("staging") == "botfront-staging"


# --- mode and shape ------------------------------------------------------------------------


def test_incluster_ignores_a_missing_block() -> None:
    assert parse(ABSENT, mode="incluster", oplog=True) == (None, [])


def test_incluster_refuses_an_atlas_block() -> None:
    settings, problems = parse(GOOD, mode="incluster")
    assert settings is None
    assert len(problems) == 1
    assert problems[0].startswith("botfront:atlas: got {")
    assert "only applies to database.mode atlas" in problems[0]


def test_atlas_mode_requires_the_block() -> None:
    _, problems = parse(ABSENT)
    assert problems[0].startswith("botfront:atlas: got None; required when database.mode is atlas")


def test_every_problem_is_reported_at_once() -> None:
    settings, problems = parse(provider="IBM", region="eu-west-1", instanceSize="M7", accessList=["x"])
    assert settings is None
    keys = [item.split(":")[1] for item in problems]
    assert keys == ["atlas.provider", "atlas.region", "atlas.instanceSize", "atlas.accessList[0]"]


# --- the catalog of bad blocks: each problem names the key, the value and what is allowed ---


def bad(
    case_id: str,
    key: str,
    value: Any,
    phrase: str,
    *,
    over: dict[str, Any] | None = None,
    kw: dict[str, Any] | None = None,
) -> Any:
    """One bad block: GOOD with `over` applied (parse kwargs `kw`) must report `key: got value; ...phrase`."""
    return pytest.param(over or {}, kw or {}, key, value, phrase, id=case_id)


BAD = [
    bad("not-a-mapping", "atlas", "M10", "expected an object", over={"__block__": "M10"}),
    bad("unknown-key", "atlas.instancesize", "M10", "unknown key", over={"instancesize": "M10"}),
    bad("provider-lower", "atlas.provider", "aws", "allowed: AWS, GCP, AZURE", over={"provider": "aws"}),
    bad("provider-unknown", "atlas.provider", "IBM", "allowed: AWS, GCP, AZURE", over={"provider": "IBM"}),
    bad("region-missing", "atlas.region", None, "required", over={"region": None}),
    bad(
        "region-cloud-name",
        "atlas.region",
        "eu-west-1",
        "did you mean EU_WEST_1",
        over={"region": "eu-west-1"},
    ),
    bad("region-not-text", "atlas.region", 1, "Atlas region name", over={"region": 1}),
    bad(
        "size-unknown",
        "atlas.instanceSize",
        "M7",
        "expected an Atlas cluster tier",
        over={"instanceSize": "M7"},
    ),
    bad("size-lower", "atlas.instanceSize", "m10", "did you mean M10", over={"instanceSize": "m10"}),
    bad("size-r-too-small", "atlas.instanceSize", "R20", "R40 and up", over={"instanceSize": "R20"}),
    bad(
        "size-retired", "atlas.instanceSize", "M5", "no longer creates M2 or M5", over={"instanceSize": "M5"}
    ),
    bad(
        "m0-with-oplog",
        "atlas.instanceSize",
        "M0",
        "give no oplog access",
        kw={"oplog": True},
        over={"instanceSize": "M0", "botfrontReadsOplogV2": True},
    ),
    bad(
        "flex-with-oplog",
        "atlas.instanceSize",
        "FLEX",
        "database.oplog: false",
        kw={"oplog": True},
        over={"instanceSize": "FLEX", "botfrontReadsOplogV2": True},
    ),
    bad(
        "m2-with-oplog",
        "atlas.instanceSize",
        "M2",
        "M10 or larger",
        kw={"oplog": True},
        over={"instanceSize": "M2"},
    ),
    bad("oplog-on-mongo-8", "database.oplog", True, "Meteor 2.0 cannot tail the oplog", kw={"oplog": True}),
    bad(
        "oplog-v2-flag-without-oplog",
        "atlas.botfrontReadsOplogV2",
        True,
        "only applies",
        over={"botfrontReadsOplogV2": True},
    ),
    bad("no-project", "atlas.orgId", None, "set atlas.orgId", over={"orgId": None}),
    bad(
        "both-projects", "atlas.projectId", PROJECT, "exactly one of atlas.orgId", over={"projectId": PROJECT}
    ),
    bad("org-id-format", "atlas.orgId", "my-org", "24-character lower-case hex id", over={"orgId": "my-org"}),
    bad("project-id-format", "atlas.projectId", 42, "24-character", over={"orgId": None, "projectId": 42}),
    bad(
        "project-name-with-project-id",
        "atlas.projectName",
        "x",
        "only applies when a project is created",
        over={"orgId": None, "projectId": PROJECT, "projectName": "x"},
    ),
    bad("project-name-format", "atlas.projectName", "-x", "Atlas project name", over={"projectName": "-x"}),
    bad(
        "cluster-name-format",
        "atlas.clusterName",
        "bf_prod",
        "Atlas cluster name",
        over={"clusterName": "bf_prod"},
    ),
    bad(
        "cidr-bad",
        "atlas.accessList[0]",
        "203.0.113.0/33",
        "IPv4 CIDR",
        over={"accessList": ["203.0.113.0/33"]},
    ),
    bad("cidr-text", "atlas.accessList[0]", "office", "IPv4 CIDR", over={"accessList": ["office"]}),
    bad("cidr-ipv6", "atlas.accessList[0]", "2001:db8::/32", "IPv4", over={"accessList": ["2001:db8::/32"]}),
    bad(
        "cidr-host-bits",
        "atlas.accessList[0]",
        "203.0.113.5/24",
        "did you mean 203.0.113.0/24",
        over={"accessList": ["203.0.113.5/24"]},
    ),
    bad(
        "cidr-anywhere",
        "atlas.accessList[0]",
        "0.0.0.0/0",
        "allowAnywhere: true",
        over={"accessList": ["0.0.0.0/0"]},
    ),
    bad(
        "cidr-anywhere-object",
        "atlas.accessList[0].cidr",
        "0.0.0.0/0",
        "whole internet",
        over={"accessList": [{"cidr": "0.0.0.0/0"}]},
    ),
    bad(
        "cidr-duplicate",
        "atlas.accessList",
        "203.0.113.0/24",
        "listed twice",
        over={"accessList": ["203.0.113.0/24", "203.0.113.0/24"]},
    ),
    bad(
        "access-list-empty",
        "atlas.accessList",
        [],
        "required when a project is created",
        over={"accessList": []},
    ),
    bad(
        "access-list-not-list",
        "atlas.accessList",
        "203.0.113.0/24",
        "a list",
        over={"accessList": "203.0.113.0/24"},
    ),
    bad(
        "access-comment-long",
        "atlas.accessList[0].comment",
        "c" * 81,
        "at most 80",
        over={"accessList": [{"cidr": "203.0.113.0/24", "comment": "c" * 81}]},
    ),
    bad(
        "allow-anywhere-not-bool",
        "atlas.allowAnywhere",
        "yes",
        "true or false",
        over={"allowAnywhere": "yes"},
    ),
    bad("mongo-eol", "atlas.mongoVersion", "4.4", "end of life", over={"mongoVersion": "4.4"}),
    bad("mongo-unknown", "atlas.mongoVersion", "9.0", "allowed: 7.0, 8.0", over={"mongoVersion": "9.0"}),
    bad("mongo-int", "atlas.mongoVersion", 8, "allowed: 7.0, 8.0", over={"mongoVersion": 8}),
    bad(
        "mongo-on-m0",
        "atlas.mongoVersion",
        "8.0",
        "cannot be pinned",
        over={"instanceSize": "M0", "mongoVersion": "8.0"},
    ),
    bad("node-count-even", "atlas.nodeCount", 4, "3, 5 or 7", over={"nodeCount": 4}),
    bad("node-count-range", "atlas.nodeCount", 9, "from 3 to 7", over={"nodeCount": 9}),
    bad(
        "node-count-on-flex", "atlas.nodeCount", 3, "dedicated", over={"instanceSize": "FLEX", "nodeCount": 3}
    ),
    bad("disk-on-aws", "atlas.diskSizeGb", 40, "Provisioned IOPS", over={"diskSizeGb": 40}),
    bad(
        "disk-missing-on-gcp",
        "atlas.diskSizeGb",
        None,
        "required on GCP",
        over={"provider": "GCP", "region": "WESTERN_EUROPE"},
    ),
    bad(
        "disk-too-small",
        "atlas.diskSizeGb",
        5,
        "from 10 to 4096",
        over={"provider": "GCP", "region": "WESTERN_EUROPE", "diskSizeGb": 5},
    ),
    bad("disk-on-m0", "atlas.diskSizeGb", 10, "fixed storage", over={"instanceSize": "M0", "diskSizeGb": 10}),
    bad(
        "scaling-on-m0",
        "atlas.autoScaling",
        {"disk": True},
        "dedicated tiers only",
        over={"instanceSize": "M0", "autoScaling": {"disk": True}},
    ),
    bad(
        "scaling-max-below",
        "atlas.autoScaling.computeMax",
        "M20",
        "at least atlas.instanceSize (M30)",
        over={"instanceSize": "M30", "autoScaling": {"computeMax": "M20"}},
    ),
    bad(
        "scaling-min-above",
        "atlas.autoScaling.computeMin",
        "M20",
        "at most atlas.instanceSize (M10)",
        over={"autoScaling": {"computeMin": "M20", "computeMax": "M40"}},
    ),
    bad(
        "scaling-min-alone",
        "atlas.autoScaling.computeMin",
        "M10",
        "also set atlas.autoScaling.computeMax",
        over={"instanceSize": "M30", "autoScaling": {"computeMin": "M10"}},
    ),
    bad(
        "scaling-other-family",
        "atlas.autoScaling.computeMax",
        "R40",
        "same kind",
        over={"autoScaling": {"computeMax": "R40"}},
    ),
    bad(
        "scaling-unknown-key",
        "atlas.autoScaling.cpu",
        True,
        "unknown key",
        over={"autoScaling": {"cpu": True}},
    ),
    bad(
        "backup-on-m0", "atlas.backup", True, "no cloud backups", over={"instanceSize": "M0", "backup": True}
    ),
    bad(
        "backup-on-flex",
        "atlas.backup",
        True,
        "fixed daily snapshots",
        over={"instanceSize": "FLEX", "backup": True},
    ),
    bad("backup-not-bool", "atlas.backup", "daily", "true or false", over={"backup": "daily"}),
    bad("retention-zero", "atlas.backupRetentionDays", 0, "from 1 to 3650", over={"backupRetentionDays": 0}),
    bad(
        "retention-negative",
        "atlas.backupRetentionDays",
        -3,
        "from 1 to 3650",
        over={"backupRetentionDays": -3},
    ),
    bad(
        "retention-weekly-short",
        "atlas.backupRetentionWeeks",
        1,
        "at least 2",
        over={"backupRetentionDays": 14, "backupRetentionWeeks": 1},
    ),
    bad(
        "retention-monthly-short",
        "atlas.backupRetentionMonths",
        1,
        "at least 2",
        over={"backupRetentionWeeks": 8, "backupRetentionMonths": 1},
    ),
    bad("backup-hour", "atlas.backupHourUtc", 24, "from 0 to 23", over={"backupHourUtc": 24}),
    bad(
        "retention-without-backup",
        "atlas.backupRetentionDays",
        7,
        "only applies with atlas.backup: true",
        over={"backup": False, "backupRetentionDays": 7},
    ),
    # What Atlas would refuse later (tiers per provider, disk limit) and the policy pack at preview.
    bad(
        "gen2-on-gcp",
        "atlas.instanceSize",
        "M30_GEN_2",
        "Gen2 tiers exist on AWS only",
        over={"provider": "GCP", "region": "WESTERN_EUROPE", "instanceSize": "M30_GEN_2", "diskSizeGb": 40},
    ),
    bad(
        "gen2-too-small",
        "atlas.instanceSize",
        "M10_GEN_2",
        "from M30_GEN_2",
        over={"instanceSize": "M10_GEN_2"},
    ),
    bad(
        "tier-not-on-azure",
        "atlas.instanceSize",
        "M140",
        "AZURE offers M10, M20",
        over={"provider": "AZURE", "region": "EUROPE_WEST", "instanceSize": "M140"},
    ),
    bad(
        "disk-beyond-tier",
        "atlas.diskSizeGb",
        200,
        "at most 100 GB on M10",
        over={"provider": "GCP", "region": "WESTERN_EUROPE", "diskSizeGb": 200},
    ),
    bad("protected-m0", "atlas.instanceSize", "M0", "needs backups", over={"instanceSize": "M0"}),
    bad("protected-no-backup", "atlas.backup", False, "keeps cloud backups", over={"backup": False}),
    bad("reserved-db-name", "database.name", "admin", "MongoDB's own databases", kw={"db": "admin"}),
]


@pytest.mark.parametrize(("overrides", "kwargs", "key", "value", "phrase"), BAD)
def test_bad_block(
    overrides: dict[str, Any], kwargs: dict[str, Any], key: str, value: Any, phrase: str
) -> None:
    if "__block__" in overrides:
        settings, problems = parse(overrides["__block__"], **kwargs)
    else:
        settings, problems = parse(**kwargs, **overrides)
    assert settings is None
    prefix = f"botfront:{key}: got {show(value)}; "
    matching = [item for item in problems if item.startswith(prefix)]
    assert matching, f"no problem starts with {prefix!r}: {problems}"
    assert any(phrase in item for item in matching), f"{phrase!r} not in {matching}"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stacks_the_policy_protects_must_keep_protect_on(stack: str) -> None:
    database = {"mode": "atlas", "oplog": False}
    raw = {"rootUrl": "https://bf.example.com", "protect": False, "database": database, "atlas": GOOD}
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, stack)
    (problem,) = [p for p in info.value.problems if p.startswith("botfront:protect: got False; ")]
    assert "staging and prod" in problem
    assert parse_settings(raw, "qa").atlas is not None  # other names: the stack's own choice
