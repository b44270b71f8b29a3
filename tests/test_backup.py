"""Backups of the in-cluster MongoDB: the settings (`botfront:backup`, `botfront:restoreFrom`), the
cron validator, the MongoBackup component under mocks, and its shell scripts run for real against
stub `mongodump`/`mongorestore` binaries."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components import settings as settings_module
from components.backup import (
    BACKUP_RESOURCES,
    BACKUP_SCRIPT,
    MONGO_URI,
    RESTORE_SCRIPT,
    MongoBackup,
    MongoBackupArgs,
    restore_job_name,
)
from components.backup_settings import (
    DEFAULT_RETENTION,
    DEFAULT_SCHEDULE,
    DEFAULT_SIZE,
    FIELDS,
    MACROS,
    BackupSettings,
    CronError,
    archive_name_problem,
    cron_problem,
    parse_cron,
)
from components.mongo import InClusterMongo, InClusterMongoArgs
from components.settings import Resources
from components.validation import ConfigError, show
from ops.offline import Plan, PlannedResource, load_stack_config, run_components
from ops.plan import schema_errors

ARCHIVE = "bf-20240131T023000Z.archive.gz"
IMAGE = "mongo:4.4.29"
CRON = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def parse(
    block: Any = None, restore_from: Any = None, *, mode: str = "incluster", protect: bool = True
) -> tuple[BackupSettings | None, list[str]]:
    """`botfront:backup` and `botfront:restoreFrom` through parse_settings (atlas mode gets a valid block)."""
    raw: dict[str, Any] = {
        "rootUrl": "https://bf.example.com",
        "protect": protect,
        "database": {"mode": mode},
    }
    if mode == "atlas":
        raw["database"]["oplog"] = False
        raw["atlas"] = {
            "orgId": "5f1e2d3c4b5a697887766554",
            "region": "EU_WEST_1",
            "accessList": ["203.0.113.0/24"],
        }
    raw |= {k: v for k, v in (("backup", block), ("restoreFrom", restore_from)) if v is not None}
    try:
        return settings_module.parse_settings(raw, "test").backup, []
    except ConfigError as error:
        return None, error.problems


# ---- settings: valid ---------------------------------------------------------------------------


def test_an_empty_block_turns_backups_on_with_defaults() -> None:
    assert parse({"enabled": True}) == (
        BackupSettings(schedule=DEFAULT_SCHEDULE, retention=DEFAULT_RETENTION, size=DEFAULT_SIZE),
        [],
    )


def test_a_full_block_is_read_and_the_schedule_normalised() -> None:
    block = {"schedule": " 0  */6 * * MON-FRI ", "retention": "14", "size": "2Gi", "storageClass": "fast-ssd"}
    result, problems = parse(block, ARCHIVE)
    assert problems == []
    assert result == BackupSettings(
        schedule="0 */6 * * MON-FRI", retention=14, size="2Gi", storage_class="fast-ssd", restore_from=ARCHIVE
    )
    assert result.restore_source_database == "bf"


def test_no_block_or_enabled_false_means_no_backups_and_no_problem() -> None:
    assert parse(None) == (None, [])
    assert parse({"enabled": False, "schedule": "0 1 * * *"}) == (None, [])
    assert parse(None, mode="atlas") == (None, [])


def test_the_source_database_of_an_archive_may_contain_dashes() -> None:
    result, problems = parse({"enabled": True}, "my-db-20240131T023000Z.archive.gz")
    assert problems == [] and result is not None
    assert result.restore_source_database == "my-db"


# ---- settings: invalid, each problem naming the key, the value and what is allowed ---------------

BAD: list[tuple[str, Any, Any, str, str, str]] = [
    # (id, block, restoreFrom, mode, key, fragment of the reason)
    ("minute-range", {"schedule": "61 * * * *"}, None, "incluster", "backup.schedule", "61 is outside 0-59"),
    ("four-fields", {"schedule": "* * * *"}, None, "incluster", "backup.schedule", "4 fields instead of 5"),
    ("weekday-7", {"schedule": "0 3 * * 7"}, None, "incluster", "backup.schedule", "does not accept 7"),
    ("bad-name", {"schedule": "0 3 * * FUN"}, None, "incluster", "backup.schedule", "not a number or a name"),
    ("zero-step", {"schedule": "*/0 * * * *"}, None, "incluster", "backup.schedule", "at least 1"),
    ("never-runs", {"schedule": "0 0 30 2 *"}, None, "incluster", "backup.schedule", "never runs"),
    ("not-a-string", {"schedule": 5}, None, "incluster", "backup.schedule", "quoted string"),
    ("retention-0", {"retention": 0}, None, "incluster", "backup.retention", "must be at least 1"),
    ("retention-negative", {"retention": -3}, None, "incluster", "backup.retention", "must be at least 1"),
    ("retention-text", {"retention": "many"}, None, "incluster", "backup.retention", "whole number"),
    ("retention-bool", {"retention": True}, None, "incluster", "backup.retention", "whole number"),
    ("retention-huge", {"retention": 5000}, None, "incluster", "backup.retention", "from 1 to 1000"),
    ("size-millibytes", {"size": "512m"}, None, "incluster", "backup.size", "Kubernetes quantity"),
    ("storage-class", {"storageClass": "Fast_SSD"}, None, "incluster", "backup.storageClass", "StorageClass"),
    ("unknown-key", {"keep": 3}, None, "incluster", "backup.keep", "unknown key"),
    ("not-an-object", "daily", None, "incluster", "backup", "expected an object"),
    ("atlas-backup", {"schedule": "0 3 * * *"}, None, "atlas", "backup", "configured under botfront:atlas"),
    ("atlas-restore", None, ARCHIVE, "atlas", "restoreFrom", "only applies to database.mode incluster"),
    ("restore-latest", {}, "latest", "incluster", "restoreFrom", "<database>-<UTC timestamp"),
    ("restore-path", {}, "../" + ARCHIVE, "incluster", "restoreFrom", "a name only, no directory"),
    ("restore-month-13", {}, "bf-20241301T000000Z.archive.gz", "incluster", "restoreFrom", "not a real date"),
    ("restore-newline", {}, ARCHIVE + "\n", "incluster", "restoreFrom", "<database>-<UTC timestamp"),
    ("restore-no-backups", None, ARCHIVE, "incluster", "restoreFrom", "needs backups on"),
    ("restore-disabled", {"enabled": False}, ARCHIVE, "incluster", "restoreFrom", "needs backups on"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("block", "restore_from", "mode", "key", "fragment"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_input_is_reported_with_key_value_and_what_is_allowed(
    block: Any, restore_from: Any, mode: str, key: str, fragment: str
) -> None:
    result, problems = parse(block, restore_from, mode=mode)
    assert result is None
    value = restore_from if key == "restoreFrom" else block if key == "backup" else _get(block, key)
    matching = [m for m in problems if m.startswith(f"botfront:{key}: got {show(value)}; ")]
    assert matching, problems
    assert any(fragment in m for m in matching), matching


def _get(block: dict[str, Any], key: str) -> Any:
    return block[key.split(".", 1)[1]]


def test_every_problem_is_reported_at_once() -> None:
    _, problems = parse({"schedule": "99 * * * *", "retention": 0, "size": "lots"}, "nope")
    keys = sorted(m.split(":", 2)[1] for m in problems)
    assert keys == ["backup.retention", "backup.schedule", "backup.size", "restoreFrom"]


def test_schedule_problems_explain_the_format_with_an_example() -> None:
    (message,) = parse({"schedule": "every day"})[1]
    assert "5 fields" in message and "'30 2 * * *'" in message and "UTC" in message


# ---- the cron validator ------------------------------------------------------------------------

VALID = [
    "* * * * *", "30 2 * * *", "0 */6 * * *", "5/15 * * * *", "0 0 1,15 * *", "0 0 * JAN-MAR MON-FRI",
    "0 0 * jul sun", "0-30/10 8-18 * * 1-5", "0 0 ? * ?", "0 0 30 2 1", "0 0 29 2 *", "@daily", "@hourly",
    "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "0\t3 * * *",
]  # fmt: skip
INVALID = [
    "", "   ", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 0 *",
    "* * * 13 *", "* * * * 7", "1,,2 * * * *", "5-1 * * * *", "*/0 * * * *", "*/x * * * *", "? * * * *",
    "0 0 L * *", "0 0 15W * *", "0 0 * * 5#2", "0 0 * * JUL", "0 0 * MON *", "@DAILY", "@every 1h",
    "@daily 3", "TZ=UTC 0 3 * * *", "CRON_TZ=Europe/Paris 0 3 * * *", "0 0 31 4,6,9,11 *", "-1 * * * *",
    "1-2-3 * * * *", "\u00b2 * * * *",
]  # fmt: skip


@pytest.mark.parametrize("expression", VALID)
def test_schedules_kubernetes_accepts(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize("expression", INVALID)
def test_schedules_kubernetes_rejects_or_that_never_run(expression: str) -> None:
    assert cron_problem(expression) is not None
    with pytest.raises(CronError):
        parse_cron(expression)


def test_macros_expand_like_their_five_field_forms() -> None:
    for macro, expansion in MACROS.items():
        assert parse_cron(macro) == parse_cron(expansion)


@st.composite
def cron_items(draw: st.DrawFn, index: int) -> tuple[str, set[int]]:
    """One list item of field `index`, and the values it stands for (an independent model)."""
    field = FIELDS[index]
    low, high = field.low, field.high

    def value() -> tuple[str, int]:
        number = draw(st.integers(low, high))
        by_name = draw(st.booleans())
        if field.names and by_name:
            name = field.names[number - low]
            return draw(st.sampled_from([name, name.lower(), name.title()])), number
        return str(number), number

    kind = draw(st.sampled_from(["star", "value", "range", "start-step"]))
    step = draw(st.integers(1, high - low + 2)) if draw(st.booleans()) or kind == "start-step" else None
    suffix = f"/{step}" if step else ""
    if kind == "star":
        text, start, end = "*", low, high
    elif kind == "value":
        text, start = value()
        end = high if step else start
    elif kind == "range":
        (a_text, a), (b_text, b) = value(), value()
        if a > b:
            (a_text, a), (b_text, b) = (b_text, b), (a_text, a)
        text, start, end = f"{a_text}-{b_text}", a, b
    else:
        text, start = value()
        end = high
    return text + suffix, set(range(start, end + 1, step or 1))


@st.composite
def cron_expressions(draw: st.DrawFn) -> tuple[str, list[set[int]]]:
    fields, expected = [], []
    for index in range(5):
        items = draw(st.lists(cron_items(index), min_size=1, max_size=3))
        fields.append(",".join(text for text, _ in items))
        expected.append(set().union(*(values for _, values in items)))
    return " ".join(fields), expected


def _never_runs(expected: list[set[int]], day_of_week_text: str) -> bool:
    longest = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
    return day_of_week_text == "*" and not any(
        day <= longest.get(month, 31) for day in expected[2] for month in expected[3]
    )


@settings(max_examples=300, deadline=None)
@given(cron_expressions())
def test_valid_expressions_expand_to_exactly_the_values_they_name(case: tuple[str, list[set[int]]]) -> None:
    expression, expected = case
    if _never_runs(expected, expression.split()[4]):
        assert cron_problem(expression) is not None and "never runs" in str(cron_problem(expression))
        return
    assert [set(values) for values in parse_cron(expression)] == expected


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 4),
    st.one_of(st.integers(-100, -1), st.integers(60, 10_000), st.sampled_from([None])),
    st.booleans(),
)
def test_a_value_outside_its_field_is_rejected_naming_the_field(
    index: int, number: int | None, as_range_end: bool
) -> None:
    field = FIELDS[index]
    bad = field.high + 1 if number is None else number
    if field.low <= bad <= field.high:
        bad = field.high + 1
    item = f"{field.low}-{bad}" if as_range_end and bad >= 0 else str(bad)
    parts = ["0", "0", "1", "1", "*"]
    parts[index] = item
    problem = cron_problem(" ".join(parts))
    assert problem is not None and field.name in problem


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789*,-/? LW#@abcJANMONtz=\t")), max_size=30))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    problem = cron_problem(text)
    assert problem is None or isinstance(problem, str)


@given(st.integers(0, 12).filter(lambda n: n != 5))
def test_only_five_fields_are_accepted(count: int) -> None:
    assert cron_problem(" ".join(["*"] * count)) is not None


# ---- archive names -----------------------------------------------------------------------------


@given(st.datetimes().filter(lambda d: d.year >= 1000), st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True))
def test_names_the_backup_job_would_write_are_valid_restore_targets(when: Any, db: str) -> None:
    assert archive_name_problem(f"{db}-{when:%Y%m%dT%H%M%SZ}.archive.gz") is None


@pytest.mark.parametrize(
    "name",
    ["", "bf.archive.gz", "bf-20240131T023000.archive.gz", "bf-20240131T023000Z.gz",
     "bf-20240131T246000Z.archive.gz", "/backup/" + ARCHIVE, "a" * 17 + "-20240131T023000Z.archive.gz",
     "bf 20240131T023000Z.archive.gz", 20240131],
)  # fmt: skip
def test_other_names_are_not(name: Any) -> None:
    assert archive_name_problem(name) is not None


# ---- the component under mocks -----------------------------------------------------------------


def build(
    backup: BackupSettings | None = None,
    *,
    protect: bool = True,
    openshift: bool = False,
    with_mongo: bool = False,
) -> Plan:
    backup = backup or BackupSettings(
        schedule="15 1 * * *", retention=5, size="3Gi", storage_class="standard"
    )

    def body() -> None:
        depends_on: list[pulumi.Resource] = []
        if with_mongo:
            depends_on.append(
                InClusterMongo(
                    "database",
                    InClusterMongoArgs(
                        namespace="ns",
                        image=IMAGE,
                        database_name="bf",
                        oplog=True,
                        protect=protect,
                        resources=BACKUP_RESOURCES,
                    ),
                )
            )
        MongoBackup(
            "backup",
            MongoBackupArgs(
                namespace="ns",
                image=IMAGE,
                database_name="bf",
                settings=backup,
                protect=protect,
                openshift=openshift,
                resources=Resources(
                    requests={"cpu": "50m", "memory": "128Mi"}, limits={"cpu": "500m", "memory": "512Mi"}
                ),
            ),
            opts=pulumi.ResourceOptions(depends_on=depends_on),
        )

    return run_components(body)


def pod_of(resource: PlannedResource) -> dict[str, Any]:
    spec = resource.inputs["spec"]
    job = spec["jobTemplate"]["spec"] if resource.inputs["kind"] == "CronJob" else spec
    return job["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_cron_job_schedule_policy_deadlines_and_history() -> None:
    cron = build().get(CRON, "mongo-backup").inputs
    # The digest-pinning skip is the only annotation (a tag-pinned image; see components/workload.py).
    assert set(cron["metadata"].pop("annotations")) == {"checkov.io/skip1"}
    assert cron["metadata"] == {
        "name": "mongo-backup",
        "namespace": "ns",
        "labels": {
            "app.kubernetes.io/part-of": "botfront",
            "app.kubernetes.io/component": "backup",
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/name": "mongo-backup",
        },
    }
    spec = cron["spec"]
    assert spec["schedule"] == "15 1 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid" and spec["suspend"] is False
    assert spec["startingDeadlineSeconds"] == 600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 3600 and job["backoffLimit"] == 2
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "mongo-backup"
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "4.4.29"


def test_backup_pod_is_hardened_like_every_other_pod() -> None:
    pod = pod_of(build().get(CRON, "mongo-backup"))
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert container["image"] == IMAGE and container["imagePullPolicy"] == "Always"


def test_openshift_pods_pin_no_user_or_group() -> None:
    pod = pod_of(build(openshift=True).get(CRON, "mongo-backup"))
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_backup_dumps_the_database_with_credentials_by_reference_only() -> None:
    (container,) = pod_of(build().get(CRON, "mongo-backup"))["containers"]
    env = env_of(container)
    # The password is in no environment variable: the tools read it from a mounted Secret file.
    assert not any("PASSWORD" in name for name in env)
    assert env["TOOLS_CONFIG"] == "/run/secrets/mongo/tools-config.yaml"
    assert env["MONGO_SERVER"] == "mongodb://mongo:27017/?replicaSet=rs0&authSource=admin" == MONGO_URI
    assert (env["MONGO_USERNAME"], env["MONGO_DATABASE"], env["BACKUP_DIR"]) == ("botfront", "bf", "/backup")
    assert env["BACKUP_RETENTION"] == "5"
    assert "RESTORE_ARCHIVE" not in env  # only while a restore is configured
    command = container["command"]
    assert command[:2] == ["/bin/bash", "-c"] and command[2] == BACKUP_SCRIPT
    script = command[2]
    assert "mongodump --config=" in script and "--archive=" in script and "--gzip" in script
    assert "--password" not in script and '--config="$TOOLS_CONFIG"' in script
    assert '"${MONGO_DATABASE}-${stamp}.archive.gz"' in script and "date -u +%Y%m%dT%H%M%SZ" in script
    assert "tail -n" in script and "BACKUP_RETENTION + 1" in script  # pruning


def test_archives_live_on_their_own_volume_and_the_password_file_comes_from_the_secret() -> None:
    pod = pod_of(build().get(CRON, "mongo-backup"))
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"backups": "/backup", "credentials": "/run/secrets/mongo", "tmp": "/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"] == {"claimName": "mongo-backups"}
    assert volumes["credentials"]["secret"] == {
        "secretName": "mongo-credentials",
        "defaultMode": 0o440,
        "items": [{"key": "tools-config.yaml", "path": "tools-config.yaml"}],
    }


def test_backup_volume_is_sized_and_protected_in_long_lived_stacks_only() -> None:
    claim = build(protect=True).get(PVC, "mongo-backups")
    assert claim.inputs["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "standard",
        "resources": {"requests": {"storage": "3Gi"}},
    }
    assert (claim.protect, claim.retain_on_delete) == (True, True)
    ephemeral = build(protect=False).get(PVC, "mongo-backups")
    assert (ephemeral.protect, ephemeral.retain_on_delete) == (False, False)


def test_no_restore_job_unless_asked() -> None:
    plan = build()
    assert plan.of_type(JOB) == []


def test_component_type_children_and_schema() -> None:
    plan = build(BackupSettings(restore_from=ARCHIVE))
    (component,) = plan.of_type("botfront:backup:MongoBackup")
    children = [r for r in plan.resources if r.parent == component.urn]
    assert {r.type for r in children} == {CRON, JOB, PVC}
    for resource in children:
        assert schema_errors(resource.inputs) == [], resource.name


def test_restore_job_runs_mongorestore_drop_from_the_chosen_archive() -> None:
    plan = build(BackupSettings(restore_from=ARCHIVE))
    job = plan.get(JOB, restore_job_name(ARCHIVE))
    assert re.fullmatch(r"mongo-restore-[0-9a-f]{8}", job.inputs["metadata"]["name"])
    annotations = job.inputs["metadata"]["annotations"]
    assert annotations["botfront.dev/restore-from"] == ARCHIVE
    assert annotations["checkov.io/skip1"].startswith("CKV_K8S_43=")
    spec = job.inputs["spec"]
    assert spec["backoffLimit"] == 1 and spec["activeDeadlineSeconds"] == 3600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsUser"] == 10001
    assert spec["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "mongo-restore"
    (container,) = pod["containers"]
    env = env_of(container)
    assert env["RESTORE_ARCHIVE"] == ARCHIVE and env["RESTORE_SOURCE_DATABASE"] == "bf"
    assert env["TOOLS_CONFIG"] == "/run/secrets/mongo/tools-config.yaml"
    script = container["command"][2]
    assert script == RESTORE_SCRIPT
    assert "mongorestore --config=" in script and "--drop" in script and "--archive=" in script
    assert "--password" not in script
    # While a restore is configured, no scheduled dump archives a half-restored database, and a
    # run that still happens (already under way, or started by hand) never prunes the archive.
    cron = plan.get(CRON, "mongo-backup")
    assert cron.inputs["spec"]["suspend"] is True
    assert env_of(pod_of(cron)["containers"][0])["RESTORE_ARCHIVE"] == ARCHIVE
    assert cron.urn in job.depends_on  # suspended before the restore starts


def test_a_failed_restore_job_is_replaced_by_the_next_up_but_a_completed_one_is_never_rerun() -> None:
    job = build(BackupSettings(restore_from=ARCHIVE)).get(JOB, restore_job_name(ARCHIVE))
    # The provider replaces the Job on the next update unless the live Job has completed.
    assert job.inputs["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
    assert job.delete_before_replace is True  # the replacement has the same name
    # Program changes alone never replace (re-run) it; `pulumi up` waits for it to finish.
    assert job.ignore_changes == ["spec"]
    assert job.custom_timeouts == {"create": "65m"}


def test_a_new_archive_name_is_a_new_job_and_the_same_name_the_same_job() -> None:
    # A literal, computed once: the name of ARCHIVE's restore Job must not change with the program,
    # or `pulumi up` would run a completed restore again (docs/backup-restore.md).
    job = build(BackupSettings(restore_from=ARCHIVE)).get(JOB, "mongo-restore-1115a098")
    assert job.inputs["metadata"]["name"] == "mongo-restore-1115a098"
    assert restore_job_name(ARCHIVE) == "mongo-restore-1115a098"
    other = "bf-20240201T023000Z.archive.gz"
    assert restore_job_name(ARCHIVE) != restore_job_name(other)
    assert [r.name for r in build(BackupSettings(restore_from=other)).of_type(JOB)] == [
        restore_job_name(other)
    ]


def test_restore_waits_for_the_database_not_the_claim_and_references_real_secret_keys() -> None:
    plan = build(BackupSettings(restore_from=ARCHIVE), with_mongo=True)
    job = plan.get(JOB, restore_job_name(ARCHIVE))
    deployment = plan.get("kubernetes:apps/v1:Deployment", "mongo")
    claim = plan.get(PVC, "mongo-backups")
    assert deployment.urn in job.depends_on
    # The claim binds only once this Job's pod uses it (WaitForFirstConsumer): never waited on.
    assert claim.urn not in job.depends_on
    assert claim.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    secret = plan.get("kubernetes:core/v1:Secret", "mongo-credentials")
    for resource in (job, plan.get(CRON, "mongo-backup")):
        for item in pod_of(resource)["containers"][0]["env"]:
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "mongo-credentials" and ref["key"] in secret.secret_inputs["stringData"]
    text = json.dumps(plan.as_json())
    assert plan.generated_secrets and not any(value in text for value in plan.generated_secrets)


# ---- the scripts, run for real against stub tools ------------------------------------------------

pytestmark_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

STUB = """#!/bin/bash
# Records its arguments and the --config file; writes a small gzip archive to --archive.
printf '%s\\n' "$@" > "$STUB_LOG/$(basename "$0").args"
for arg in "$@"; do
  case "$arg" in
    --config=*)
      cp "${arg#--config=}" "$STUB_LOG/config.yaml"
      stat -c %a "${arg#--config=}" > "$STUB_LOG/config.mode" ;;
    --archive=*) archive="${arg#--archive=}" ;;
  esac
