"""The shared builder: what every service gets, checked on the inputs really registered."""

from __future__ import annotations

from typing import Any

from components.settings import Resources
from components.workload import (
    Env,
    Mount,
    Probe,
    Probes,
    Security,
    ServiceSpec,
    Volume,
    Workload,
    WorkloadArgs,
)
from ops.offline import Plan, run_components

RESOURCES = Resources(requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "1", "memory": "128Mi"})
PROBES = Probes(
    startup=Probe(path="/", failure_threshold=9), liveness=Probe(), readiness=Probe(path="/ready")
)


def build(spec: ServiceSpec, **args: Any) -> Plan:
    return run_components(
        lambda: Workload(spec.name, WorkloadArgs(spec=spec, namespace="ns", secret_name="s", **args))
    )


def spec(**changes: Any) -> ServiceSpec:
    base: dict[str, Any] = {
        "name": "web",
        "image": "acme/web:1.2.3",
        "port": 8080,
        "probes": PROBES,
        "resources": RESOURCES,
    }
    base.update(changes)
    return ServiceSpec(**base)


def pod(plan: Plan) -> dict[str, Any]:
    return plan.get("kubernetes:apps/v1:Deployment", "web").inputs["spec"]["template"]["spec"]


def test_deployment_and_service_share_labels_and_port() -> None:
    plan = build(spec())
    deployment = plan.get("kubernetes:apps/v1:Deployment", "web").inputs
    service = plan.get("kubernetes:core/v1:Service", "web").inputs
    selector = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "botfront"}
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert service["spec"]["selector"] == selector
    assert {k: v for k, v in deployment["metadata"].items() if k != "annotations"} == {
        "name": "web",
        "namespace": "ns",
        "labels": {
            **selector,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/version": "1.2.3",
        },
    }
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["type"] == "ClusterIP"
    # Children of the component, not of the stack.
    assert all(r.parent and r.parent.endswith("::web") for r in plan.resources if r.custom)


def test_container_gets_probes_resources_and_restricted_security() -> None:
    plan = build(spec())
    pod_spec = pod(plan)
    (container,) = pod_spec["containers"]
    assert container["image"] == "acme/web:1.2.3"
    assert container["resources"] == {"requests": RESOURCES.requests, "limits": RESOURCES.limits}
    assert container["startupProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] == 9
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec["securityContext"]["runAsUser"] == 10001  # >= 10000: no host UID clash
    assert container["imagePullPolicy"] == "Always"
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["enableServiceLinks"] is False
    # The read-only root filesystem still gets a writable /tmp.
    # Bounded: an emptyDir is node disk shared with every other pod there.
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod_spec["volumes"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_env_literals_and_secret_references() -> None:
    plan = build(spec(env=(Env("A", "1"), Env("TOKEN", secret_key="token"))))
    (container,) = pod(plan)["containers"]
    assert container["env"] == [
        {"name": "A", "value": "1"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
    ]


def test_single_replica_rolls_without_unavailability_and_has_no_pdb() -> None:
    plan = build(spec())
    strategy = plan.get("kubernetes:apps/v1:Deployment", "web").inputs["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert plan.of_type("kubernetes:policy/v1:PodDisruptionBudget") == []


def test_replicated_service_gets_pdb_and_topology_spread() -> None:
    plan = build(spec(replicas=3))
    pdb = plan.get("kubernetes:policy/v1:PodDisruptionBudget", "web").inputs
    assert pdb["spec"]["maxUnavailable"] == 1
    (spread,) = pod(plan)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "web"


def test_recreate_and_volume_co_location() -> None:
    plan = build(
        spec(
            recreate=True,
            co_locate="models",
            volumes=(Volume(name="models", claim="models"),),
            mounts=(Mount(volume="models", path="/app/models"),),
        )
    )
    deployment = plan.get("kubernetes:apps/v1:Deployment", "web").inputs
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["botfront.dev/shares-volume"] == "models"
    (term,) = pod(plan)["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"botfront.dev/shares-volume": "models"}},
    }
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "models"}} in pod(plan)["volumes"]


def test_openshift_pins_no_user_or_group_ids() -> None:
    plan = build(spec(security=Security(run_as_user=1001, fs_group=1001)), openshift=True)
    context = pod(plan)["securityContext"]
    assert "runAsUser" not in context and "runAsGroup" not in context and "fsGroup" not in context
    assert context["runAsNonRoot"] is True


def test_pod_annotations_are_on_the_template_only() -> None:
    plan = build(spec(), pod_annotations={"checksum/config": "abc"})
    deployment = plan.get("kubernetes:apps/v1:Deployment", "web").inputs
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"checksum/config": "abc"}
    assert "checksum/config" not in deployment["metadata"].get("annotations", {})


def test_checkov_skips_only_what_the_spec_cannot_meet_with_a_reason() -> None:
    tagged = build(spec(env=(Env("TOKEN", secret_key="token"),)))
    annotations = tagged.get("kubernetes:apps/v1:Deployment", "web").inputs["metadata"]["annotations"]
    skips = {k: v for k, v in annotations.items() if k.startswith("checkov.io/")}
    assert set(skips) == {"checkov.io/skip1", "checkov.io/skip2"}
    checks = {value.split("=", 1)[0]: value.split("=", 1)[1] for value in skips.values()}
    assert set(checks) == {"CKV_K8S_43", "CKV_K8S_35"}
    assert all(reason and "=" not in reason for reason in checks.values())  # checkov splits on "="
    digest = build(spec(image="acme/web@sha256:" + "a" * 64))
    annotations = digest.get("kubernetes:apps/v1:Deployment", "web").inputs["metadata"]["annotations"]
    assert not any(k.startswith("checkov.io/") for k in annotations)


def test_headless_service_publishes_not_ready_addresses() -> None:
    service = build(spec(headless=True)).get("kubernetes:core/v1:Service", "web").inputs
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
