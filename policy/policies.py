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
    "ReplicationController": ("spec", "template", "spec"),
    # pulumi_kubernetes 4.34.2 core/v1/PodTemplate.py: `template` (a PodTemplateSpec) sits at the top.
    "PodTemplate": ("template", "spec"),
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


_UNKNOWN = object()


def _read(value: Any, *path: str) -> Any:
    """`child(value, *path)`, or _UNKNOWN when a step is unknown during preview."""
    try:
        return child(value, *path)
    except UnknownValueError:
        return _UNKNOWN


def _known_items(value: Any) -> Iterator[Any]:
    """The elements of a list-like value, each one _UNKNOWN when it is unknown during preview."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            try:
                yield value[index]
            except UnknownValueError:
                yield _UNKNOWN


@dataclass(frozen=True)
class Container:
    kind: str  # "containers", "initContainers" or "ephemeralContainers"
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
        word = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}.get(
            self.kind, "container"
        )
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


def containers(
    args: ResourceValidationArgs, report: ReportViolation, *, ephemeral: bool = False
) -> Iterator[Container]:
    """Every container and init container of a workload object (and ephemeral ones if asked:
    they take no resources or probes, so only the security and secret policies read them).

    A list or element that is unknown during preview is skipped; a malformed entry is reported
    rather than silently passing.
    """
    spec = pod_spec(args)
    if spec is None:
        return
    kinds = ("initContainers", "containers") + (("ephemeralContainers",) if ephemeral else ())
    for kind in kinds:
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
    ephemeral: bool = False,
) -> None:
    """Run `check` on every container and report each problem it returns, prefixed by the object.

    A container whose checked value is unknown during preview is skipped (not reported).
    """
    kind = kubernetes_kind(args.resource_type)
    if long_running_only and kind not in LONG_RUNNING_KINDS:
        return
    for container in containers(args, report, ephemeral=ephemeral):
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
# The program's own test for credential-looking env names: a copy of components/settings.py
# SECRET_LOOKING (the pack runs on its own and cannot import components/);
# tests/test_policies.py asserts the two patterns are equal, so they cannot drift. A name is
# secret-looking to the pack when this matches OR one of the words/names above does: the pack is
# never weaker than the program's own stack-config check.
SECRET_LOOKING = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL|PRIVATE_?KEY|(^|_)(PASS|DSN|AUTH)(_|$)", re.I
)
# e.g. MONGODB_URI, MONGO_APP_URL, SMTP_URL, DB_URL
_CONNECTION_STRING_NAME = re.compile(r"^(MONGO\w*|DATABASE|DB|MAIL|SMTP|REDIS|AMQP|RABBITMQ)(_\w+)?_UR[LI]$")
# scheme://userinfo@ with or without a password: `https://ghp_xxx@github.com` carries a token as
# the user name. The userinfo may not contain /, ?, # or @ unencoded, so `http://h/p?next=a@b`
# is not one.
_URL_WITH_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@]+@")
# `$(NAME)`: Kubernetes expands it in command/args from the container's env, which is how a
# secret from valueFrom.secretKeyRef reaches a flag without being written into the spec.
_ENV_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.-]*\)")
# `--auth-token=value` or `--auth-token` (then the value is the next entry); `-x` short flags
# are too terse to judge.
_LONG_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9_.-]*)(=(.*))?", re.S)


def is_secret_env_name(name: str) -> bool:
    upper = name.upper()
    if upper in SECRET_ENV_NAMES or _CONNECTION_STRING_NAME.match(upper) or SECRET_LOOKING.search(name):
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
    each_container(args, report, env_problems, ephemeral=True)


no_literal_secrets = ResourceValidationPolicy(
    name="no-literal-secret-env",
    description=(
        "Secret-looking env variables (PASSWORD, TOKEN, SECRET, API_KEY, DSN, AUTH, MONGO_URL, "
        "MAIL_URL, ...) come from valueFrom.secretKeyRef, and no literal env value is a URL with "
        "credentials (a user name alone counts: it may be a token)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_env_secrets,
)


def _literal_flag_value(name: str, value: str) -> bool:
    """True when `--name value` passes a secret written into the spec (not a `$(VAR)` reference,
    a `--x-file /path`, or nothing)."""
    if not value or not is_secret_env_name(name.replace("-", "_")):
        return False
    if _ENV_REFERENCE.fullmatch(value.strip()):
        return False
    return not is_secret_file_reference(name.replace("-", "_"), value)


def argv_problems(container: Container) -> list[str]:
    """Literal secrets among `command`/`args` entries: `--<secret-looking-name>=value`,
    `--<secret-looking-name> value`, and any entry holding a URL with credentials.

    Only whole entries that are a long flag are read, so a script passed as one entry
    (`python -c "... '--auth-token', os.environ['AUTH_TOKEN'] ..."`) is not mistaken for one.
    The value itself is never repeated in the message.
    """
    problems = []
    for field in ("command", "args"):
        entries = list(_known_items(_read(container.spec, field)))
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue  # unknown (skipped) or malformed (the schema check refuses a non-string)
            at = f"{field}[{index}]"
            if has_url_credentials(entry):
                problems.append(
                    f"{at} has a URL with credentials as a literal value: set an env variable from "
                    "valueFrom.secretKeyRef and pass $(VARIABLE) instead"
                )
                continue
            flag = _LONG_FLAG.fullmatch(entry)
            if flag is None:
                continue
            name = flag.group(1)
            if flag.group(2) is not None:
                value, where = flag.group(3), at
            else:
                following = entries[index + 1] if index + 1 < len(entries) else None
                if (
                    not isinstance(following, str)
                    or following.startswith("-")
                    or has_url_credentials(following)
                ):
                    continue  # no value, or one reported on its own entry as a URL with credentials
                value, where = following, f"{field}[{index + 1}]"
            if _literal_flag_value(name, value):
                problems.append(
                    f'{where} passes a literal value to the secret-looking flag "--{name}": set an env '
                    "variable from valueFrom.secretKeyRef and pass $(VARIABLE) instead"
                )
    return problems


def _validate_argv_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    each_container(args, report, argv_problems, ephemeral=True)


no_literal_secret_args = ResourceValidationPolicy(
    name="no-literal-secret-args",
    description=(
        "No command or args entry passes a secret as a literal: --<secret-looking-name>=value, "
        "--<secret-looking-name> value (names as for env) and URLs with credentials are refused; "
        "pass $(VARIABLE) from an env variable set from valueFrom.secretKeyRef."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_argv_secrets,
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
    name = _read(volume, "name")
    label = f'volume "{name}"' if isinstance(name, str) and name else f"volumes[{index}]"
    if _read(empty_dir, "medium") == "Memory":
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
# Pod Security Standards, restricted profile
#
# ASSUMPTION (Kubernetes documentation "Pod Security Standards", kubernetes.io/docs/concepts/
# security/pod-security-standards/, the Restricted profile, which includes every Baseline control;
# the pod-security-admission code that implements it is not mirrored here, so this list is not
# checked against source). For spec, every container, init container and ephemeral container:
# - privileged must be unset or false (Baseline "Privileged Containers");
# - hostNetwork, hostPID and hostIPC must be unset or false (Baseline "Host Namespaces");
# - no hostPath volume (Baseline "HostPath Volumes"), and every volume one of configMap, csi,
#   downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret (Restricted
#   "Volume Types");
# - hostPort unset or 0 (Baseline "Host Ports", whose allowed list is empty by default);
# - allowPrivilegeEscalation must be false, set on each container (Restricted);
# - capabilities.drop must include ALL, and capabilities.add only NET_BIND_SERVICE (Restricted);
# - runAsNonRoot true on the pod, or on every container; false is refused anywhere (Restricted
#   "Running as Non-root"); runAsUser not 0 anywhere (Restricted "Running as Non-root user");
# - seccompProfile.type RuntimeDefault or Localhost on the pod, or on every container; Unconfined
#   refused anywhere (Restricted "Seccomp");
# - windowsOptions.hostProcess unset or false (Baseline "HostProcess").
# Not checked here (the program sets none of them, and each needs a node-specific list):
# AppArmor, SELinux, /proc mount type, sysctls.
# The fields as the API defines them (pulumi_kubernetes 4.34.2 core/v1/_inputs.py):
# `SecurityContextArgs`: privileged "Processes in privileged containers are essentially
# equivalent to root on the host"; allow_privilege_escalation "is true always when the container
# is: 1) run as Privileged 2) has CAP_SYS_ADMIN"; capabilities "Defaults to the default set of
# capabilities granted by the container runtime" (so an unset drop keeps them); run_as_non_root,
# run_as_user and seccomp_profile "May also be set in PodSecurityContext. If set in both ..., the
# value specified in SecurityContext takes precedence" (hence pod OR container). `SeccompProfileArgs`
# type: "Localhost ... RuntimeDefault ... Unconfined - no profile should be applied".
# `PodSpecArgs` host_network/host_pid/host_ipc "Use the host's ... namespace".
# `ContainerPortArgs.host_port`: "Number of port to expose on the host".
# OpenShift: the program leaves runAsUser/runAsGroup/fsGroup unset there (restricted-v2 assigns
# them) but still sets runAsNonRoot and seccomp RuntimeDefault, so its pods pass this policy too.

PSS_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
PSS_ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
PSS_SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def _security_context(owner: Any, where: str, problems: list[str]) -> Any:
    """`owner.securityContext` as a Mapping, {} when unset, _UNKNOWN when unknown; a malformed one
    is reported and read as unset (so the rules below still say what it must contain)."""
    context = _read(owner, "securityContext")
    if context is _UNKNOWN:
        return _UNKNOWN
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        problems.append(f"{where}securityContext is not an object")
        return {}
    return context


def _is_root(uid: Any) -> bool:
    return isinstance(uid, int) and not isinstance(uid, bool) and uid == 0


def _shown(value: Any) -> str:
    """A field's value for a message: `not set`, JSON for a scalar, `malformed` for the rest."""
    if value is None:
        return "not set"
    return json.dumps(value) if isinstance(value, bool | int | str) else "malformed"