done
if [ -n "${STUB_FAIL:-}" ]; then
  # Like a dump that fails part-way (ENOSPC...): a truncated file is left behind.
  [ "$(basename "$0")" = mongodump ] && printf 'trunc' > "$archive"
  echo "stub failure" >&2
  exit 3
fi
if [ "$(basename "$0")" = mongodump ]; then
  # STUB_DUMP_BYTES of random data make an archive of about that size (gzip cannot shrink it).
  { echo dump; head -c "${STUB_DUMP_BYTES:-0}" /dev/urandom; } | gzip > "$archive" || exit 1
fi
exit 0
"""


def run_script(
    tmp_path: Path, script: str, wrapper: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    for directory in (bin_dir, log, tmp_path / "backup", tmp_path / "config"):
        directory.mkdir(exist_ok=True)
    # Stands in for the mounted Secret key (components/mongo.py writes `password: <pw>`).
    tools_config = tmp_path / "config" / "tools-config.yaml"
    tools_config.write_text("password: pa55w0rd\n")
    for tool in ("mongodump", "mongorestore"):
        path = bin_dir / tool
        path.write_text(STUB)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    base = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "MONGO_SERVER": MONGO_URI,
        "MONGO_USERNAME": "botfront",
        "MONGO_DATABASE": "bf",
        "BACKUP_DIR": str(tmp_path / "backup"),
        "TOOLS_CONFIG": str(tools_config),
        "STUB_LOG": str(log),
    }
    return subprocess.run(
        [*wrapper, "bash", "-c", script], env={**base, **env}, capture_output=True, text=True
    )


def archives(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "backup").iterdir())


@pytestmark_bash
def test_backup_script_writes_a_valid_archive_and_keeps_only_the_newest(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    old = [f"bf-2024010{d}T000000Z.archive.gz" for d in range(1, 6)]
    keep = ["other-20200101T000000Z.archive.gz", "notes.txt", "bf-latest.archive.gz"]
    for name in [*old, *keep, ".bf-20231231T000000Z.archive.gz.partial"]:
        (backup / name).write_text("x")
    (backup / "lost+found").mkdir()

    result = run_script(tmp_path, BACKUP_SCRIPT, BACKUP_RETENTION="3")
    assert result.returncode == 0, result.stderr
    new = [n for n in archives(tmp_path) if n.startswith("bf-2") and n not in old]
    assert len(new) == 1 and archive_name_problem(new[0]) is None  # restoreFrom accepts its name
    # Newest three of this database kept (the new one and two old); nothing else touched.
    assert archives(tmp_path) == sorted([*new, *old[-2:], *keep, "lost+found"])
    assert "pruned bf-20240101T000000Z.archive.gz" in result.stdout
    args = (tmp_path / "log" / "mongodump.args").read_text().splitlines()
    assert f"--uri={MONGO_URI}" in args and "--username=botfront" in args and "--db=bf" in args
    assert "--gzip" in args and any(a.startswith("--archive=") and a.endswith(".partial") for a in args)
    assert not any("pa55w0rd" in a for a in args)  # never on the command line
    assert f"--config={tmp_path / 'config' / 'tools-config.yaml'}" in args
    assert yaml.safe_load((tmp_path / "log" / "config.yaml").read_text()) == {"password": "pa55w0rd"}


@pytest.mark.parametrize("retention", ["1", "10"])
@pytestmark_bash
def test_retention_counts_archives_including_the_new_one(tmp_path: Path, retention: str) -> None:
    (tmp_path / "backup").mkdir()
    for day in range(1, 4):
        (tmp_path / "backup" / f"bf-2024010{day}T000000Z.archive.gz").write_text("x")
    assert run_script(tmp_path, BACKUP_SCRIPT, BACKUP_RETENTION=retention).returncode == 0
    assert len(archives(tmp_path)) == min(int(retention), 4)


def _archives_of_days(tmp_path: Path, days: range) -> list[str]:
    (tmp_path / "backup").mkdir()
    names = [f"bf-2024010{day}T000000Z.archive.gz" for day in days]
    for name in names:
        (tmp_path / "backup" / name).write_text("x")
    return names


@pytestmark_bash
def test_a_failed_dump_leaves_no_partial_file_and_keeps_the_newest_retention_archives(
    tmp_path: Path,
) -> None:
    old = _archives_of_days(tmp_path, range(1, 4))
    result = run_script(tmp_path, BACKUP_SCRIPT, BACKUP_RETENTION="1", STUB_FAIL="1")
    assert result.returncode != 0
    # The prune before the dump keeps what a successful run's prune would not delete anyway; the
    # truncated dump is removed by the trap.
    assert archives(tmp_path) == old[-1:]
    assert "pruned bf-20240101T000000Z.archive.gz" in result.stdout
    assert "wrote" not in result.stdout


@pytestmark_bash
def test_a_failing_dump_still_prunes_to_a_lowered_retention(tmp_path: Path) -> None:
    """The reviewer's case: a full volume, retention lowered from 7 to 3, dumps still failing."""
    old = _archives_of_days(tmp_path, range(1, 8))
    result = run_script(tmp_path, BACKUP_SCRIPT, BACKUP_RETENTION="3", STUB_FAIL="1")
    assert result.returncode != 0
    assert archives(tmp_path) == old[-3:]


