"""ops/plan_diff.py on synthetic plans shaped like `make plan`'s build/<stack>/plan.json."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ops import plan_diff
from ops.plan_diff import SECRET, diff_plans, parse_plan, render_markdown, render_text, render_value

ROOT = Path(__file__).resolve().parents[1]
OLD_IMAGE = "botfront/rasa-for-botfront:v2.3.3-bf.3"
NEW_IMAGE = "botfront/rasa-for-botfront:v2.3.3-bf.5"
STACK_URN = "urn:pulumi:dev::botfront::pulumi:pulumi:Stack::botfront-dev"
PLATFORM_URN = "urn:pulumi:dev::botfront::botfront:platform:BotfrontPlatform::botfront"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::botfront::botfront:platform:BotfrontPlatform${type_}::{name}"


def entry(type_: str, name: str, inputs: dict[str, Any], protect: bool = False) -> dict[str, Any]:
    """A plan entry as `make plan` writes it (ops/offline.py `as_json`)."""
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": PLATFORM_URN,
        "protect": protect,
        "retainOnDelete": protect,
        "inputs": inputs,
    }


def deployment(name: str, image: str, env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container = {"name": name, "image": image, "env": env or [{"name": "PORT", "value": "5005"}]}
    return entry(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": "botfront-dev",
                "labels": {"app.kubernetes.io/name": name},
            },
            "spec": {"replicas": 1, "template": {"spec": {"containers": [container]}}},
        },
    )


def service(name: str, port: int) -> dict[str, Any]:
    return entry(
        "kubernetes:core/v1:Service",
        name,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "botfront-dev"},
            "spec": {"ports": [{"name": "http", "port": port}], "selector": {"app.kubernetes.io/name": name}},
        },
    )


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    type_ = "kubernetes:core/v1:Secret"
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": PLATFORM_URN,
        "inputs": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data},
    }


def base_plan() -> dict[str, Any]:
    return {
        "stack": "dev",
        "resources": [
            {
                "urn": STACK_URN,
                "type": "pulumi:pulumi:Stack",
                "name": "botfront-dev",
                "parent": None,
                "inputs": {},
            },
            deployment("rasa", OLD_IMAGE),
            service("rasa", 5005),
            deployment("botfront", "botfront/botfront:v1.0.5"),
            service("botfront", 3000),
            secret("botfront-secrets", {"apiKey": SECRET, "rasaToken": SECRET}),
        ],
        "outputs": {"rootUrl": "https://botfront.dev.example.com", "apiKey": SECRET},
    }


def find(plan: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["type"] == type_ and r["name"] == name)


def write(tmp_path: Path, name: str, plan: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(plan, indent=2))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = plan_diff.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------
# One image tag
# ---------------------------------------------------------------------------------------------


def image_bump() -> tuple[dict[str, Any], dict[str, Any]]:
    base = base_plan()
    head = copy.deepcopy(base)
    find(head, "kubernetes:apps/v1:Deployment", "rasa")["inputs"]["spec"]["template"]["spec"]["containers"][
        0
    ]["image"] = NEW_IMAGE
    return base, head


def test_one_image_tag_names_exactly_that_resource_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = image_bump()
    code, out, err = cli(
        capsys, str(write(tmp_path, "base.json", base)), str(write(tmp_path, "head.json", head))
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line for line in lines if line.startswith(("+", "-", "~"))] == [
        "~ change  kubernetes:apps/v1:Deployment rasa"
    ]
    changes = [line.strip() for line in lines if line.startswith("      ")]
    assert changes == [f"spec.template.spec.containers[0].image: {OLD_IMAGE} → {NEW_IMAGE}"]
    assert lines[-1] == "0 to add, 1 to change, 0 to remove"


def test_one_image_tag_in_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = image_bump()
    code, out, _ = cli(
        capsys,
        str(write(tmp_path, "base.json", base)),
        str(write(tmp_path, "head.json", head)),
        "--format",
        "markdown",
    )
    assert code == 0
    assert out.splitlines()[0] == "#### Stack `dev`: 0 to add, 1 to change, 0 to remove"
    assert "- `kubernetes:apps/v1:Deployment rasa`" in out
    assert f"  - `spec.template.spec.containers[0].image`: `{OLD_IMAGE}` → `{NEW_IMAGE}`" in out
    assert "botfront/botfront" not in out and "Service" not in out  # nothing else is mentioned


# ---------------------------------------------------------------------------------------------
# A new service
# ---------------------------------------------------------------------------------------------


def test_a_new_service_is_exactly_a_deployment_and_a_service_added() -> None:
    base = base_plan()
    head = copy.deepcopy(base)
    head["resources"] += [deployment("actions", "acme/actions:1.2.0"), service("actions", 5055)]
    diff = diff_plans(parse_plan(base), parse_plan(head))
    assert [(r.type, r.name) for r in diff.added] == [
        ("kubernetes:apps/v1:Deployment", "actions"),
        ("kubernetes:core/v1:Service", "actions"),
    ]
    assert diff.removed == () and diff.changed == ()
    assert diff.summary == "2 to add, 0 to change, 0 to remove"
    text = render_text(diff)
    assert [line for line in text.splitlines() if line.startswith(("+", "-", "~"))] == [
        "+ add     kubernetes:apps/v1:Deployment actions",
        "+ add     kubernetes:core/v1:Service actions",
    ]
    markdown = render_markdown(diff)
    assert "**To add**" in markdown and "**To change**" not in markdown and "**To remove**" not in markdown
    assert markdown.count("- `kubernetes:") == 2


def test_removed_resources_and_protect_changes() -> None:
    base = base_plan()
    head = copy.deepcopy(base)
    head["resources"] = [
        r for r in head["resources"] if r["name"] != "botfront" or "Service" not in r["type"]
    ]
    find(head, "kubernetes:apps/v1:Deployment", "botfront")["protect"] = True
    diff = diff_plans(parse_plan(base), parse_plan(head))
    assert [(r.type, r.name) for r in diff.removed] == [("kubernetes:core/v1:Service", "botfront")]
    assert diff.summary == "0 to add, 1 to change, 1 to remove"
    assert "(protect): false → true" in render_text(diff)


def test_identical_plans_have_no_changes() -> None:
    diff = diff_plans(parse_plan(base_plan()), parse_plan(base_plan()))
    assert diff.empty and diff.summary == "0 to add, 0 to change, 0 to remove"
    assert "No changes." in render_text(diff) and "No changes." in render_markdown(diff)


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------


def test_secret_markers_never_leak_values() -> None:
    base = base_plan()
    head = copy.deepcopy(base)
    secret_inputs = find(head, "kubernetes:core/v1:Secret", "botfront-secrets")["inputs"]
    secret_inputs["stringData"]["mailUrl"] = SECRET  # a new secret key
    rasa = find(head, "kubernetes:apps/v1:Deployment", "rasa")["inputs"]["spec"]["template"]["spec"]
    rasa["containers"][0]["env"] = [{"name": "PORT", "value": SECRET}]  # a value that became secret
    head["outputs"]["apiKey"] = SECRET
    head["outputs"]["dbUrl"] = SECRET
    diff = diff_plans(parse_plan(base), parse_plan(head))
    text, markdown = render_text(diff), render_markdown(diff)
    assert "stringData.mailUrl: (absent) → [secret]" in text
    assert 'spec.template.spec.containers[0].env[0].value: "5005" → [secret]' in text
    assert "dbUrl: (absent) → [secret]" in text
    # A secret that "changed" is invisible: both sides are the marker, so it is not listed.
    assert "apiKey" not in text and "rasaToken" not in text
    for output in (text, markdown):
        assert '"[secret]"' not in output  # the marker itself, never a quoted or decorated value
    assert "`[secret]`" in markdown


def test_render_value_keeps_the_marker_and_quotes_ambiguous_strings() -> None:
    assert render_value(SECRET) == "[secret]"
    assert render_value({"token": SECRET}) == '{"token": "[secret]"}'
    assert render_value("5005") == '"5005"'  # a string that looks like a number is quoted
    assert render_value("") == '""'
    assert render_value(5005) == "5005"
    assert render_value(plan_diff.MISSING) == "(absent)"
    assert render_value("x" * 500).endswith("…") and len(render_value("x" * 500)) == plan_diff.MAX_VALUE_CHARS


def test_multiline_text_with_a_secret_side_is_not_line_diffed() -> None:
    change = plan_diff.Change("stringData.config", "line1\nline2", SECRET)
    assert not plan_diff.is_text_change(change)
    change = plan_diff.Change("data.script", "a\nb\n", "a\nc\n")
    assert plan_diff.is_text_change(change)
    assert plan_diff.text_diff(change) == ["@@ -1,2 +1,2 @@", " a", "-b", "+c"]


# ---------------------------------------------------------------------------------------------
# Paths and lists
# ---------------------------------------------------------------------------------------------


def test_named_lists_are_matched_by_name_not_position() -> None:
    env_before = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    env_after = [{"name": "NEW", "value": "0"}, {"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    changes = list(plan_diff.diff_values({"env": env_before}, {"env": env_after}))
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("env[0]", plan_diff.MISSING, {"name": "NEW", "value": "0"}),
        ("env[2].value", "2", "3"),
    ]


def test_paths_quote_keys_that_are_not_identifiers() -> None:
    changes = list(
        plan_diff.diff_values(
            {"metadata": {"annotations": {"pulumi.com/skipAwait": "true"}}},
            {"metadata": {"annotations": {"pulumi.com/skipAwait": "false"}}},
        )
    )
    assert [c.path for c in changes] == ['metadata.annotations["pulumi.com/skipAwait"]']


def test_markdown_survives_backticks_and_is_truncated_with_closed_fences() -> None:
    base = base_plan()
    config = "\n".join(f"line {i}" for i in range(300))
    find(base, "kubernetes:apps/v1:Deployment", "rasa")["inputs"]["metadata"]["annotations"] = {"cfg": config}
    head = copy.deepcopy(base)
    rasa = find(head, "kubernetes:apps/v1:Deployment", "rasa")["inputs"]
    rasa["metadata"]["labels"]["note"] = "has `ticks`"
    rasa["metadata"]["annotations"]["cfg"] = config.replace("line", "LINE")
    diff = diff_plans(parse_plan(base), parse_plan(head))
    full = render_markdown(diff)
    assert "```diff" in full and "-line 0" in full and "… 561 more lines" in full
    assert "``has `ticks```" in full or "`` has `ticks` ``" in full  # a code span that holds backticks
    short = render_markdown(diff, max_chars=600)
    assert len(short) <= 600
    assert short.count("```") % 2 == 0  # no code block left open
    assert short.rstrip().endswith("the job log has the full diff.")


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_unreadable_or_misshapen_plans_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", base_plan())
    code, out, err = cli(capsys, str(tmp_path / "missing.json"), str(good))
    assert code == 2 and out == "" and err.startswith("error: cannot read") and "missing.json" in err
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = cli(capsys, str(tmp_path / "broken.json"), str(good))
    assert code == 2 and "not valid JSON" in err
    code, _, err = cli(capsys, str(write(tmp_path, "shape.json", {"stack": "dev"})), str(good))
    assert code == 2 and "'resources' list" in err
    twice = base_plan()
    twice["resources"].append(twice["resources"][1])
    code, _, err = cli(capsys, str(write(tmp_path, "twice.json", twice)), str(good))
    assert code == 2 and "appears twice" in err


def test_runs_as_a_module(tmp_path: Path) -> None:
    base, head = image_bump()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.plan_diff",
            str(write(tmp_path, "b.json", base)),
            str(write(tmp_path, "h.json", head)),
            "--format",
            "markdown",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "0 to add, 1 to change, 0 to remove" in done.stdout


# ---- on real offline plans of this program ----------------------------------------------------


def _real(stack: str, **overrides: Any) -> Any:
    from ops.offline import run_program
    from ops.plan_diff import parse_plan

    return parse_plan(json.loads(json.dumps(run_program(stack, overrides).as_json())), stack)


def test_real_plans_one_image_tag_changes_exactly_one_path() -> None:
    from ops.plan_diff import diff_plans, render_text

    diff = diff_plans(_real("dev"), _real("dev", images={"rasa": "botfront/rasa-for-botfront:v2.3.3-bf.5"}))
    # The Deployment, and the verification Job, which runs the Rasa image and re-runs on a change.
    assert diff.summary == "0 to add, 2 to change, 0 to remove"
    item, job = sorted(diff.changed, key=lambda c: c.resource.type)
    assert (job.resource.type, job.resource.name) == ("kubernetes:batch/v1:Job", "verify")
    assert (item.resource.type, item.resource.name) == ("kubernetes:apps/v1:Deployment", "rasa")
    paths = {c.path for c in item.changes}
    assert "spec.template.spec.containers[rasa].image" in paths or any(p.endswith(".image") for p in paths)
    assert "v2.3.3-bf.5" in render_text(diff)


def test_real_plans_an_added_service_is_exactly_its_objects() -> None:
    from ops.plan_diff import diff_plans

    base = _real("dev")
    head = _real("dev", actions={"image": "ghcr.io/acme/actions:1.0.0"})
    diff = diff_plans(base, head)
    added = {(r.type, r.name) for r in diff.added}
    assert ("kubernetes:apps/v1:Deployment", "actions") in added
    assert ("kubernetes:core/v1:Service", "actions") in added
    # What reads the new service changes too: Rasa's endpoints (action_endpoint) and its rollout.
    changed = {(c.resource.type, c.resource.name) for c in diff.changed}
    assert ("kubernetes:core/v1:Secret", "rasa-config") in changed


# ---- protected resources: what `pulumi up` refuses ------------------------------------------


def pvc(
    name: str, storage_class: str = "standard", size: str = "10Gi", protect: bool = True
) -> dict[str, Any]:
    return entry(
        "kubernetes:core/v1:PersistentVolumeClaim",
        name,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "botfront-dev"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
                "storageClassName": storage_class,
            },
        },
        protect,
    )


def with_resources(*extra: dict[str, Any]) -> dict[str, Any]:
    plan = base_plan()
    plan["resources"] += list(extra)
    return plan


def refused(base: dict[str, Any], head: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    diff = diff_plans(parse_plan(base), parse_plan(head))
    return [(r.resource.name, r.action, r.paths) for r in diff.refusals]


def test_removing_a_protected_resource_is_refused_and_an_unprotected_one_is_not() -> None:
    base = with_resources(pvc("mongo-data"), pvc("scratch", protect=False))
    head = base_plan()  # both volumes gone
    assert refused(base, head) == [("mongo-data", "remove", ())]
    text = render_text(diff_plans(parse_plan(base), parse_plan(head)))
    assert (
        "! REFUSED kubernetes:core/v1:PersistentVolumeClaim mongo-data: protected, removed by head: "
        "pulumi up will refuse this"
    ) in text.splitlines()
    assert "scratch: protected" not in text


def test_a_removal_is_refused_even_when_head_would_unprotect_nothing() -> None:
    # The engine checks the state's flag (the base's): dropping the resource from the program
    # cannot unprotect it first.
    base = with_resources(pvc("models"))
    head = copy.deepcopy(base)
    head["resources"] = [r for r in head["resources"] if r["name"] != "models"]
    assert refused(base, head) == [("models", "remove", ())]


def test_a_forced_replacement_of_a_protected_volume_is_refused() -> None:
    base = with_resources(pvc("mongo-data"))
    head = with_resources(pvc("mongo-data", storage_class="fast-ssd"))
    assert refused(base, head) == [("mongo-data", "replace", ("spec.storageClassName",))]


def test_an_in_place_update_of_a_protected_volume_is_not_refused() -> None:
    base = with_resources(pvc("mongo-data"))
    head = with_resources(pvc("mongo-data", size="20Gi"))  # expansion: a patch, not a replace
    assert refused(base, head) == []
    assert diff_plans(parse_plan(base), parse_plan(head)).summary == "0 to add, 1 to change, 0 to remove"


def test_unprotecting_and_replacing_in_one_update_is_allowed() -> None:
    base = with_resources(pvc("mongo-data"))
    head = with_resources(pvc("mongo-data", storage_class="fast-ssd", protect=False))
    assert refused(base, head) == []


def test_renaming_or_moving_replaces_every_kind() -> None:
    base = with_resources(pvc("mongo-data"))
    head = copy.deepcopy(base)
    find(head, "kubernetes:core/v1:PersistentVolumeClaim", "mongo-data")["inputs"]["metadata"][
        "namespace"
    ] = "other"
    assert refused(base, head) == [("mongo-data", "replace", ("metadata.namespace",))]


def test_secret_content_replaces_only_an_immutable_secret() -> None:
    protected = secret("mongo-credentials", {"root-password": SECRET, "keyfile": SECRET})
    protected["protect"] = True
    base = with_resources(protected)
    head = copy.deepcopy(base)
    find(head, "kubernetes:core/v1:Secret", "mongo-credentials")["inputs"]["stringData"]["extra"] = SECRET
    assert refused(base, head) == []  # the provider updates mutable Secrets in place
    for plan in (base, head):
        find(plan, "kubernetes:core/v1:Secret", "mongo-credentials")["inputs"]["immutable"] = True
    assert refused(base, head) == [("mongo-credentials", "replace", ("stringData.extra",))]


def test_a_new_keeper_generation_replaces_a_protected_random_password() -> None:
    type_ = "random:index/randomPassword:RandomPassword"

    def password(generation: str) -> dict[str, Any]:
        inputs = {"length": 32, "special": False, "keepers": {"generation": generation}}
        return entry(type_, "database-app-password", inputs, protect=True)

    assert refused(with_resources(password("0")), with_resources(password("0"))) == []
    assert refused(with_resources(password("0")), with_resources(password("1"))) == [
        ("database-app-password", "replace", ("keepers.generation",))
    ]


def test_markdown_puts_the_refusal_first_and_keeps_it_when_truncated() -> None:
    base = with_resources(pvc("mongo-data"))
    head = with_resources(pvc("mongo-data", storage_class="fast-ssd"))
    config = "\n".join(f"line {i}" for i in range(300))
    for plan, text in ((base, config), (head, config.upper())):
        find(plan, "kubernetes:apps/v1:Deployment", "rasa")["inputs"]["metadata"]["annotations"] = {
            "cfg": text
        }
    diff = diff_plans(parse_plan(base), parse_plan(head))
    short = render_markdown(diff, max_chars=700)
    lines = short.splitlines()
    assert lines[2] == "**:warning: pulumi up will refuse this**"
    assert lines[3] == (
        "- `kubernetes:core/v1:PersistentVolumeClaim mongo-data`: protected, replaced "
        "(changes spec.storageClassName): pulumi up will refuse this"
    )
    assert short.rstrip().endswith("the job log has the full diff.")


def test_real_plans_protected_stack_refusals() -> None:
    base = _real("dev")
    storage = diff_plans(
        base, _real("dev", database={"mode": "incluster", "name": "bf", "storageClass": "fast"})
    )
    assert [(r.resource.name, r.action, r.paths) for r in storage.refusals] == [
        ("mongo-data", "replace", ("spec.storageClassName",))
    ]
    backups_off = diff_plans(base, _real("dev", backup={"enabled": False}))
    assert [(r.resource.type, r.resource.name, r.action) for r in backups_off.refusals] == [
        ("kubernetes:core/v1:PersistentVolumeClaim", "mongo-backups", "remove")
    ]
    moved = diff_plans(base, _real("dev", namespace="botfront-other"))
    refused_moves = {(r.resource.type, r.resource.name, r.action) for r in moved.refusals}
    assert ("kubernetes:core/v1:Namespace", "botfront-dev", "remove") in refused_moves
    assert ("kubernetes:core/v1:PersistentVolumeClaim", "mongo-data", "replace") in refused_moves
    # An image bump touches nothing protected.
    assert (
        diff_plans(base, _real("dev", images={"rasa": "botfront/rasa-for-botfront:v2.3.3-bf.5"})).refusals
        == ()
    )


def test_real_plans_ephemeral_stack_refuses_nothing() -> None:
    moved = diff_plans(_real("ephemeral"), _real("ephemeral", namespace="botfront-other"))
    assert moved.removed and moved.refusals == ()


def test_real_plans_leaving_atlas_is_refused_on_a_protected_stack() -> None:
    diff = diff_plans(_real("prod"), _real("prod", database={"mode": "incluster", "name": "bf"}, atlas=None))
    assert {(r.resource.type, r.action) for r in diff.refusals} == {
        ("mongodbatlas:index/advancedCluster:AdvancedCluster", "remove"),
        ("mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule", "remove"),
        ("mongodbatlas:index/project:Project", "remove"),
    }
    assert "! REFUSED mongodbatlas:index/advancedCluster:AdvancedCluster database-cluster" in render_text(
        diff
    )


# ---- a resource moved under a component with an alias is a change, as the engine sees it -----

RECORD_TYPE = "random:index/randomId:RandomId"


def _record(parent: str, urn_: str, aliases: list[dict[str, Any]] | None = None, database: str = "bf") -> Any:
    data: dict[str, Any] = {
        "urn": urn_,
        "type": RECORD_TYPE,
        "name": "database-name-record",
        "parent": parent,
        "protect": False,
        "retainOnDelete": False,
        "inputs": {"byteLength": 4, "keepers": {"database": database}},
    }
    if aliases is not None:
        data["aliases"] = aliases
    return data


MONGO_URN = "urn:pulumi:dev::botfront::pulumi:pulumi:Stack$botfront:mongo:InClusterMongo::database"
TOP_LEVEL = _record(
    STACK_URN, f"urn:pulumi:dev::botfront::pulumi:pulumi:Stack${RECORD_TYPE}::database-name-record"
)


def _moved(aliases: list[dict[str, Any]] | None) -> dict[str, Any]:
    return _record(
        MONGO_URN,
        f"urn:pulumi:dev::botfront::botfront:mongo:InClusterMongo${RECORD_TYPE}::database-name-record",
        aliases,
    )


def test_a_move_with_a_no_parent_alias_is_a_change_of_parent_not_a_replacement() -> None:
    base = parse_plan({"stack": "dev", "resources": [TOP_LEVEL]})
    head = parse_plan({"stack": "dev", "resources": [_moved([{"spec": {"noParent": True}}])]})
    diff = diff_plans(base, head)
    assert (diff.added, diff.removed) == ((), ())
    ((change,),) = [c.changes for c in diff.changed]
    assert (change.before, change.after) == (STACK_URN, MONGO_URN)


def test_a_move_without_an_alias_is_a_removal_and_an_addition() -> None:
    base = parse_plan({"stack": "dev", "resources": [TOP_LEVEL]})
    for aliases in (None, [{"spec": {"name": "other"}}]):
        diff = diff_plans(base, parse_plan({"stack": "dev", "resources": [_moved(aliases)]}))
        assert [r.name for r in diff.added] == ["database-name-record"]
        assert [r.name for r in diff.removed] == ["database-name-record"]
