"""One builder for what every Botfront service shares.

A `ServiceSpec` is plain data (image, port, probes, env, mounts, resources, security); the
`Workload` component turns it into a Deployment, a Service and, with more than one replica, a
PodDisruptionBudget. Services differ only in their spec (see `components/services.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.policy.v1 as policy

from components.model import EnvSource, Placement
from components.pod_options import co_locate_affinity, env_from, pod_scheduling
from components.settings import Resources

PART_OF = "botfront"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
# Every pod that mounts a ReadWriteOnce volume carries this label and must share a node with
# the others that carry it (the first one scheduled picks the node).
CO_LOCATE_LABEL = "botfront.dev/shares-volume"


@dataclass(frozen=True)
class Probe:
    """An HTTP GET on `path`, a TCP check when `path` and `command` are None, or an exec."""

    path: str | None = None
    command: tuple[str, ...] | None = None
    period: int = 10
    timeout: int = 5
    failure_threshold: int = 3
    initial_delay: int = 0


@dataclass(frozen=True)
class Probes:
    startup: Probe
    liveness: Probe
    readiness: Probe


@dataclass(frozen=True)
class Env:
    """A literal value, or a key of the stack's Secret (reached by secretKeyRef only)."""

    name: str
    value: str | None = None
    secret_key: str | None = None
    # Another Secret than the stack's (database.mode external: the user's Secret).
    secret_name: str | None = None


@dataclass(frozen=True)
class Volume:
    """Exactly one source: a PVC, a Secret, a ConfigMap, or an emptyDir (the default)."""

    name: str
    claim: str | None = None
    secret: str | None = None
    config_map: str | None = None
    default_mode: int | None = None
    # (key, path) pairs: project only these keys of the Secret or ConfigMap.
    items: tuple[tuple[str, str], ...] = ()
    # An emptyDir is node disk shared by every pod there: each one is bounded (the kubelet evicts
    # a pod that writes past it rather than let it fill the node).
    size_limit: str = "64Mi"


@dataclass(frozen=True)
class Mount:
    volume: str
    path: str
    sub_path: str | None = None
    read_only: bool = False


# A UID outside every image's /etc/passwd and above the host's system range (checkov
# CKV_K8S_40); every image here runs under an arbitrary UID (OpenShift's requirement too).
RUN_AS_USER = 10001
FS_GROUP_CHANGE_POLICY = "OnRootMismatch"


@dataclass(frozen=True)
class Security:
    """Restricted by default; a service relaxes only what its image needs, with the reason."""

    run_as_user: int | None = RUN_AS_USER
    fs_group: int | None = None
    read_only_root_filesystem: bool = True
    # Paths the image writes to; each gets an emptyDir so the root filesystem stays read-only.
    writable_paths: tuple[str, ...] = ("/tmp",)
    # The bound of each of those emptyDirs.
    scratch_size: str = "256Mi"


@dataclass(frozen=True)
class InitContainer:
    name: str
    command: tuple[str, ...]
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    port: int
    probes: Probes
    resources: Resources
    env: tuple[Env, ...] = ()
    volumes: tuple[Volume, ...] = ()
    mounts: tuple[Mount, ...] = ()
    replicas: int = 1
    # Recreate when a ReadWriteOnce volume (or a single-writer process) forbids two pods at once.
    recreate: bool = False
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    working_dir: str | None = None
    security: Security = field(default_factory=Security)
    init_containers: tuple[InitContainer, ...] = ()
    post_start: tuple[str, ...] | None = None
    co_locate: str | None = None
    port_name: str = "http"
    # Headless, with not-ready addresses published: DNS answers with the pod's own IP even before
    # it is ready (a replica set member must resolve its own host name to initiate).
    headless: bool = False
    # Existing Secrets and ConfigMaps loaded whole (the actions server's envFrom).
    env_from: tuple[EnvSource, ...] = ()


