"""What `pulumi up` waits for: each workload for as long as its own probes allow, and never a
PersistentVolumeClaim for a consumer that has not been created yet."""

from __future__ import annotations

from typing import Any

from ops.offline import Plan
from tests.conftest import plan_for

PROVIDER_DEFAULT_SECONDS = 600  # pulumi-kubernetes provider/pkg/await/await.go: 10 * time.Minute
# The time a pod needs before any probe runs: a cold pull of Rasa's multi-GB image and a volume
# re-attach after a node loss (force-detach after 6 minutes). Written here, not imported, so a
# smaller margin in components/workload.py fails these tests.
PULL_AND_ATTACH_SECONDS = 600
TIMEOUT = "pulumi.com/timeoutSeconds"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
POD_OWNERS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob", "kubernetes:batch/v1:Job")


def startup_allowance(pod: dict[str, Any]) -> int:
    """What the kubelet gives the container to start: initialDelay + failureThreshold x period."""
    (container,) = pod["containers"]
    probe = container["startupProbe"]
    return probe.get("initialDelaySeconds", 0) + probe["failureThreshold"] * probe["periodSeconds"]


def pod_of(resource: dict[str, Any]) -> dict[str, Any]:
    spec = resource["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_every_deployment_waits_as_long_as_its_probes_allow(stack_plan: Plan) -> None:
    for deployment in stack_plan.of_type("kubernetes:apps/v1:Deployment"):
        manifest = deployment.inputs
        allowance = startup_allowance(pod_of(manifest)) + PULL_AND_ATTACH_SECONDS
        rolling = manifest["spec"]["strategy"]["type"] == "RollingUpdate"
        # maxSurge 1, maxUnavailable 0: the pods of a rollout start one after another.
        pods_in_turn = manifest["spec"]["replicas"] if rolling else 1
        timeout = int(manifest["metadata"]["annotations"][TIMEOUT])
        assert timeout >= allowance * pods_in_turn, deployment.name
        service = stack_plan.get("kubernetes:core/v1:Service", deployment.name).inputs
        assert int(service["metadata"]["annotations"][TIMEOUT]) >= allowance, deployment.name


def test_rasa_gets_more_than_the_providers_default() -> None:
    plan = plan_for("dev")
    rasa = plan.get("kubernetes:apps/v1:Deployment", "rasa").inputs
    # Its startup probe alone allows the whole default, before pull and attach even start.
    assert startup_allowance(pod_of(rasa)) >= PROVIDER_DEFAULT_SECONDS
    assert int(rasa["metadata"]["annotations"][TIMEOUT]) > startup_allowance(pod_of(rasa)) + 300


def test_the_exact_timeouts_of_the_shipped_stacks() -> None:
    # Worked by hand from each probe (startup: failureThreshold x period + its timeout; readiness:
    # one period + its timeout) plus 600 s for pull and attach, times the pods a rollout starts in
    # turn. Rasa: 60 x 10 + 5 + 10 + 5 + 600 = 1220.
    expected = {
        "dev": {"botfront": 920, "duckling": 740, "mongo": 920, "rasa": 1220},
        # Two replicas of botfront and duckling rolled one after another; a Service needs one.
        "prod": {"botfront": 1840, "duckling": 1480, "rasa": 1220},
    }
    for stack, timeouts in expected.items():
        plan = plan_for(stack)
        found = {
            d.name: int(d.inputs["metadata"]["annotations"][TIMEOUT])
            for d in plan.of_type("kubernetes:apps/v1:Deployment")
        }
        assert found == timeouts, stack
        services = {
            name: int(plan.get("kubernetes:core/v1:Service", name).inputs["metadata"]["annotations"][TIMEOUT])
            for name in timeouts
        }
        assert services == {
            "botfront": 920,
            "duckling": 740,
            "rasa": 1220,
            **({"mongo": 920} if stack == "dev" else {}),
        }


def test_the_timeout_is_on_the_object_not_the_pod_template(stack_plan: Plan) -> None:
    # A changed timeout must roll no pod.
    for deployment in stack_plan.of_type("kubernetes:apps/v1:Deployment"):
        template = deployment.inputs["spec"]["template"]["metadata"]
        assert TIMEOUT not in (template.get("annotations") or {}), deployment.name


def test_no_claim_is_awaited(stack_plan: Plan) -> None:
    claims = stack_plan.of_type(PVC)
    assert claims
    for claim in claims:
        assert claim.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true", claim.name


def test_no_pod_waits_for_a_claim_it_mounts(stack_plan: Plan) -> None:
    # Under WaitForFirstConsumer a claim binds only once a pod uses it: a consumer that depends
    # on its claim would wait for itself.
    urn_of = {c.inputs["metadata"]["name"]: c.urn for c in stack_plan.of_type(PVC)}
    checked = 0
    for type_ in POD_OWNERS:
        for owner in stack_plan.of_type(type_):
            for volume in pod_of(owner.inputs).get("volumes", []):
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                if claim:
                    checked += 1
                    assert urn_of[claim] not in owner.depends_on, (owner.name, claim)
    assert checked >= 1
