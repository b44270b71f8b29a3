"""The botfront policy pack's policies: one module-level ResourceValidationPolicy each.

Importable without side effects (`policy/__main__.py` is the only place that builds the
`PolicyPack`, which starts a gRPC server and never returns), so tests call `policy.validate(...)`
directly.

Props arrive engine-shaped (camelCase) and, under `pulumi preview`, wrapped in pulumi_policy's
unknown-checking proxies: a `Mapping`/`Sequence` (not a dict/list) that raises
`UnknownValueError` when a value that is only known after an update is read. Every validator
therefore reads through `Mapping`/`Sequence` checks, tolerates missing keys, and skips the one
container or field whose value is unknown (`pulumi up` validates again once it is known).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

# ---------------------------------------------------------------------------------------------
# Reading engine-shaped Kubernetes props

# Kinds whose objects carry a pod template (or are a pod), by where the pod spec sits.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Controllers that keep their pods running: their containers need liveness and readiness probes.
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def kubernetes_kind(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; None for anything that is not a k8s object.

    Patch resources (`DeploymentPatch`) and list kinds do not match any table here on purpose:
    they carry partial specs.
    """
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    return parts[2]


def child(value: Any, *path: str | int) -> Any:
    """The value at `path` under `value`, or None when any step is missing or of another type.

    Raises UnknownValueError when a step is unknown during preview.
    """
    current = value
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, Sequence) or isinstance(current, str) or step >= len(current):
                return None
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return None
            current = current[step]
    return current


def items(value: Any) -> Iterator[Any]:
    """The elements of a list-like value (none for a missing or malformed one).

    An unknown element raises UnknownValueError when reached.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            yield value[index]


@dataclass(frozen=True)
class Container:
    kind: str  # "containers" or "initContainers"
    index: int
    spec: Any  # a Mapping

    @property
    def name(self) -> str:
        try:
            name = child(self.spec, "name")
        except UnknownValueError:
            name = None
        return name if isinstance(name, str) and name else f"{self.kind}[{self.index}]"

    @property
    def label(self) -> str:
        word = "init container" if self.kind == "initContainers" else "container"
        return f'{word} "{self.name}"'

    @property
    def is_sidecar(self) -> bool:
        """A native sidecar (an init container with restartPolicy Always) runs as long as the pod."""
        try:
            return self.kind == "initContainers" and child(self.spec, "restartPolicy") == "Always"
        except UnknownValueError:
            return False


def pod_spec(args: ResourceValidationArgs) -> Any:
    """The pod spec of a workload object, or None (not a workload, or spec missing/unknown)."""
    kind = kubernetes_kind(args.resource_type)
    if kind not in POD_SPEC_PATHS:
        return None
    try:
        spec = child(args.props, *POD_SPEC_PATHS[kind])
    except UnknownValueError:
        return None
    return spec if isinstance(spec, Mapping) else None


def containers(args: ResourceValidationArgs, report: ReportViolation) -> Iterator[Container]:
    """Every container and init container of a workload object.

    A list or element that is unknown during preview is skipped; a malformed entry is reported
    rather than silently passing.
    """
    spec = pod_spec(args)
    if spec is None:
        return
    for kind in ("initContainers", "containers"):
        try:
            entries = list(items(child(spec, kind)))
        except UnknownValueError:
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, Mapping):
                yield Container(kind, index, entry)
            else:
                report(f"{describe(args)}: {kind}[{index}] is not an object", None)


def describe(args: ResourceValidationArgs) -> str:
    kind = kubernetes_kind(args.resource_type) or args.resource_type
    return f'{kind} "{args.name}"'


def each_container(
    args: ResourceValidationArgs,
    report: ReportViolation,
    check: Callable[[Container], list[str]],
    *,
    long_running_only: bool = False,
) -> None:
    """Run `check` on every container and report each problem it returns, prefixed by the object.

    A container whose checked value is unknown during preview is skipped (not reported).
    """
    kind = kubernetes_kind(args.resource_type)
    if long_running_only and kind not in LONG_RUNNING_KINDS:
        return
    for container in containers(args, report):
        if long_running_only and container.kind == "initContainers" and not container.is_sidecar:
            continue
        try:
            problems = check(container)
        except UnknownValueError:
            continue
        for problem in problems:
            report(f"{describe(args)}: {container.label} {problem}", None)


# ---------------------------------------------------------------------------------------------
# Pinned images

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: Any) -> str | None:
    """Why `image` is not pinned, or None when it has a tag other than latest or a sha256 digest."""
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    if _DIGEST.search(image):
        return None
    if "@" in image:
        return f'image "{image}" has a malformed digest (expected @sha256:<64 hex digits>)'
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f'image "{image}" has no tag (pin a tag other than latest, or an @sha256 digest)'
    tag = last.rsplit(":", 1)[1]
    if not tag:
        return f'image "{image}" has an empty tag'
    if tag.lower() == "latest":
        return f'image "{image}" uses the latest tag (pin a release tag or an @sha256 digest)'
    return None


def _validate_pinned_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def check(container: Container) -> list[str]:
        problem = image_problem(child(container.spec, "image"))
        return [problem] if problem else []

    each_container(args, report, check)


pinned_images = ResourceValidationPolicy(
    name="pinned-images",
    description=(
        "Every container and init container image is pinned: a tag other than latest, or an @sha256 digest."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_pinned_images,
)


# ---------------------------------------------------------------------------------------------
# Requests and limits


def _quantity_set(value: Any) -> bool:
    """Set: a non-empty quantity string or a number (the schema check judges the format)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(value.strip()))