@dataclass
class WorkloadArgs:
    spec: ServiceSpec
    namespace: pulumi.Input[str]
    secret_name: str
    openshift: bool = False
    # Checksums of the config each pod reads, so a change rolls exactly those pods.
    pod_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    placement: Placement = field(default_factory=Placement)


# Added to each pod's probe allowance: pulling the image (Rasa's is several GB) and attaching
# its volume, neither of which a probe covers since they happen before the container starts.
# ASSUMPTION (not in any source mirrored here): 10 minutes covers a cold pull of the largest
# image and a volume re-attach after a node loss (Kubernetes force-detaches after 6 minutes).
PULL_AND_ATTACH_MARGIN_SECONDS = 600
TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"

# The provider applies server-side without force (components/cluster.py, enable_patch_force=False).
# `kubectl scale` (the runbook's way to stop Botfront during maintenance or an incident),
# `kubectl rollout undo` or `kubectl edit` make another field manager the owner of what they
# change, and the next apply of that Deployment (any change to it, or after `pulumi up --refresh`
# read the live object) then fails with "server-side apply field conflict detected", in preview
# too, until someone forces it. With this annotation the provider forces the apply of this object
# alone: the stack's values win and Pulumi owns those fields again. pulumi/pulumi-kubernetes@v4.32.0:
# provider/pkg/await/await.go `patchForce` (the annotation, exactly "true", before enablePatchForce),
# `ssaUpdate` (the same Force on the preview's dry run), `handleSSAErr` (the error);
# provider/pkg/metadata/annotations.go `AnnotationPatchForce`. Upstream reports of the wedge:
# pulumi/pulumi-kubernetes#3312, #2569. Force settles conflicts on the fields the stack sets only;
# a field it never sets (`kubectl rollout restart`'s restartedAt annotation) keeps its owner
# (Kubernetes server-side apply; ASSUMPTION: not in a source mirrored here). ASSUMPTION: unchanged
# at the pinned v4.34.2, whose SDK still documents the annotation as the first switch
# (pulumi_kubernetes/provider.py, `enable_patch_force`). On the Deployment's metadata, not the pod
# template: adding it updates each Deployment once and rolls no pod. Deployments only: Job
# templates are immutable, and the backup CronJob's `suspend` is the stack's (restoreFrom), so a
# CronJob an operator suspended by hand stops `pulumi up` with the conflict instead of resuming.
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"


def pod_ready_seconds(spec: ServiceSpec) -> int:
    """How long one pod may take to be ready, by its own probes, plus the pull-and-attach margin.

    The startup probe's initial delay plus failureThreshold periods (plus the last attempt's
    timeout), then the readiness probe's initial delay and one period to its first success.
    """
    startup, readiness = spec.probes.startup, spec.probes.readiness
    return (
        startup.initial_delay
        + startup.failure_threshold * startup.period
        + startup.timeout
        + readiness.initial_delay
        + readiness.period
        + readiness.timeout
        + PULL_AND_ATTACH_MARGIN_SECONDS
    )


def await_timeout_seconds(spec: ServiceSpec) -> int:
    """How long `pulumi up` waits for the Deployment to be ready.

    The provider's default is 10 minutes (pulumi/pulumi-kubernetes@v4.32.0:
    provider/pkg/await/await.go, `timeout := 10 * time.Minute` unless metadata.TimeoutDuration
    finds custom timeouts or the `pulumi.com/timeoutSeconds` annotation,
    provider/pkg/metadata/overrides.go), less than Rasa's startup probe alone allows. A rolling
    update (maxSurge 1, maxUnavailable 0) replaces the pods one after another; Recreate starts
    them together. The Service needs one ready endpoint only (provider/pkg/await/service.go,
    endpointsReady "at least 1 ready endpoint"): `pod_ready_seconds`.

    ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0 (the mirror stops at v4.32.0/v3.259.0).
    The installed 4.34.2 SDK's docstrings confirm the 10-minute default and its override for
    Deployments and Services (pulumi_kubernetes/apps/v1/Deployment.py, core/v1/Service.py:
    "after 10 minutes ... setting the 'customTimeouts' option"); the annotation and the
    one-ready-endpoint rule are not documented there.
    """
    return pod_ready_seconds(spec) * (1 if spec.recreate else max(spec.replicas, 1))