# Runs the script on a 1 MiB tmpfs mounted at BACKUP_DIR in a private mount namespace, filled with
# 7 archives of 120 KiB: the free space is logged, then the listing after the run.
ON_A_SMALL_VOLUME = (
    "unshare",
    "--map-root-user",
    "--mount",
    "bash",
    "-c",
    """set -e
mount -t tmpfs -o size=1m tmpfs "$BACKUP_DIR"
for day in 1 2 3 4 5 6 7; do
  head -c 122880 /dev/zero > "$BACKUP_DIR/bf-2024010${day}T000000Z.archive.gz"
done
df -k --output=avail "$BACKUP_DIR" | tail -n 1 > "$STUB_LOG/free-kib"
set +e
"$@"
rc=$?
ls -1A "$BACKUP_DIR" > "$STUB_LOG/listing"
exit $rc""",
    "_",
)


def _can_mount_a_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytestmark_bash
@pytest.mark.skipif(not _can_mount_a_tmpfs(), reason="needs unshare and a tmpfs mount in a user namespace")
def test_a_full_volume_gets_a_new_archive_once_retention_is_lowered(tmp_path: Path) -> None:
    """A real ENOSPC: the dump does not fit next to 7 archives, but fits once 4 are pruned."""
    dump_bytes = 400 * 1024
    result = run_script(
        tmp_path,
        BACKUP_SCRIPT,
        wrapper=ON_A_SMALL_VOLUME,
        BACKUP_RETENTION="3",
        STUB_DUMP_BYTES=str(dump_bytes),
    )
    free_before = int((tmp_path / "log" / "free-kib").read_text()) * 1024
    assert free_before < dump_bytes  # without the prune before the dump, it could not be written
    assert result.returncode == 0, result.stderr
    listing = (tmp_path / "log" / "listing").read_text().split()
    new = [n for n in listing if not n.startswith("bf-2024010")]
    assert len(new) == 1 and archive_name_problem(new[0]) is None
    # The newest 3 after the run: the new one and the newest 2 of the 7.
    assert sorted(listing) == sorted(
        [*new, "bf-20240106T000000Z.archive.gz", "bf-20240107T000000Z.archive.gz"]
    )