def _pod_problems(spec: Any) -> tuple[list[str], Any, Any]:
    """Pod-level problems, and the pod's runAsNonRoot and seccomp type (either may be _UNKNOWN)."""
    problems: list[str] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if _read(spec, field) is True:
            problems.append(f"pod {field} is true: remove it (the pod would share the node's namespace)")
    context = _security_context(spec, "pod ", problems)
    if context is _UNKNOWN:
        return problems, _UNKNOWN, _UNKNOWN
    non_root = _read(context, "runAsNonRoot")
    if non_root is not None and non_root is not True and non_root is not _UNKNOWN:
        problems.append(f"pod securityContext.runAsNonRoot is {_shown(non_root)}: set it to true")
    if _is_root(_read(context, "runAsUser")):
        problems.append("pod securityContext.runAsUser is 0 (root): run as a non-zero UID, or leave it unset")
    seccomp = _read(context, "seccompProfile", "type")
    if seccomp is not None and seccomp is not _UNKNOWN and seccomp not in PSS_SECCOMP_TYPES:
        problems.append(
            f"pod securityContext.seccompProfile.type is {_shown(seccomp)}: set it to RuntimeDefault "
            "(or Localhost)"
        )
    if _read(context, "windowsOptions", "hostProcess") is True:
        problems.append("pod securityContext.windowsOptions.hostProcess is true: remove it")
    return problems, non_root, seccomp


