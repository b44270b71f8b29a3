"""What keeps a `kubectl scale` from wedging `pulumi up`, and what keeps mounts fast.

- Every Deployment carries `pulumi.com/patchForce: "true"` on its own metadata (never in the pod
  template, so adding it rolls no pod); Jobs and CronJobs do not (components/workload.py,
  PATCH_FORCE_ANNOTATION, says why).
- Every pod that sets an fsGroup sets fsGroupChangePolicy OnRootMismatch, and no other pod does.
All on the real program under the SDK's mocks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.workload import Security, pod_security_context
from ops.offline import Plan
from ops.plan import schema_errors
from tests.conftest import STACKS, kubernetes_objects, plan_for
from tests.test_day2_effects import ACTIONS, CRON_JOB, DEPLOYMENT, JOB, RESTORE, pod_specs
from tests.test_workload import build, pod, spec

PATCH_FORCE = "pulumi.com/patchForce"

# Every workload kind the program can create: the optional services (actions, botfront-api of
# 0.27.5; a production Rasa per project, which needs a newer release) and the backup CronJob and
# restore Job besides.
EVERYTHING = {"release": "0.27.5", "actions": ACTIONS, "restoreFrom": RESTORE}
PROJECTS = {"actions": ACTIONS, "projects": [{"id": "bf", "environments": ["development", "production"]}]}
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{stack: (stack, {}) for stack in STACKS},
    "dev+everything": ("dev", EVERYTHING),
    "dev+projects": ("dev", PROJECTS),
    "dev+openshift": ("dev", {"platform": "openshift", **EVERYTHING}),
}


@pytest.fixture(params=sorted(VARIANTS))
def named_plan(request: pytest.FixtureRequest) -> Plan:
    stack, overrides = VARIANTS[request.param]
    return plan_for(stack, **overrides)


def test_the_everything_plan_really_has_every_kind_of_workload() -> None:
    plan = plan_for("dev", **EVERYTHING)
    deployments = {d.name for d in plan.of_type(DEPLOYMENT)}
    assert {"botfront", "botfront-api", "rasa", "duckling", "actions", "mongo"} <= deployments
    assert plan.of_type(CRON_JOB) and len(plan.of_type(JOB)) == 2  # verify + mongo-restore-<hash>
    with_projects = {d.name for d in plan_for("dev", **PROJECTS).of_type(DEPLOYMENT)}
    assert any(name.startswith("rasa-bf-") for name in with_projects), with_projects


def test_every_deployment_forces_its_apply_and_nothing_else_does(named_plan: Plan) -> None:
    deployments = named_plan.of_type(DEPLOYMENT)
    assert deployments
    for d in deployments:
        assert d.inputs["metadata"]["annotations"][PATCH_FORCE] == "true", d.name
        # On the object only: the pod template (what a rollout compares) never carries it.
        assert PATCH_FORCE not in json.dumps(d.inputs["spec"]), d.name
    # Jobs and CronJobs keep the provider's default (a conflict stops the update).
    for r in named_plan.of_type(JOB) + named_plan.of_type(CRON_JOB):
        assert PATCH_FORCE not in json.dumps(r.inputs), r.name
    assert [(r.name, e) for r in kubernetes_objects(named_plan) for e in schema_errors(r.inputs)] == []


def test_the_pod_template_is_what_it_was_without_the_annotation() -> None:
    # The template's annotations are exactly the config checksums given to the builder.
    plan = build(spec(), pod_annotations={"checksum/config": "abc"})
    deployment = plan.get(DEPLOYMENT, "web").inputs
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"checksum/config": "abc"}
    assert deployment["metadata"]["annotations"][PATCH_FORCE] == "true"


def test_every_pod_with_an_fs_group_skips_the_recursive_chown(named_plan: Plan) -> None:
    pods = pod_specs(named_plan)
    for name, pod_spec in pods.items():
        context = pod_spec["securityContext"]
        if "fsGroup" in context:
            assert context["fsGroupChangePolicy"] == "OnRootMismatch", name
        else:
            assert "fsGroupChangePolicy" not in context, name


def test_the_pods_with_volumes_are_the_ones_with_an_fs_group() -> None:
    # Not vacuous: the pods that mount the database, the models and the backups set an fsGroup.
    pods = pod_specs(plan_for("dev", **EVERYTHING))
    with_group = {name for name, p in pods.items() if "fsGroup" in p["securityContext"]}
    restore = next(name for name in pods if name.startswith("mongo-restore-"))
    assert {"mongo", "botfront", "rasa", "mongo-backup", restore} <= with_group
    for name in with_group:
        assert pods[name]["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch", name


def test_openshift_sets_neither_fs_group_nor_its_policy() -> None:
    # OpenShift's admission assigns the fsGroup there; the policy alone would qualify nothing.
    pods = pod_specs(plan_for("dev", platform="openshift", **EVERYTHING))
    assert pods
    for name, pod_spec in pods.items():
        assert not {"fsGroup", "fsGroupChangePolicy"} & set(pod_spec["securityContext"]), name


@pytest.mark.parametrize(
    ("security", "openshift", "expected"),
    [
        (Security(fs_group=1001), False, "OnRootMismatch"),
        (Security(), False, None),
        (Security(fs_group=1001), True, None),
    ],
)
def test_pod_security_context_pairs_the_policy_with_the_group(
    security: Security, openshift: bool, expected: str | None
) -> None:
    context = pod_security_context(security, openshift=openshift)
    assert context.fs_group_change_policy == expected
    assert (context.fs_group is not None) == (expected is not None)


def test_the_builder_pod_gets_the_policy_with_its_group() -> None:
    context: dict[str, Any] = pod(build(spec(security=Security(fs_group=1001))))["securityContext"]
    assert context["fsGroup"] == 1001 and context["fsGroupChangePolicy"] == "OnRootMismatch"
    assert "fsGroupChangePolicy" not in pod(build(spec()))["securityContext"]