def _validate_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def check(container: Container) -> list[str]:
        missing = []
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if not _quantity_set(child(container.spec, "resources", section, resource)):
                    missing.append(f"resources.{section}.{resource}")
        return [f"does not set {', '.join(missing)}"] if missing else []

    each_container(args, report, check)


requests_and_limits = ResourceValidationPolicy(
    name="requests-and-limits",
    description="Every container and init container sets cpu and memory requests and limits.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_resources,
)


# ---------------------------------------------------------------------------------------------
# Probes


def _validate_probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def check(container: Container) -> list[str]:
        missing = [
            probe
            for probe in ("livenessProbe", "readinessProbe")
            if not isinstance(child(container.spec, probe), Mapping)
        ]
        return [f"has no {' and no '.join(missing)}"] if missing else []

    each_container(args, report, check, long_running_only=True)


probes = ResourceValidationPolicy(
    name="liveness-and-readiness-probes",
    description=(
        "Every long-running container (Deployment, StatefulSet, DaemonSet, and native sidecars) "
        "has a liveness and a readiness probe."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_probes,
)


# ---------------------------------------------------------------------------------------------
# No secret as a literal env value

# Names that are connection strings carrying credentials (Botfront, Rasa, Meteor, common apps).
SECRET_ENV_NAMES = frozenset(
    {"MONGO_URL", "MONGO_OPLOG_URL", "MAIL_URL", "DATABASE_URL", "REDIS_URL", "AMQP_URL"}
)
# Words that, as one `_`-separated part of a name, make it secret-looking.
SECRET_ENV_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASS",
        "TOKEN",
        "SECRET",
        "KEY",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
    }
)
# e.g. MONGODB_URI, MONGO_APP_URL, SMTP_URL, DB_URL
_CONNECTION_STRING_NAME = re.compile(r"^(MONGO\w*|DATABASE|DB|MAIL|SMTP|REDIS|AMQP|RABBITMQ)(_\w+)?_UR[LI]$")
# scheme://user:password@ — the userinfo may not contain /, ?, # or @ unencoded.
_URL_WITH_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:[^\s/?#@]+@")


def is_secret_env_name(name: str) -> bool:
    upper = name.upper()
    if upper in SECRET_ENV_NAMES or _CONNECTION_STRING_NAME.match(upper):
        return True
    words = {w for w in re.split(r"[^A-Z0-9]+", upper) if w}
    return bool(words & SECRET_ENV_WORDS)


def is_secret_file_reference(name: str, value: str) -> bool:
    """`X_PASSWORD_FILE=/run/secrets/...`: the images' convention for reading a secret from a
    mounted file, which keeps it out of the environment altogether."""
    return name.upper().endswith("_FILE") and value.startswith("/") and not has_url_credentials(value)


def has_url_credentials(value: str) -> bool:
    return bool(_URL_WITH_CREDENTIALS.search(value))


def env_problems(container: Container) -> list[str]:
    problems = []
    for index, entry in enumerate(items(child(container.spec, "env"))):
        if not isinstance(entry, Mapping):
            continue
        try:
            name = child(entry, "name")
        except UnknownValueError:
            continue
        label = f'env "{name}"' if isinstance(name, str) and name else f"env[{index}]"
        try:
            value = child(entry, "value")
            value_from = child(entry, "valueFrom")
            secret_ref = child(value_from, "secretKeyRef")
        except UnknownValueError:
            continue
        if isinstance(value, str) and has_url_credentials(value):
            problems.append(
                f"{label} has a URL with credentials as a literal value: use valueFrom.secretKeyRef"
            )
            continue
        if not (isinstance(name, str) and is_secret_env_name(name)):
            continue
        if isinstance(value, str) and value and not is_secret_file_reference(name, value):
            problems.append(f"{label} looks secret but has a literal value: use valueFrom.secretKeyRef")
        elif value_from is not None and not isinstance(secret_ref, Mapping):
            source = ", ".join(sorted(value_from)) if isinstance(value_from, Mapping) else "valueFrom"
            problems.append(f"{label} looks secret but comes from {source}: use valueFrom.secretKeyRef")
    return problems


def _validate_env_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    each_container(args, report, env_problems)


no_literal_secrets = ResourceValidationPolicy(
    name="no-literal-secret-env",
    description=(
        "Secret-looking env variables (PASSWORD, TOKEN, SECRET, KEY, MONGO_URL, MAIL_URL, ...) come "
        "from valueFrom.secretKeyRef, and no literal env value is a URL with credentials."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_env_secrets,
)


# ---------------------------------------------------------------------------------------------
# No LoadBalancer Services


def _validate_no_load_balancer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "kubernetes:core/v1:Service":
        return
    try:
        service_type = child(args.props, "spec", "type")
    except UnknownValueError:
        return
    if service_type == "LoadBalancer":
        report(f"{describe(args)}: spec.type is LoadBalancer; expose it through the Ingress instead", None)


no_load_balancers = ResourceValidationPolicy(
    name="no-loadbalancer-services",
    description="No Service of type LoadBalancer: traffic enters through the Ingress controller.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_no_load_balancer,
)


# ---------------------------------------------------------------------------------------------
# Bounded emptyDir volumes
#
# An emptyDir without sizeLimit is unbounded: "The default is nil which means that the limit is
# undefined"; the limit "is also applicable for memory medium", whose usage is capped at the
# smaller of sizeLimit and the sum of the memory limits of all containers in the pod
# (pulumi_kubernetes 4.34.2 core/v1/_inputs.py `EmptyDirVolumeSourceArgs.size_limit`, the
# Kubernetes API's own field documentation). The kubelet evicts a pod whose emptyDir usage
# exceeds a set, positive sizeLimit, and only then: `size != nil && size.Sign() == 1`
# (kubernetes/kubernetes@0239cd73842a: pkg/kubelet/eviction/eviction_manager.go
# `emptyDirLimitEviction`, called from `synchronize` when localStorageCapacityIsolation is on),
# so a zero limit bounds nothing either. ASSUMPTION: that commit (not a release tag; no cluster
# version is pinned here) behaves like the clusters this program deploys to.
# ASSUMPTION (Kubernetes documentation, not checked in source): a memory-backed emptyDir is a
# tmpfs whose pages are charged to the containers' memory, so an unbounded one competes with the
# application for its memory limit.

_ZERO_QUANTITY = re.compile(r"^[+-]?(0+\.?0*|\.0+)([eE][+-]?[0-9]+|[a-zA-Z]{1,2})?$")


def size_limit_problem(size_limit: Any) -> str | None:
    """Why `size_limit` does not bound an emptyDir, or None when it is a positive quantity.

    The format is judged by the schema check; this only refuses what the kubelet treats as no
    limit (missing, empty, zero) and a negative value.
    """
    if size_limit is None or (isinstance(size_limit, str) and not size_limit.strip()):
        return "has no sizeLimit"
    if isinstance(size_limit, bool) or not isinstance(size_limit, int | float | str):
        return "has a sizeLimit that is not a quantity"
    text = str(size_limit).strip()
    if _ZERO_QUANTITY.match(text):
        return f'has sizeLimit "{text}", which the kubelet treats as no limit'
    if text.startswith("-"):
        return f'has a negative sizeLimit "{text}"'
    return None


def _known(read: Callable[[], Any]) -> Any:
    """`read()`, or None when it reads a value that is unknown during preview."""
    try:
        return read()
    except UnknownValueError:
        return None


def _empty_dir_problem(volume: Any, index: int) -> str | None:
    """`volume "tmp" is an emptyDir that has no sizeLimit`, or None (bounded, or not an emptyDir).

    Raises UnknownValueError when a value it reads is unknown during preview.
    """
    empty_dir = child(volume, "emptyDir")
    if not isinstance(empty_dir, Mapping):
        return None  # another volume source: nothing to bound here
    problem = size_limit_problem(child(empty_dir, "sizeLimit"))
    if problem is None:
        return None
    # The volume is refused whatever its name and medium: an unknown one only changes the words.
    name = _known(lambda: child(volume, "name"))
    label = f'volume "{name}"' if isinstance(name, str) and name else f"volumes[{index}]"
    if _known(lambda: child(empty_dir, "medium")) == "Memory":
        what, risk = "a memory-backed emptyDir (medium: Memory)", "take the pod's whole memory limit"
    else:
        what, risk = "an emptyDir", "fill the node's disk"
    return (
        f"{label} is {what} that {problem}: set emptyDir.sizeLimit to a positive quantity "
        f'(e.g. "64Mi"); unbounded, it can {risk}'
    )


def _validate_empty_dir_size_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args)
    if spec is None:
        return
    try:
        volumes = child(spec, "volumes")
        count = len(volumes) if isinstance(volumes, Sequence) and not isinstance(volumes, str) else 0
    except UnknownValueError:
        return
    # One volume at a time: an unknown one is skipped without hiding the others.
    for index in range(count):
        try:
            volume = volumes[index]
            if not isinstance(volume, Mapping):
                report(f"{describe(args)}: volumes[{index}] is not an object", None)
                continue
            problem = _empty_dir_problem(volume, index)
        except UnknownValueError:
            continue
        if problem:
            report(f"{describe(args)}: {problem}", None)


empty_dir_size_limits = ResourceValidationPolicy(
    name="emptydir-size-limits",
    description=(
        "Every emptyDir volume, disk- or memory-backed (medium: Memory), sets a positive sizeLimit, "
        "so a pod that writes without bound is evicted instead of filling the node's disk or its memory."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_empty_dir_size_limits,
)


# ---------------------------------------------------------------------------------------------
# Atlas clusters of protected stacks

ATLAS_CLUSTER = "mongodbatlas:index/advancedCluster:AdvancedCluster"
DEFAULT_PROTECTED_STACKS = ("staging", "prod")
PROTECTED_TAG = "botfront:protected"


def stack_name() -> str | None:
    """The stack being previewed or updated.

    The CLI starts a Python policy pack with PULUMI_STACK (and PULUMI_PROJECT, PULUMI_CONFIG)
    in its environment (pulumi sdk/go/common/resource/plugin/analyzer_plugin.go `constructEnv`);
    pulumi_policy also configures `pulumi.get_stack()` from the same variable. Read the variable
    directly so the answer never depends on global SDK state. Tolerates `org/project/stack`.
    """
    value = os.environ.get("PULUMI_STACK", "").strip()
    return value.rsplit("/", 1)[-1] or None


def stack_is_protected(args: ResourceValidationArgs) -> bool:
    """A stack named in the policy config `protectedStacks`, or tagged botfront:protected=true.

    When the stack name is not available at all (never the case under the CLI) the answer is
    True: a mandatory data-safety policy fails closed.
    """
    config = args.get_config() or {}
    configured = config.get("protectedStacks", DEFAULT_PROTECTED_STACKS)
    if isinstance(configured, str):
        configured = [configured]
    if not isinstance(configured, Sequence):
        configured = DEFAULT_PROTECTED_STACKS
    protected = {str(s) for s in configured}
    tags = args.stack_tags or {}
    if str(tags.get(PROTECTED_TAG, "")).lower() == "true":
        return True
    name = stack_name()
    return name is None or name in protected


def _validate_atlas_cluster(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ATLAS_CLUSTER:
        return
    stack_protected = stack_is_protected(args)
    resource_protected = bool(getattr(args.opts, "protect", False))
    required: list[tuple[str, str]] = []
    if stack_protected or resource_protected:
        why = f'stack "{stack_name()}" is protected' if stack_protected else "the resource is protected"
        required.append(("terminationProtectionEnabled", why))
    if stack_protected or resource_protected:
        # The program protects exactly the data of stacks with botfront:protect, whatever their
        # name (prod-eu...): a protected cluster always needs backups too.
        why = f'stack "{stack_name()}" is protected' if stack_protected else "the resource is protected"
        required.append(("backupEnabled", why))
    for field, why in required:
        try:
            value = child(args.props, field)
        except UnknownValueError:
            continue
        if value is not True:
            shown = "not set" if value is None else json.dumps(value)
            report(f'AdvancedCluster "{args.name}": {field} is {shown}, must be true ({why})', None)


atlas_cluster_protected = ResourceValidationPolicy(
    name="atlas-cluster-protected",
    description=(
        "MongoDB Atlas clusters of protected stacks have terminationProtectionEnabled and "
        "backupEnabled true (protected: registered with protect=true, as the program does for "
        "stacks with botfront:protect, or named in protectedStacks, default staging and prod, or "
        "tagged botfront:protected=true)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_atlas_cluster,
    config_schema=PolicyConfigSchema(
        properties={
            "protectedStacks": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_PROTECTED_STACKS),
            }
        }
    ),
)


ALL_POLICIES: list[ResourceValidationPolicy] = [
    pinned_images,
    requests_and_limits,
    probes,
    no_literal_secrets,
    no_load_balancers,
    empty_dir_size_limits,
    atlas_cluster_protected,
]