def _volume_problems(spec: Any, report: Callable[[str], None]) -> None:
    volumes = _read(spec, "volumes")
    if volumes is _UNKNOWN:
        return
    for index, volume in enumerate(_known_items(volumes)):
        if volume is _UNKNOWN:
            continue
        if not isinstance(volume, Mapping):
            report(f"volumes[{index}] is not an object")
            continue
        name = _read(volume, "name")
        label = f'volume "{name}"' if isinstance(name, str) and name else f"volumes[{index}]"
        # A source whose value is unknown is still that source.
        sources = sorted(key for key in volume if key != "name" and _read(volume, key) is not None)
        if "hostPath" in sources:
            report(
                f"{label} is a hostPath volume: use a persistentVolumeClaim, configMap, secret or "
                "emptyDir (a hostPath exposes the node's filesystem)"
            )
        for source in sources:
            if source not in PSS_VOLUME_TYPES and source != "hostPath":
                report(
                    f"{label} is a {source} volume, which the restricted profile does not allow: use one of "
                    f"{', '.join(sorted(PSS_VOLUME_TYPES))}"
                )


def _capability_names(value: Any) -> list[Any]:
    return [item for item in _known_items(value) if item is not _UNKNOWN]


def container_security_problems(container: Container, pod_non_root: Any, pod_seccomp: Any) -> list[str]:
    """What the restricted profile refuses in one container (unknown fields are skipped one by one)."""
    problems: list[str] = []
    context = _security_context(container.spec, "", problems)
    if context is not _UNKNOWN:
        if _read(context, "privileged") is True:
            problems.append("securityContext.privileged is true: set it to false")
        escalation = _read(context, "allowPrivilegeEscalation")
        if escalation is not False and escalation is not _UNKNOWN:
            problems.append(
                f"securityContext.allowPrivilegeEscalation is {_shown(escalation)}: set it to false"
            )
        drop = _read(context, "capabilities", "drop")
        drop_names = list(_known_items(drop)) if drop is not _UNKNOWN else [_UNKNOWN]
        # An unknown entry may turn out to be ALL: judged once it is known.
        if _UNKNOWN not in drop_names and "ALL" not in drop_names:
            problems.append("securityContext.capabilities.drop does not include ALL: set drop: [ALL]")
        add = _read(context, "capabilities", "add")
        if add is not _UNKNOWN:
            extra = [str(c) for c in _capability_names(add) if c not in PSS_ALLOWED_CAPABILITIES]
            if extra:
                problems.append(
                    f"securityContext.capabilities.add has {', '.join(extra)}: remove them "
                    "(only NET_BIND_SERVICE may be added)"
                )
        non_root = _read(context, "runAsNonRoot")
        if non_root is not None and non_root is not True and non_root is not _UNKNOWN:
            problems.append(f"securityContext.runAsNonRoot is {_shown(non_root)}: set it to true")
        elif non_root is None and pod_non_root is None:
            # Unset on both (a pod-level false is reported once, on the pod).
            problems.append(
                "securityContext.runAsNonRoot is not set, nor is the pod's: set runAsNonRoot: true "
                "on the pod or the container"
            )
        if _is_root(_read(context, "runAsUser")):
            problems.append("securityContext.runAsUser is 0 (root): run as a non-zero UID, or leave it unset")
        seccomp = _read(context, "seccompProfile", "type")
        if seccomp is not _UNKNOWN:
            if seccomp is not None and seccomp not in PSS_SECCOMP_TYPES:
                problems.append(
                    f"securityContext.seccompProfile.type is {_shown(seccomp)}: set it to RuntimeDefault "
                    "(or Localhost)"
                )
            elif seccomp is None and pod_seccomp is None:
                # Unset on both (a pod-level Unconfined is reported once, on the pod).
                problems.append(
                    "securityContext.seccompProfile is not set, nor is the pod's: set seccompProfile.type: "
                    "RuntimeDefault on the pod or the container"
                )
        if _read(context, "windowsOptions", "hostProcess") is True:
            problems.append("securityContext.windowsOptions.hostProcess is true: remove it")
    ports = _read(container.spec, "ports")
    if ports is not _UNKNOWN:
        for index, port in enumerate(_known_items(ports)):
            host_port = _read(port, "hostPort") if port is not _UNKNOWN else _UNKNOWN
            if host_port is not None and host_port is not _UNKNOWN and host_port != 0:
                problems.append(
                    f"ports[{index}].hostPort is {_shown(host_port)}: remove it and expose the port "
                    "through a Service"
                )
    return problems