def selector_labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name, PART_OF_LABEL: PART_OF}


def image_version(image: str) -> str:
    """The tag (or short digest) of an image, as a label value."""
    if "@sha256:" in image:
        return "sha256-" + image.rsplit("@sha256:", 1)[1][:12]
    tail = image.rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[1][:63] if ":" in tail else "unknown"


class Workload(pulumi.ComponentResource):
    """Deployment + ClusterIP Service (+ PDB) for one service, named after the service."""

    deployment: apps.Deployment
    service: core.Service
    disruption_budget: policy.PodDisruptionBudget | None

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:workload:Workload", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        selector = selector_labels(spec.name)
        labels = {**selector, **args.labels, "app.kubernetes.io/managed-by": "pulumi"}
        pod_labels = {**labels, "app.kubernetes.io/version": image_version(spec.image)}
        if spec.co_locate:
            pod_labels[CO_LOCATE_LABEL] = spec.co_locate
        # On the objects, not in pod templates: a changed timeout rolls no pod.
        timeout = {TIMEOUT_ANNOTATION: str(await_timeout_seconds(spec))}
        service_timeout = {TIMEOUT_ANNOTATION: str(pod_ready_seconds(spec))}

        self.deployment = apps.Deployment(
            spec.name,
            metadata=meta.ObjectMetaArgs(
                name=spec.name,
                namespace=args.namespace,
                labels=pod_labels,
                annotations={
                    **analyzer_skips(spec.image, _reads_secrets_from_env(spec)),
                    **timeout,
                    PATCH_FORCE_ANNOTATION: "true",
                },
            ),
            spec=apps.DeploymentSpecArgs(
                replicas=spec.replicas,
                revision_history_limit=5,
                selector=meta.LabelSelectorArgs(match_labels=selector),
                strategy=_strategy(spec),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(
                        labels=pod_labels, annotations=dict(args.pod_annotations) or None
                    ),
                    spec=_pod_spec(spec, args),
                ),
            ),
            opts=child,
        )
        # The Service shares plain label dicts with the Deployment and never waits on its outputs
        # (a Service awaits ready endpoints: pulumi-kubernetes#1242).
        self.service = core.Service(
            spec.name,
            metadata=meta.ObjectMetaArgs(
                name=spec.name, namespace=args.namespace, labels=labels, annotations=service_timeout
            ),
            spec=core.ServiceSpecArgs(
                type="ClusterIP",
                cluster_ip="None" if spec.headless else None,
                publish_not_ready_addresses=True if spec.headless else None,
                selector=selector,
                ports=[
                    core.ServicePortArgs(
                        name=spec.port_name, port=spec.port, target_port=spec.port_name, protocol="TCP"
                    )
                ],
            ),
            opts=child,
        )
        self.disruption_budget = None
        if spec.replicas > 1:
            # Never zero voluntary disruptions: that would block node drains forever.
            self.disruption_budget = policy.PodDisruptionBudget(
                spec.name,
                metadata=meta.ObjectMetaArgs(name=spec.name, namespace=args.namespace, labels=labels),
                spec=policy.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1, selector=meta.LabelSelectorArgs(match_labels=selector)
                ),
                opts=child,
            )
        self.register_outputs(
            {"deployment": self.deployment.metadata.name, "service": self.service.metadata.name}
        )