@pytestmark_bash
def test_pruning_never_deletes_the_archive_a_pending_restore_names(tmp_path: Path) -> None:
    old = _archives_of_days(tmp_path, range(1, 6))
    result = run_script(tmp_path, BACKUP_SCRIPT, BACKUP_RETENTION="2", RESTORE_ARCHIVE=old[0])
    assert result.returncode == 0, result.stderr
    new = [n for n in archives(tmp_path) if n not in old]
    assert len(new) == 1
    # Retention 2 keeps the new archive and the newest old one; the restore's archive stays too.
    assert archives(tmp_path) == sorted([old[0], old[-1], *new])
    assert f"kept {old[0]}: botfront:restoreFrom names it" in result.stdout


@pytestmark_bash
def test_restore_script_drops_and_restores_the_archive_into_the_stack_database(tmp_path: Path) -> None:
    (tmp_path / "backup").mkdir()
    subprocess.run(
        ["bash", "-c", f"echo x | gzip > {tmp_path / 'backup' / 'old-20240131T023000Z.archive.gz'}"]
    )
    result = run_script(
        tmp_path,
        RESTORE_SCRIPT,
        RESTORE_ARCHIVE="old-20240131T023000Z.archive.gz",
        RESTORE_SOURCE_DATABASE="old",
    )
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "log" / "mongorestore.args").read_text().splitlines()
    assert f"--archive={tmp_path / 'backup' / 'old-20240131T023000Z.archive.gz'}" in args
    for expected in (
        "--gzip",
        "--drop",
        "--nsInclude=old.*",
        "--nsFrom=old.*",
        "--nsTo=bf.*",
        "--username=botfront",
    ):
        assert expected in args
    assert not any("pa55w0rd" in a for a in args)
    assert f"--config={tmp_path / 'config' / 'tools-config.yaml'}" in args