def _validate_pod_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args)
    if spec is None:
        return
    prefix = describe(args)
    pod_problems, pod_non_root, pod_seccomp = _pod_problems(spec)
    for problem in pod_problems:
        report(f"{prefix}: {problem}", None)
    _volume_problems(spec, lambda problem: report(f"{prefix}: {problem}", None))
    each_container(
        args,
        report,
        lambda container: container_security_problems(container, pod_non_root, pod_seccomp),
        ephemeral=True,
    )


pod_security_restricted = ResourceValidationPolicy(
    name="pod-security-restricted",
    description=(
        "Every pod spec (containers, init and ephemeral containers) meets the Kubernetes Pod Security "
        "Standards restricted profile: not privileged, allowPrivilegeEscalation false, capabilities "
        "drop ALL and add at most NET_BIND_SERVICE, runAsNonRoot true and never runAsUser 0, seccomp "
        "RuntimeDefault or Localhost, no hostNetwork/hostPID/hostIPC, no hostPath (only the restricted "
        "volume types), no hostPort, no Windows hostProcess."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_pod_security,
)


# ---------------------------------------------------------------------------------------------
# No automounted service account token
#
# Beyond the Pod Security Standards, so a policy of its own: `pod-security-restricted` stays
# exactly the published profile, and a stack that adds a workload calling the Kubernetes API can
# relax this one rule in the policy config without weakening the other. Unset means the service
# account decides (pulumi_kubernetes 4.34.2 core/v1/_inputs.py `PodSpecArgs.
# automount_service_account_token`: "indicates whether a service account token should be
# automatically mounted"; `ServiceAccountArgs.automount_service_account_token`: "Can be overridden
# at the pod level"), and the pack sees the pod, not its service account: only false on the pod
# is known to keep the API token out of every container. The program sets it false on every pod
# (components/workload.py `_pod_spec`, components/backup.py, components/verify.py).


def _validate_service_account_token(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args)
    if spec is None:
        return
    automount = _read(spec, "automountServiceAccountToken")
    if automount is False or automount is _UNKNOWN:
        return
    report(
        f"{describe(args)}: pod automountServiceAccountToken is {_shown(automount)}: set it to false "
        "(a workload that calls the Kubernetes API mounts a projected serviceAccountToken volume instead)",
        None,
    )


no_service_account_token = ResourceValidationPolicy(
    name="no-automounted-service-account-token",
    description=(
        "Every pod spec sets automountServiceAccountToken: false, so no container holds a Kubernetes API "
        "token it does not need."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_service_account_token,
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
    no_literal_secret_args,
    no_load_balancers,
    empty_dir_size_limits,
    pod_security_restricted,
    no_service_account_token,
    atlas_cluster_protected,
]