# The only checkov checks this project skips, each on the objects it applies to, with the reason
# (ops/checkov.py allows three distinct IDs in the whole project).
SKIP_DIGEST = (
    "CKV_K8S_43",
    "images are pinned to the version tags of the release catalog; set botfront:images to "
    "@sha256 digests to pin them further",
)
SKIP_SECRET_ENV = (
    "CKV_K8S_35",
    "Botfront, Rasa and botfront-api read credentials only from environment variables; "
    "the values come from a Secret by secretKeyRef",
)


def analyzer_skips(image: str, secret_env: bool = False) -> dict[str, str]:
    """checkov skip annotations (`checkov.io/skipN: ID=reason`) for what an object running
    `image` (reading credentials from its environment when `secret_env`) cannot meet."""
    skips = []
    if "@sha256:" not in image:
        skips.append(SKIP_DIGEST)
    if secret_env:
        skips.append(SKIP_SECRET_ENV)
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(skips, 1)}


def container_security_context(security: Security) -> core.SecurityContextArgs:
    """The restricted Pod Security Standard for one container."""
    return core.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=security.read_only_root_filesystem,
        run_as_non_root=True,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
    )


def pod_security_context(security: Security, openshift: bool) -> core.PodSecurityContextArgs:
    # OpenShift assigns UIDs and fsGroups from the namespace's range: never pin them there.
    pinned_ids = not openshift
    fs_group = security.fs_group if pinned_ids else None
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=security.run_as_user if pinned_ids else None,
        run_as_group=security.run_as_user if pinned_ids else None,
        fs_group=fs_group,
        # How the kubelet applies the fsGroup to a volume before the pod sees it; unset means
        # "Always" (pulumi_kubernetes 4.34.2 core/v1/_inputs.py, PodSecurityContextArgs
        # .fs_group_change_policy: "Valid values are "OnRootMismatch" and "Always". If not
        # specified, "Always" is used.", and no effect on secret, configMap and emptyDir volumes).
        # ASSUMPTION (Kubernetes' documentation, not a source mirrored here): "Always" re-owns
        # every file of the volume on every mount, so each restart of mongo (mongo-data), rasa and
        # botfront (models) or a backup (mongo-backups) slows as the volume grows and eats into the
        # await timeout; "OnRootMismatch" walks the volume only when its root's owner or mode is
        # not already right. Only beside an fsGroup, the thing it qualifies (never on OpenShift).
        fs_group_change_policy=FS_GROUP_CHANGE_POLICY if fs_group is not None else None,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def _strategy(spec: ServiceSpec) -> apps.DeploymentStrategyArgs:
    if spec.recreate:
        return apps.DeploymentStrategyArgs(type="Recreate")
    # Surge one new pod before taking an old one away: no unavailability during a rollout.
    return apps.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
    )


def _pod_spec(spec: ServiceSpec, args: WorkloadArgs) -> core.PodSpecArgs:
    security = spec.security
    writable = tuple(
        Volume(name=_volume_name(path), size_limit=security.scratch_size) for path in security.writable_paths
    )
    writable_mounts = tuple(Mount(volume=_volume_name(path), path=path) for path in security.writable_paths)
    container_security = container_security_context(security)
    init_containers = [
        core.ContainerArgs(
            name=init.name,
            image=spec.image,
            image_pull_policy="Always",
            command=list(init.command),
            volume_mounts=[_mount(m) for m in init.mounts],
            resources=_resources(spec.resources),
            security_context=container_security,
        )
        for init in spec.init_containers
    ]
    container = core.ContainerArgs(
        name=spec.name,
        image=spec.image,
        image_pull_policy="Always",
        command=list(spec.command) if spec.command else None,
        args=list(spec.args) if spec.args else None,
        working_dir=spec.working_dir,
        ports=[core.ContainerPortArgs(name=spec.port_name, container_port=spec.port, protocol="TCP")],
        env=[_env(e, args.secret_name) for e in spec.env] or None,
        env_from=env_from(spec.env_from),
        resources=_resources(spec.resources),
        startup_probe=_probe(spec.probes.startup, spec.port_name),
        liveness_probe=_probe(spec.probes.liveness, spec.port_name),
        readiness_probe=_probe(spec.probes.readiness, spec.port_name),
        volume_mounts=[_mount(m) for m in spec.mounts + writable_mounts] or None,
        security_context=container_security,
        lifecycle=core.LifecycleArgs(
            post_start=core.LifecycleHandlerArgs(exec_=core.ExecActionArgs(command=list(spec.post_start)))
        )
        if spec.post_start
        else None,
    )
    return core.PodSpecArgs(
        automount_service_account_token=False,
        # Service links would inject RASA_PORT, MONGO_PORT... into every container's environment,
        # where Rasa and the Mongo entrypoint may mistake them for their own settings.
        enable_service_links=False,
        security_context=pod_security_context(security, openshift=args.openshift),
        init_containers=init_containers or None,
        containers=[container],
        volumes=[_volume(v) for v in spec.volumes + writable] or None,
        **pod_scheduling(
            args.image_pull_secrets,
            args.placement,
            co_locate_affinity(CO_LOCATE_LABEL, spec.co_locate) if spec.co_locate else None,
        ),
        topology_spread_constraints=[
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="kubernetes.io/hostname",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=meta.LabelSelectorArgs(match_labels=selector_labels(spec.name)),
            )
        ]
        if spec.replicas > 1 and not spec.co_locate
        else None,
    )