@pytestmark_bash
def test_restore_of_a_missing_archive_fails_and_lists_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / ARCHIVE).write_text("x")
    result = run_script(
        tmp_path,
        RESTORE_SCRIPT,
        RESTORE_ARCHIVE="bf-20990101T000000Z.archive.gz",
        RESTORE_SOURCE_DATABASE="bf",
    )
    assert result.returncode == 1
    assert ARCHIVE in result.stderr and not (tmp_path / "log" / "mongorestore.args").exists()


# ---- the whole program: components/settings.py and __main__.py wire the component ---------------


def _stack_has_backups(stack: str) -> bool:
    values, _ = load_stack_config(stack)
    block = values.get("botfront:backup")
    return bool(block and json.loads(block) not in ({}, None))


def test_dev_plans_the_backup_cron_job_and_ephemeral_does_not() -> None:
    from tests.conftest import kubernetes_objects, plan_for

    assert _stack_has_backups("dev")  # stacks/Pulumi.dev.yaml: the long-lived stack keeps backups
    dev = plan_for("dev")
    cron = dev.get(CRON, "mongo-backup").inputs
    assert cron["metadata"]["namespace"] == "botfront-dev"
    assert (
        pod_of(dev.get(CRON, "mongo-backup"))["containers"][0]["image"]
        == dev.get("kubernetes:apps/v1:Deployment", "mongo").inputs["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
    )
    assert [e for r in kubernetes_objects(dev) for e in schema_errors(r.inputs)] == []
    assert not _stack_has_backups("ephemeral")
    assert plan_for("ephemeral").of_type(CRON) == []


def test_restore_from_renders_the_job_through_the_program() -> None:
    from tests.conftest import plan_for

    plan = plan_for("dev", backup={"schedule": "0 4 * * *"}, restoreFrom=ARCHIVE)
    assert plan.get(JOB, restore_job_name(ARCHIVE)).inputs["metadata"]["namespace"] == "botfront-dev"


def test_the_program_refuses_bad_backup_settings_before_deploying_anything() -> None:
    from components.validation import ConfigError
    from ops.offline import run_program

    with pytest.raises(ConfigError) as error:
        run_program("dev", {"backup": {"schedule": "0 25 * * *", "retention": 0}, "restoreFrom": "latest"})
    text = str(error.value)
    assert "botfront:backup.schedule" in text and "botfront:backup.retention" in text
    assert "botfront:restoreFrom" in text