def _reads_secrets_from_env(spec: ServiceSpec) -> bool:
    return any(e.secret_key for e in spec.env) or any(s.kind == "secretRef" for s in spec.env_from)


def _volume_name(path: str) -> str:
    return "tmp" if path == "/tmp" else "writable" + path.replace("/", "-").replace(".", "").lower()


def _env(env: Env, secret_name: str) -> core.EnvVarArgs:
    if env.secret_key is not None:
        return core.EnvVarArgs(
            name=env.name,
            value_from=core.EnvVarSourceArgs(
                secret_key_ref=core.SecretKeySelectorArgs(
                    name=env.secret_name or secret_name, key=env.secret_key
                )
            ),
        )
    return core.EnvVarArgs(name=env.name, value=env.value)


def _mount(mount: Mount) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(
        name=mount.volume, mount_path=mount.path, sub_path=mount.sub_path, read_only=mount.read_only or None
    )


def _volume(volume: Volume) -> core.VolumeArgs:
    if volume.claim:
        return core.VolumeArgs(
            name=volume.name,
            persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(claim_name=volume.claim),
        )
    if volume.secret:
        return core.VolumeArgs(
            name=volume.name,
            secret=core.SecretVolumeSourceArgs(
                secret_name=volume.secret, default_mode=volume.default_mode, items=_items(volume)
            ),
        )
    if volume.config_map:
        return core.VolumeArgs(
            name=volume.name,
            config_map=core.ConfigMapVolumeSourceArgs(
                name=volume.config_map, default_mode=volume.default_mode, items=_items(volume)
            ),
        )
    return core.VolumeArgs(
        name=volume.name, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=volume.size_limit)
    )


def _items(volume: Volume) -> list[core.KeyToPathArgs] | None:
    return [core.KeyToPathArgs(key=key, path=path) for key, path in volume.items] or None


def _resources(resources: Resources) -> core.ResourceRequirementsArgs:
    return core.ResourceRequirementsArgs(requests=dict(resources.requests), limits=dict(resources.limits))


def _probe(probe: Probe, port_name: str) -> core.ProbeArgs:
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=probe.path, port=port_name) if probe.path else None,
        exec_=core.ExecActionArgs(command=list(probe.command)) if probe.command else None,
        tcp_socket=core.TCPSocketActionArgs(port=port_name)
        if probe.path is None and probe.command is None
        else None,
        period_seconds=probe.period,
        timeout_seconds=probe.timeout,
        failure_threshold=probe.failure_threshold,
        initial_delay_seconds=probe.initial_delay or None,
    )
