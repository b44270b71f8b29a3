"""The policy pack (policy/): each policy on a good and a bad resource, defensively on unknown
and malformed props, over every resource of the real offline plans, and once end to end through
the analyzer gRPC server the CLI talks to."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.releases import CATALOG, DEFAULT_RELEASE
from ops.offline import ROOT, Plan, PlannedResource
from policy import policies
from policy.policies import (
    ALL_POLICIES,
    POD_SPEC_PATHS,
    atlas_cluster_protected,
    empty_dir_size_limits,
    image_problem,
    is_secret_env_name,
    no_literal_secret_args,
    no_literal_secrets,
    no_load_balancers,
    no_service_account_token,
    pinned_images,
    pod_security_restricted,
    probes,
    requests_and_limits,
    size_limit_problem,
)
from tests.conftest import STACKS, plan_for

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ATLAS = "mongodbatlas:index/advancedCluster:AdvancedCluster"


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def violations(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: dict[str, Any],
    name: str = "web",
    *,
    protect: bool = False,
    config: dict[str, Any] | None = None,
    stack_tags: dict[str, str] | None = None,
) -> list[str]:
    """Run one policy the way the analyzer does: props behind the unknown-checking proxy."""
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(copy.deepcopy(props)),
        f"urn:pulumi:test::botfront::{resource_type}::{name}",
        name,
        options(protect),
        None,
        config,
        stack_tags,
    )
    result = policy.validate(args, lambda message, urn=None: found.append(message))
    assert result is None  # every validator is synchronous
    return found


def good_container(name: str = "web", image: str = "botfront/botfront:v1.0.5") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        # What components/workload.py `container_security_context` renders.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "livenessProbe": {"tcpSocket": {"port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
        "env": [
            {"name": "ROOT_URL", "value": "https://botfront.example.com"},
            {
                "name": "MONGO_URL",
                "valueFrom": {"secretKeyRef": {"name": "botfront-secrets", "key": "mongo-url"}},
            },
        ],
    }


def pod_spec(**container_changes: Any) -> dict[str, Any]:
    container = good_container()
    for key, value in container_changes.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    return {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }


def workload(kind: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(resource type, props) of a `kind` object whose pod spec is `spec`."""
    if kind == "Pod":
        return "kubernetes:core/v1:Pod", {"metadata": {"name": "web"}, "spec": spec}
    if kind == "CronJob":
        return "kubernetes:batch/v1:CronJob", {
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}}
        }
    if kind == "PodTemplate":
        return "kubernetes:core/v1:PodTemplate", {"template": {"spec": spec}}
    group = {"Job": "batch/v1", "ReplicationController": "core/v1"}.get(kind, "apps/v1")
    return f"kubernetes:{group}:{kind}", {"spec": {"template": {"spec": spec}}}


def deployment(**container_changes: Any) -> dict[str, Any]:
    return workload("Deployment", pod_spec(**container_changes))[1]


WORKLOAD_KINDS = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Pod",
    "PodTemplate",
]


# --------------------------------------------------------------------------- pinned images


@pytest.mark.parametrize(
    "image",
    [
        "botfront/botfront:v1.0.5",
        "rasa/duckling:0.2.0.2",
        "registry.example.com:5000/team/rasa:2.3.3-bf.3",
        "mongo@sha256:" + "a" * 64,
        "mongo:4.4.29@sha256:" + "0123456789abcdef" * 4,
    ],
)
def test_pinned_image_is_accepted(image: str) -> None:
    assert image_problem(image) is None
    assert violations(pinned_images, DEPLOYMENT, deployment(image=image)) == []


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("botfront/botfront:latest", "latest tag"),
        ("botfront/botfront:LATEST", "latest tag"),
        ("botfront/botfront", "no tag"),
        ("registry.example.com:5000/team/rasa", "no tag"),
        ("botfront/botfront:", "empty tag"),
        ("mongo@sha256:abc", "malformed digest"),
        ("", "has no image"),
    ],
)
def test_unpinned_image_is_refused_naming_the_container(image: str, why: str) -> None:
    found = violations(pinned_images, DEPLOYMENT, deployment(image=image), name="rasa")
    assert len(found) == 1
    assert why in found[0]
    assert found[0].startswith('Deployment "rasa": container "web"')


def test_missing_image_is_refused() -> None:
    found = violations(pinned_images, DEPLOYMENT, deployment(image=None))
    assert found == ['Deployment "web": container "web" has no image']


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_pinned_images_covers_every_workload_kind_and_init_containers(kind: str) -> None:
    spec = {
        "initContainers": [good_container("keyfile", "busybox")],
        "containers": [good_container("app", "app:latest"), good_container("ok")],
    }
    resource_type, props = workload(kind, spec)
    found = violations(pinned_images, resource_type, props, name="bot")
    assert len(found) == 2
    assert 'init container "keyfile"' in found[0] and '"busybox"' in found[0]
    assert 'container "app"' in found[1] and "latest" in found[1]
    assert violations(pinned_images, *workload(kind, pod_spec())) == []


def test_policies_ignore_other_kinds_and_patches() -> None:
    bad = deployment(image="x:latest", resources=None, livenessProbe=None)
    bad["spec"]["template"]["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    # Refused as a Deployment, so the loop below proves the emptyDir policy ignores the others.
    assert violations(empty_dir_size_limits, DEPLOYMENT, bad)
    for resource_type in (
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:apps/v1:DeploymentPatch",
        "random:index/x:X",
    ):
        for policy in ALL_POLICIES:
            assert violations(policy, resource_type, bad) == []


# --------------------------------------------------------------------------- requests and limits


def test_requests_and_limits_set_is_accepted() -> None:
    assert violations(requests_and_limits, DEPLOYMENT, deployment()) == []


@pytest.mark.parametrize(
    ("resources", "missing"),
    [
        (
            None,
            "resources.requests.cpu, resources.requests.memory, "
            "resources.limits.cpu, resources.limits.memory",
        ),
        ({"requests": {"cpu": "1", "memory": "1Gi"}}, "resources.limits.cpu, resources.limits.memory"),
        ({"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "resources.requests.memory"),
        (
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "", "memory": "1Gi"}},
            "resources.limits.cpu",
        ),
    ],
)
def test_missing_requests_or_limits_are_named(resources: Any, missing: str) -> None:
    found = violations(requests_and_limits, DEPLOYMENT, deployment(resources=resources), name="rasa")
    assert found == [f'Deployment "rasa": container "web" does not set {missing}']


def test_init_containers_need_requests_and_limits_too() -> None:
    spec = pod_spec()
    spec["initContainers"] = [{"name": "keyfile", "image": "mongo:4.4.29"}]
    found = violations(requests_and_limits, *workload("StatefulSet", spec))
    assert len(found) == 1 and found[0].startswith('StatefulSet "web": init container "keyfile" does not set')


# --------------------------------------------------------------------------- probes


def test_probes_set_is_accepted() -> None:
    assert violations(probes, DEPLOYMENT, deployment()) == []


@pytest.mark.parametrize(
    ("removed", "message"),
    [
        (["readinessProbe"], "has no readinessProbe"),
        (["livenessProbe"], "has no livenessProbe"),
        (["livenessProbe", "readinessProbe"], "has no livenessProbe and no readinessProbe"),
    ],
)
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_long_running_container_without_probes_is_refused(
    kind: str, removed: list[str], message: str
) -> None:
    found = violations(probes, *workload(kind, pod_spec(**dict.fromkeys(removed))), name="duckling")
    assert found == [f'{kind} "duckling": container "web" {message}']


@pytest.mark.parametrize("kind", ["Job", "CronJob", "Pod"])
def test_run_to_completion_workloads_need_no_probes(kind: str) -> None:
    assert violations(probes, *workload(kind, pod_spec(livenessProbe=None, readinessProbe=None))) == []


def test_init_containers_need_no_probes_but_native_sidecars_do() -> None:
    spec = pod_spec()
    spec["initContainers"] = [
        {"name": "keyfile", "image": "mongo:4.4.29"},
        {"name": "proxy", "image": "envoy:1.30", "restartPolicy": "Always"},
    ]
    found = violations(probes, DEPLOYMENT, workload("Deployment", spec)[1])
    assert found == ['Deployment "web": init container "proxy" has no livenessProbe and no readinessProbe']


# --------------------------------------------------------------------------- secrets in env


@pytest.mark.parametrize(
    "name",
    [
        "MONGO_URL",
        "MONGO_OPLOG_URL",
        "MAIL_URL",
        "MONGODB_URI",
        "API_KEY",
        "AUTH_TOKEN",
        "MONGO_INITDB_ROOT_PASSWORD",
        "JWT_SECRET",
        "AWS_SECRET_ACCESS_KEY",
        "apiKey",
        "SMTP_PASS",
        "DB_URL",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert is_secret_env_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "ROOT_URL",
        "BF_URL",
        "RASA_DUCKLING_HTTP_URL",
        "PORT",
        "MONGO_INITDB_ROOT_USERNAME",
        "MPLCONFIGDIR",
        "KEYCLOAK",
    ],
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_env_name(name)


def test_secrets_from_secret_key_refs_are_accepted() -> None:
    env = [
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "api-key"}}},
        {"name": "BF_URL", "value": "http://botfront:3000/graphql"},
        {"name": "CALLBACK", "value": "http://host:3000/path?next=a@b"},
        {"name": "MAIL_URL", "value": ""},
        {"name": "MONGO_APP_USERNAME", "value": "botfront"},
        # The images' convention: the secret is read from a mounted file, not the environment.
        {"name": "MONGO_INITDB_ROOT_PASSWORD_FILE", "value": "/run/secrets/mongo/root-password"},
    ]
    assert violations(no_literal_secrets, DEPLOYMENT, deployment(env=env)) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"name": "MONGO_URL", "value": "mongodb://mongo:27017/bf"},
            'env "MONGO_URL" looks secret but has a literal value: use valueFrom.secretKeyRef',
        ),
        (
            {"name": "AUTH_TOKEN", "value": "s3cr3t"},
            'env "AUTH_TOKEN" looks secret but has a literal value: use valueFrom.secretKeyRef',
        ),
        (
            # A *_FILE name only passes with a path: here the secret itself was pasted in.
            {"name": "DB_PASSWORD_FILE", "value": "hunter2"},
            'env "DB_PASSWORD_FILE" looks secret but has a literal value: use valueFrom.secretKeyRef',
        ),
        (
            {"name": "API_KEY", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
            'env "API_KEY" looks secret but comes from configMapKeyRef: use valueFrom.secretKeyRef',
        ),
        (
            {"name": "BF_DB", "value": "mongodb+srv://bf:p%40ss@bf.mongodb.net/bf"},
            'env "BF_DB" has a URL with credentials as a literal value: use valueFrom.secretKeyRef',
        ),
        (
            {"name": "RELAY", "value": "smtp://user:pw@mail.example.com:587"},
            'env "RELAY" has a URL with credentials as a literal value: use valueFrom.secretKeyRef',
        ),
    ],
)
def test_literal_secrets_are_refused(entry: dict[str, Any], message: str) -> None:
    props = deployment(env=[{"name": "PORT", "value": "3000"}, entry])
    assert violations(no_literal_secrets, DEPLOYMENT, props, name="botfront") == [
        f'Deployment "botfront": container "web" {message}'
    ]


def test_literal_secrets_in_init_containers_and_cron_jobs_are_refused() -> None:
    spec = pod_spec()
    spec["initContainers"] = [
        {"name": "migrate", "image": "m:1", "env": [{"name": "DB_PASSWORD", "value": "x"}]}
    ]
    found = violations(no_literal_secrets, *workload("CronJob", spec))
    assert found == [
        'CronJob "web": init container "migrate" env "DB_PASSWORD" looks secret but has a literal value: '
        "use valueFrom.secretKeyRef"
    ]


# --------------------------------------------------------------------------- the program's secret heuristic


def test_the_packs_secret_name_pattern_is_the_programs() -> None:
    """The pack cannot import components/: its copy of SECRET_LOOKING must not drift."""
    from components import settings

    assert policies.SECRET_LOOKING.pattern == settings.SECRET_LOOKING.pattern
    assert policies.SECRET_LOOKING.flags == settings.SECRET_LOOKING.flags


@pytest.mark.parametrize(
    "name",
    ["SENTRY_DSN", "BF_AUTH", "APITOKEN", "AUTHTOKEN", "auth", "PRIVATEKEY", "ENCRYPTION_KEY", "GH_PAT_PASS"],
)
def test_names_the_program_calls_secret_are_secret_to_the_pack(name: str) -> None:
    assert is_secret_env_name(name)
    props = deployment(env=[{"name": name, "value": "s3cr3t"}])
    assert violations(no_literal_secrets, DEPLOYMENT, props) == [
        f'Deployment "web": container "web" env "{name}" looks secret but has a literal value: '
        "use valueFrom.secretKeyRef"
    ]


@pytest.mark.parametrize("name", ["AUTHOR", "DSNAME", "PASSAGE_DIR", "BYPASS_CACHE", "AUTHORITY_URL"])
def test_auth_dsn_and_pass_only_count_as_whole_words(name: str) -> None:
    assert not is_secret_env_name(name)


@pytest.mark.parametrize(
    "value",
    [
        "https://ghp_0123456789abcdef@github.com/acme/bot.git",
        "https://user:pw@host/x",
        "mongodb+srv://bf@bf.mongodb.net/bf",
    ],
)
def test_url_userinfo_with_or_without_password_is_refused(value: str) -> None:
    props = deployment(env=[{"name": "SOURCE", "value": value}])
    assert violations(no_literal_secrets, DEPLOYMENT, props) == [
        'Deployment "web": container "web" env "SOURCE" has a URL with credentials as a literal value: '
        "use valueFrom.secretKeyRef"
    ]


ARGV_FIX = "set an env variable from valueFrom.secretKeyRef and pass $(VARIABLE) instead"


def flag_message(at: str, flag: str) -> str:
    return f'{at} passes a literal value to the secret-looking flag "{flag}": {ARGV_FIX}'


def url_message(at: str) -> str:
    return f"{at} has a URL with credentials as a literal value: {ARGV_FIX}"


@pytest.mark.parametrize(
    ("field", "entries", "expected"),
    [
        ("args", ["run", "--auth-token", "s3cr3t"], flag_message("args[2]", "--auth-token")),
        ("command", ["rasa", "--auth-token=s3cr3t"], flag_message("command[1]", "--auth-token")),
        ("args", ["--sentry-dsn", "https://k@o1.ingest.sentry.io/1"], url_message("args[1]")),
        ("args", ["--db-password", "hunter2", "--port", "80"], flag_message("args[1]", "--db-password")),
        ("args", ["--apiKey=s3cr3t"], flag_message("args[0]", "--apiKey")),
        ("args", ["--bf-auth", "s3cr3t"], flag_message("args[1]", "--bf-auth")),
        ("command", ["git", "clone", "https://ghp_x@github.com/a/b"], url_message("command[2]")),
    ],
)
@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_literal_secrets_in_command_or_args_are_refused(
    kind: str, field: str, entries: list[str], expected: str
) -> None:
    found = violations(no_literal_secret_args, *workload(kind, pod_spec(**{field: entries})), name="rasa")
    assert found == [f'{kind} "rasa": container "web" {expected}']
    # The message names the entry and the flag, never the secret.
    assert not any(secret in found[0] for secret in ("s3cr3t", "hunter2", "ghp_x", "k@o1"))


@pytest.mark.parametrize(
    "entries",
    [
        ["--auth-token", "$(AUTH_TOKEN)"],
        ["--auth-token=$(AUTH_TOKEN)"],
        ["--password-file", "/run/secrets/db/password"],
        ["--token-file=/var/run/secrets/token"],
        ["--auth-token", "--verbose"],
        ["--auth-token"],
        ["--keyFile", "/run/mongo/keyfile"],
        ["--replSet", "rs0", "--bind_ip_all"],
        # One entry holding a script: its text is not a flag (rasa's launcher, components/services.py).
        ["python", "-c", "sys.argv += ['--auth-token', os.environ['AUTH_TOKEN']]"],
        ["--callback", "http://host:3000/path?next=a@b"],
        ["-p", "secret"],
    ],
)
def test_argv_without_literal_secrets_is_accepted(entries: list[str]) -> None:
    assert violations(no_literal_secret_args, DEPLOYMENT, deployment(args=entries)) == []
    assert violations(no_literal_secret_args, DEPLOYMENT, deployment(command=entries)) == []


def test_literal_secret_args_in_init_and_ephemeral_containers_are_refused() -> None:
    spec = pod_spec()
    spec["initContainers"] = [{"name": "migrate", "args": ["--db-password=x"]}]
    spec["ephemeralContainers"] = [{"name": "debug", "command": ["sh", "--api-key", "k"]}]
    found = violations(no_literal_secret_args, *workload("Pod", spec))
    assert found == [
        f'Pod "web": init container "migrate" args[0] passes a literal value to the secret-looking flag '
        f'"--db-password": {ARGV_FIX}',
        f'Pod "web": ephemeral container "debug" command[2] passes a literal value to the secret-looking '
        f'flag "--api-key": {ARGV_FIX}',
    ]


def test_literal_secret_env_in_ephemeral_containers_is_refused() -> None:
    spec = pod_spec()
    spec["ephemeralContainers"] = [
        {"name": "debug", "env": [{"name": "SENTRY_DSN", "value": "https://k@s/1"}]}
    ]
    assert violations(no_literal_secrets, *workload("Pod", spec)) == [
        'Pod "web": ephemeral container "debug" env "SENTRY_DSN" has a URL with credentials as a literal '
        "value: use valueFrom.secretKeyRef"
    ]


def test_unknown_argv_entries_are_skipped_one_by_one() -> None:
    props = deployment(args=["--auth-token", UNKNOWN_STRING_VALUE, "--db-password=x"])
    assert violations(no_literal_secret_args, DEPLOYMENT, props) == [
        f'Deployment "web": container "web" args[2] passes a literal value to the secret-looking flag '
        f'"--db-password": {ARGV_FIX}'
    ]
    assert violations(no_literal_secret_args, DEPLOYMENT, deployment(args=UNKNOWN_STRING_VALUE)) == []


# --------------------------------------------------------------------------- Pod Security Standards


def secure_pod(**pod_changes: Any) -> dict[str, Any]:
    """A compliant pod spec (init, app and ephemeral containers); `pod_changes` replace pod fields."""
    spec = pod_spec()
    spec["initContainers"] = [good_container("keyfile")]
    spec["ephemeralContainers"] = [
        {
            "name": "debug",
            "image": "busybox:1.36",
            **{"securityContext": copy.deepcopy(good_container()["securityContext"])},
        }
    ]
    spec.update(pod_changes)
    return spec


def container_security(spec: dict[str, Any], which: str, **changes: Any) -> dict[str, Any]:
    """`spec` with the securityContext of its first `which` container changed (None removes a key)."""
    context = spec[which][0]["securityContext"]
    for key, value in changes.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return spec


CONTAINER_LABELS = {
    "initContainers": 'init container "keyfile"',
    "containers": 'container "web"',
    "ephemeralContainers": 'ephemeral container "debug"',
}


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_restricted_pods_are_accepted_on_every_kind(kind: str) -> None:
    assert violations(pod_security_restricted, *workload(kind, secure_pod())) == []
    assert violations(no_service_account_token, *workload(kind, secure_pod())) == []


@pytest.mark.parametrize(
    "changes",
    [
        # runAsNonRoot and seccomp on every container instead of on the pod.
        {"securityContext": {}},
        # The restricted exceptions: NET_BIND_SERVICE, Localhost profiles, a non-zero UID, hostPort 0.
        {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "Localhost"},
            }
        },
        {"hostNetwork": False, "hostPID": False, "hostIPC": False},
        # OpenShift: the program leaves the UIDs to restricted-v2.
        {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}},
    ],
)
def test_restricted_alternatives_are_accepted(changes: dict[str, Any]) -> None:
    spec = secure_pod(**changes)
    for which in CONTAINER_LABELS:
        context = spec[which][0]["securityContext"]
        context["runAsNonRoot"] = True
        context["seccompProfile"] = {"type": "RuntimeDefault"}
        context["capabilities"] = {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 0}]
    spec["volumes"] = [
        {"name": v, v: {}}
        for v in (
            "configMap",
            "csi",
            "downwardAPI",
            "ephemeral",
            "persistentVolumeClaim",
            "projected",
            "secret",
        )
    ] + [{"name": "tmp", "emptyDir": {"sizeLimit": "1Mi"}}]
    assert violations(pod_security_restricted, *workload("Deployment", spec)) == []


# (pod spec changes, message after `<Kind> "rasa": `)
POD_VIOLATIONS = [
    ({"hostNetwork": True}, "pod hostNetwork is true: remove it (the pod would share the node's namespace)"),
    ({"hostPID": True}, "pod hostPID is true: remove it (the pod would share the node's namespace)"),
    ({"hostIPC": True}, "pod hostIPC is true: remove it (the pod would share the node's namespace)"),
    (
        {"securityContext": {"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}},
        "pod securityContext.runAsNonRoot is false: set it to true",
    ),
    (
        {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 0,
                "seccompProfile": {"type": "RuntimeDefault"},
            }
        },
        "pod securityContext.runAsUser is 0 (root): run as a non-zero UID, or leave it unset",
    ),
    (
        {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}},
        'pod securityContext.seccompProfile.type is "Unconfined": set it to RuntimeDefault (or Localhost)',
    ),
    (
        {
            "securityContext": {
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
                "windowsOptions": {"hostProcess": True},
            }
        },
        "pod securityContext.windowsOptions.hostProcess is true: remove it",
    ),
    (
        {"securityContext": {"runAsNonRoot": "yes", "seccompProfile": {"type": "RuntimeDefault"}}},
        'pod securityContext.runAsNonRoot is "yes": set it to true',
    ),
    (
        {"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]},
        'volume "docker" is a hostPath volume: use a persistentVolumeClaim, configMap, secret or emptyDir '
        "(a hostPath exposes the node's filesystem)",
    ),
    (
        {"volumes": [{"name": "share", "nfs": {"server": "nfs", "path": "/"}}]},
        'volume "share" is a nfs volume, which the restricted profile does not allow: use one of configMap, '
        "csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret",
    ),
    ({"volumes": ["x"]}, "volumes[0] is not an object"),
]


@pytest.mark.parametrize(("changes", "message"), POD_VIOLATIONS)
@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_pod_level_violations_are_refused_on_every_kind(
    kind: str, changes: dict[str, Any], message: str
) -> None:
    found = violations(pod_security_restricted, *workload(kind, secure_pod(**changes)), name="rasa")
    assert found == [f'{kind} "rasa": {message}']


# (container securityContext changes, message after `<container label> `)
CONTAINER_VIOLATIONS = [
    ({"privileged": True}, "securityContext.privileged is true: set it to false"),
    ({"allowPrivilegeEscalation": True}, "securityContext.allowPrivilegeEscalation is true: set it to false"),
    (
        {"allowPrivilegeEscalation": None},
        "securityContext.allowPrivilegeEscalation is not set: set it to false",
    ),
    ({"capabilities": None}, "securityContext.capabilities.drop does not include ALL: set drop: [ALL]"),
    (
        {"capabilities": {"drop": ["NET_RAW"]}},
        "securityContext.capabilities.drop does not include ALL: set drop: [ALL]",
    ),
    (
        {"capabilities": {"drop": "ALL"}},
        "securityContext.capabilities.drop does not include ALL: set drop: [ALL]",
    ),
    (
        {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_BIND_SERVICE", "NET_RAW"]}},
        "securityContext.capabilities.add has SYS_ADMIN, NET_RAW: remove them "
        "(only NET_BIND_SERVICE may be added)",
    ),
    ({"runAsNonRoot": False}, "securityContext.runAsNonRoot is false: set it to true"),
    ({"runAsUser": 0}, "securityContext.runAsUser is 0 (root): run as a non-zero UID, or leave it unset"),
    (
        {"seccompProfile": {"type": "Unconfined"}},
        'securityContext.seccompProfile.type is "Unconfined": set it to RuntimeDefault (or Localhost)',
    ),
    (
        {"windowsOptions": {"hostProcess": True}},
        "securityContext.windowsOptions.hostProcess is true: remove it",
    ),
]


@pytest.mark.parametrize(("changes", "message"), CONTAINER_VIOLATIONS)
@pytest.mark.parametrize("which", sorted(CONTAINER_LABELS))
@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_container_violations_are_refused_naming_the_container_and_field(
    kind: str, which: str, changes: dict[str, Any], message: str
) -> None:
    spec = container_security(secure_pod(), which, **changes)
    found = violations(pod_security_restricted, *workload(kind, spec), name="rasa")
    assert found == [f'{kind} "rasa": {CONTAINER_LABELS[which]} {message}']


@pytest.mark.parametrize("which", sorted(CONTAINER_LABELS))
def test_pod_defaults_must_be_set_on_the_container_when_the_pod_does_not(which: str) -> None:
    spec = secure_pod(securityContext={"runAsUser": 10001})
    for other in CONTAINER_LABELS:
        if other != which:
            container_security(spec, other, runAsNonRoot=True, seccompProfile={"type": "RuntimeDefault"})
    container_security(spec, which, runAsNonRoot=None)
    found = violations(pod_security_restricted, *workload("Job", spec), name="migrate")
    label = CONTAINER_LABELS[which]
    assert found == [
        f'Job "migrate": {label} securityContext.runAsNonRoot is not set, nor is the pod\'s: '
        "set runAsNonRoot: true on the pod or the container",
        f'Job "migrate": {label} securityContext.seccompProfile is not set, nor is the pod\'s: '
        "set seccompProfile.type: RuntimeDefault on the pod or the container",
    ]


def test_host_ports_and_malformed_container_contexts_are_refused() -> None:
    spec = secure_pod()
    spec["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}]
    spec["initContainers"][0]["securityContext"] = "privileged"
    found = violations(pod_security_restricted, *workload("DaemonSet", spec), name="agent")
    assert found == [
        'DaemonSet "agent": init container "keyfile" securityContext is not an object',
        'DaemonSet "agent": init container "keyfile" securityContext.allowPrivilegeEscalation is not set: '
        "set it to false",
        'DaemonSet "agent": init container "keyfile" securityContext.capabilities.drop does not include ALL: '
        "set drop: [ALL]",
        'DaemonSet "agent": container "web" ports[1].hostPort is 8443: remove it and expose the port through '
        "a Service",
    ]


def test_a_malformed_pod_security_context_is_reported_and_sets_nothing() -> None:
    found = violations(pod_security_restricted, *workload("Pod", secure_pod(securityContext="root")))
    # Every container already sets runAsNonRoot itself, none sets seccomp: each is told to.
    assert found == ['Pod "web": pod securityContext is not an object'] + [
        f'Pod "web": {label} securityContext.seccompProfile is not set, nor is the pod\'s: '
        "set seccompProfile.type: RuntimeDefault on the pod or the container"
        for label in CONTAINER_LABELS.values()
    ]


def test_the_reviewers_probe_deployment_is_refused() -> None:
    """privileged, runAsUser 0, SYS_ADMIN, hostNetwork, hostPID, a hostPath: each once passed every policy."""
    spec = pod_spec()
    spec.pop("securityContext")
    spec.pop("automountServiceAccountToken")
    spec.update(hostNetwork=True, hostPID=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    spec["containers"][0]["securityContext"] = {
        "privileged": True,
        "runAsUser": 0,
        "capabilities": {"add": ["SYS_ADMIN"]},
    }
    found = violations(pod_security_restricted, DEPLOYMENT, workload("Deployment", spec)[1], name="probe")
    body = [m.removeprefix('Deployment "probe": ') for m in found]
    assert body == [
        "pod hostNetwork is true: remove it (the pod would share the node's namespace)",
        "pod hostPID is true: remove it (the pod would share the node's namespace)",
        'volume "root" is a hostPath volume: use a persistentVolumeClaim, configMap, secret or emptyDir '
        "(a hostPath exposes the node's filesystem)",
        'container "web" securityContext.privileged is true: set it to false',
        'container "web" securityContext.allowPrivilegeEscalation is not set: set it to false',
        'container "web" securityContext.capabilities.drop does not include ALL: set drop: [ALL]',
        'container "web" securityContext.capabilities.add has SYS_ADMIN: remove them (only NET_BIND_SERVICE '
        "may be added)",
        'container "web" securityContext.runAsNonRoot is not set, nor is the pod\'s: set runAsNonRoot: '
        "true on the pod or the container",
        'container "web" securityContext.runAsUser is 0 (root): run as a non-zero UID, or leave it unset',
        'container "web" securityContext.seccompProfile is not set, nor is the pod\'s: '
        "set seccompProfile.type: RuntimeDefault on the pod or the container",
    ]
    assert violations(
        no_service_account_token, DEPLOYMENT, workload("Deployment", spec)[1], name="probe"
    ) == [
        'Deployment "probe": pod automountServiceAccountToken is not set: set it to false (a workload that '
        "calls the Kubernetes API mounts a projected serviceAccountToken volume instead)"
    ]


def test_unknown_security_values_skip_only_that_field() -> None:
    spec = secure_pod(hostNetwork=UNKNOWN_BOOLEAN_VALUE, hostPID=True)
    spec["securityContext"]["runAsNonRoot"] = UNKNOWN_BOOLEAN_VALUE
    context = spec["containers"][0]["securityContext"]
    context.update(privileged=UNKNOWN_BOOLEAN_VALUE, allowPrivilegeEscalation=True, runAsNonRoot=None)
    context["capabilities"] = {"drop": [UNKNOWN_STRING_VALUE], "add": [UNKNOWN_STRING_VALUE, "SYS_ADMIN"]}
    spec["containers"][0]["ports"] = [UNKNOWN_STRING_VALUE, {"containerPort": 1, "hostPort": 2}]
    spec["initContainers"][0]["securityContext"] = UNKNOWN_STRING_VALUE
    spec["volumes"] = [UNKNOWN_STRING_VALUE, {"name": "h", "hostPath": UNKNOWN_STRING_VALUE}]
    found = violations(pod_security_restricted, *workload("Deployment", spec))
    assert [m.removeprefix('Deployment "web": ') for m in found] == [
        "pod hostPID is true: remove it (the pod would share the node's namespace)",
        'volume "h" is a hostPath volume: use a persistentVolumeClaim, configMap, secret or emptyDir '
        "(a hostPath exposes the node's filesystem)",
        'container "web" securityContext.allowPrivilegeEscalation is true: set it to false',
        # The unknown drop entry may turn out to be ALL: only the known extra capability is refused.
        'container "web" securityContext.capabilities.add has SYS_ADMIN: remove them (only NET_BIND_SERVICE '
        "may be added)",
        'container "web" ports[1].hostPort is 2: remove it and expose the port through a Service',
    ]
    unknown_spec: Any = UNKNOWN_STRING_VALUE
    assert violations(pod_security_restricted, *workload("Deployment", unknown_spec)) == []
    unknown_context = secure_pod(securityContext=UNKNOWN_STRING_VALUE)
    for which in CONTAINER_LABELS:
        container_security(unknown_context, which, runAsNonRoot=None, seccompProfile=None)
    assert violations(pod_security_restricted, *workload("Deployment", unknown_context)) == []


@pytest.mark.parametrize(("value", "shown"), [(None, "not set"), (True, "true")])
@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_automounted_service_account_token_is_refused(kind: str, value: Any, shown: str) -> None:
    spec = secure_pod(automountServiceAccountToken=value)
    if value is None:
        spec.pop("automountServiceAccountToken")
    assert violations(no_service_account_token, *workload(kind, spec), name="bot") == [
        f'{kind} "bot": pod automountServiceAccountToken is {shown}: set it to false (a workload that calls '
        "the Kubernetes API mounts a projected serviceAccountToken volume instead)"
    ]
    unknown = secure_pod(automountServiceAccountToken=UNKNOWN_BOOLEAN_VALUE)
    assert violations(no_service_account_token, *workload(kind, unknown)) == []


# --------------------------------------------------------------------------- LoadBalancer Services

SERVICE = "kubernetes:core/v1:Service"


@pytest.mark.parametrize("service_type", [None, "ClusterIP", "NodePort", "ExternalName"])
def test_services_other_than_load_balancers_are_accepted(service_type: str | None) -> None:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if service_type:
        spec["type"] = service_type
    assert violations(no_load_balancers, SERVICE, {"spec": spec}) == []
    assert violations(no_load_balancers, SERVICE, {}) == []


def test_load_balancer_service_is_refused() -> None:
    found = violations(no_load_balancers, SERVICE, {"spec": {"type": "LoadBalancer"}}, name="rasa")
    assert found == ['Service "rasa": spec.type is LoadBalancer; expose it through the Ingress instead']


# --------------------------------------------------------------------------- emptyDir size limits


def with_volumes(*volumes: dict[str, Any]) -> dict[str, Any]:
    spec = pod_spec()
    spec["volumes"] = list(volumes)
    return spec


def unbounded(name: str, what: str = "an emptyDir", problem: str = "has no sizeLimit") -> str:
    """The expected message; `name` is the volume's name, or its `volumes[i]` label."""
    label = name if name.startswith("volumes[") else f'volume "{name}"'
    risk = "take the pod's whole memory limit" if "Memory" in what else "fill the node's disk"
    return (
        f"{label} is {what} that {problem}: set emptyDir.sizeLimit to a positive quantity "
        f'(e.g. "64Mi"); unbounded, it can {risk}'
    )


MEMORY = "a memory-backed emptyDir (medium: Memory)"


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_bounded_empty_dirs_are_accepted_on_every_workload_kind(kind: str) -> None:
    spec = with_volumes(
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "keyfile", "emptyDir": {"medium": "", "sizeLimit": "1Mi"}},
    )
    assert violations(empty_dir_size_limits, *workload(kind, spec)) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_empty_dir_without_size_limit_is_refused_naming_resource_and_volume(kind: str) -> None:
    spec = with_volumes(
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "cache", "emptyDir": {}},
        {"name": "scratch", "emptyDir": {"medium": ""}},
    )
    found = violations(empty_dir_size_limits, *workload(kind, spec), name="rasa")
    assert found == [f'{kind} "rasa": {unbounded("cache")}', f'{kind} "rasa": {unbounded("scratch")}']


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_memory_empty_dir_without_size_limit_is_refused(kind: str) -> None:
    spec = with_volumes({"name": "shm", "emptyDir": {"medium": "Memory"}})
    found = violations(empty_dir_size_limits, *workload(kind, spec), name="rasa")
    assert found == [
        f'{kind} "rasa": volume "shm" is a memory-backed emptyDir (medium: Memory) that has no sizeLimit: '
        'set emptyDir.sizeLimit to a positive quantity (e.g. "64Mi"); unbounded, it can take the '
        "pod's whole memory limit"
    ]


@pytest.mark.parametrize(
    ("size_limit", "problem"),
    [
        (None, "has no sizeLimit"),
        ("", "has no sizeLimit"),
        ("  ", "has no sizeLimit"),
        # The kubelet evicts only on a positive limit (size.Sign() == 1).
        ("0", 'has sizeLimit "0", which the kubelet treats as no limit'),
        ("0Mi", 'has sizeLimit "0Mi", which the kubelet treats as no limit'),
        ("0.0Gi", 'has sizeLimit "0.0Gi", which the kubelet treats as no limit'),
        (0, 'has sizeLimit "0", which the kubelet treats as no limit'),
        ("-1Gi", 'has a negative sizeLimit "-1Gi"'),
        (True, "has a sizeLimit that is not a quantity"),
        ({"value": "1Gi"}, "has a sizeLimit that is not a quantity"),
    ],
)
def test_size_limits_that_bound_nothing_are_refused(size_limit: Any, problem: str) -> None:
    assert size_limit_problem(size_limit) == problem
    empty_dir: dict[str, Any] = {"medium": "Memory"}
    if size_limit is not None:
        empty_dir["sizeLimit"] = size_limit
    found = violations(
        empty_dir_size_limits, *workload("Job", with_volumes({"name": "shm", "emptyDir": empty_dir}))
    )
    assert found == [f'Job "web": {unbounded("shm", MEMORY, problem)}']


@pytest.mark.parametrize("size_limit", ["64Mi", "1Gi", "0.5Gi", "500M", "1e3", "100", 1024, "10Ki"])
def test_positive_size_limits_are_accepted(size_limit: Any) -> None:
    assert size_limit_problem(size_limit) is None


def test_other_volume_sources_are_left_alone() -> None:
    spec = with_volumes(
        {"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
        {"name": "secrets", "secret": {"secretName": "botfront-secrets", "defaultMode": 0o400}},
        {"name": "config", "configMap": {"name": "rasa-config"}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
        {"name": "none-at-all"},
        {"name": "null-source", "emptyDir": None},
    )
    assert violations(empty_dir_size_limits, *workload("StatefulSet", spec)) == []
    assert violations(empty_dir_size_limits, *workload("Deployment", pod_spec())) == []  # no volumes


def test_unnamed_and_malformed_volumes_are_reported_by_index() -> None:
    spec = with_volumes({"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}, {"emptyDir": {}}, "tmp")
    found = violations(empty_dir_size_limits, *workload("Deployment", spec))
    assert found == [
        f'Deployment "web": {unbounded("volumes[1]")}',
        'Deployment "web": volumes[2] is not an object',
    ]


def test_unknown_volume_values_skip_only_that_volume() -> None:
    spec = with_volumes(
        {"name": "a", "emptyDir": {"sizeLimit": UNKNOWN_STRING_VALUE}},
        UNKNOWN_STRING_VALUE,
        {"name": "b", "emptyDir": UNKNOWN_STRING_VALUE},
        {"name": "c", "emptyDir": {"medium": UNKNOWN_STRING_VALUE, "sizeLimit": "1Gi"}},
        {"name": "d", "emptyDir": {}},
        # Refused whatever the medium or name turn out to be.
        {"name": "e", "emptyDir": {"medium": UNKNOWN_STRING_VALUE}},
        {"name": UNKNOWN_STRING_VALUE, "emptyDir": {}},
    )
    found = violations(empty_dir_size_limits, *workload("Deployment", spec))
    assert found == [
        f'Deployment "web": {unbounded("d")}',
        f'Deployment "web": {unbounded("e")}',
        f'Deployment "web": {unbounded("volumes[6]")}',
    ]
    assert violations(empty_dir_size_limits, *workload("Deployment", {"volumes": UNKNOWN_STRING_VALUE})) == []


# --------------------------------------------------------------------------- Atlas clusters


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """Set PULUMI_STACK as the CLI does for a policy pack process."""

    def set_stack(name: str | None) -> None:
        if name is None:
            monkeypatch.delenv("PULUMI_STACK", raising=False)
        else:
            monkeypatch.setenv("PULUMI_STACK", name)

    return set_stack


def cluster(**fields: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"name": "bf-prod", "clusterType": "REPLICASET"}
    props.update(fields)
    return props


@pytest.mark.parametrize("name", ["staging", "prod", "acme/botfront/prod"])
def test_protected_stack_cluster_with_protection_and_backups_is_accepted(stack: Any, name: str) -> None:
    stack(name)
    props = cluster(terminationProtectionEnabled=True, backupEnabled=True)
    assert violations(atlas_cluster_protected, ATLAS, props, protect=True) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"terminationProtectionEnabled": False, "backupEnabled": True},
            [
                'AdvancedCluster "cluster": terminationProtectionEnabled is false, must be true '
                '(stack "prod" is protected)'
            ],
        ),
        (
            {"terminationProtectionEnabled": True},
            ['AdvancedCluster "cluster": backupEnabled is not set, must be true (stack "prod" is protected)'],
        ),
        (
            {},
            [
                'AdvancedCluster "cluster": terminationProtectionEnabled is not set, must be true '
                '(stack "prod" is protected)',
                'AdvancedCluster "cluster": backupEnabled is not set, must be true '
                '(stack "prod" is protected)',
            ],
        ),
    ],
)
def test_protected_stack_cluster_without_protection_or_backups_is_refused(
    stack: Any, fields: dict[str, Any], expected: list[str]
) -> None:
    stack("prod")
    assert violations(atlas_cluster_protected, ATLAS, cluster(**fields), name="cluster") == expected


def test_unprotected_stack_may_run_a_free_cluster(stack: Any) -> None:
    stack("pr-42")
    props = cluster(terminationProtectionEnabled=False)
    assert violations(atlas_cluster_protected, ATLAS, props) == []


def test_a_protected_resource_needs_termination_protection_on_any_stack(stack: Any) -> None:
    stack("dev")
    found = violations(
        atlas_cluster_protected,
        ATLAS,
        cluster(terminationProtectionEnabled=False, backupEnabled=False),
        protect=True,
    )
    # A stack named prod-eu or dev is protected when the program protects its data.
    assert found == [
        'AdvancedCluster "web": terminationProtectionEnabled is false, must be true '
        "(the resource is protected)",
        'AdvancedCluster "web": backupEnabled is false, must be true (the resource is protected)',
    ]
    assert (
        violations(
            atlas_cluster_protected,
            ATLAS,
            cluster(terminationProtectionEnabled=True, backupEnabled=True),
            protect=True,
        )
        == []
    )


def test_protected_stacks_come_from_policy_config_or_stack_tag(stack: Any) -> None:
    bad = cluster(terminationProtectionEnabled=False, backupEnabled=False)
    stack("prod-eu")
    assert violations(atlas_cluster_protected, ATLAS, bad) == []
    assert len(violations(atlas_cluster_protected, ATLAS, bad, config={"protectedStacks": ["prod-eu"]})) == 2
    assert len(violations(atlas_cluster_protected, ATLAS, bad, config={"protectedStacks": "prod-eu"})) == 2
    assert (
        len(violations(atlas_cluster_protected, ATLAS, bad, stack_tags={"botfront:protected": "true"})) == 2
    )
    stack("prod")
    assert violations(atlas_cluster_protected, ATLAS, bad, config={"protectedStacks": ["prod-eu"]}) == []


def test_without_a_stack_name_the_cluster_policy_fails_closed(stack: Any) -> None:
    stack(None)
    assert len(violations(atlas_cluster_protected, ATLAS, cluster())) == 2


# --------------------------------------------------------------------------- unknown and malformed props


def test_unknown_values_during_preview_are_skipped_not_reported(stack: Any) -> None:
    stack("prod")
    unknown_container = {"name": "web", "image": UNKNOWN_STRING_VALUE, "env": UNKNOWN_STRING_VALUE}
    props = {"spec": {"template": {"spec": {"containers": [unknown_container, UNKNOWN_STRING_VALUE]}}}}
    assert violations(pinned_images, DEPLOYMENT, props) == []
    assert violations(no_literal_secrets, DEPLOYMENT, props) == []
    assert violations(pinned_images, DEPLOYMENT, {"spec": UNKNOWN_STRING_VALUE}) == []
    assert violations(no_load_balancers, SERVICE, {"spec": {"type": UNKNOWN_STRING_VALUE}}) == []
    props = cluster(terminationProtectionEnabled=UNKNOWN_BOOLEAN_VALUE, backupEnabled=True)
    assert violations(atlas_cluster_protected, ATLAS, props) == []


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"spec": None},
        {"spec": {"template": "nope"}},
        {"spec": {"template": {"spec": {"containers": None}}}},
        {"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "x:1", "env": [None, "y"]}]}}}},
        {"spec": {"template": {"spec": {"volumes": "nope"}}}},
        {
            "spec": {
                "template": {"spec": {"volumes": [None, {"emptyDir": "x"}, {"emptyDir": {"sizeLimit": []}}]}}
            }
        },
    ],
)
def test_malformed_props_do_not_crash(props: dict[str, Any]) -> None:
    for policy in ALL_POLICIES:
        violations(policy, DEPLOYMENT, props)


def test_a_non_object_container_is_reported() -> None:
    found = violations(pinned_images, DEPLOYMENT, {"spec": {"template": {"spec": {"containers": ["x"]}}}})
    assert found == ['Deployment "web": containers[0] is not an object']


# --------------------------------------------------------------------------- the real program

RESTORE_ARCHIVE = "bf-20240131T023000Z.archive.gz"
# Variants of the stacks that render what the stack files do not all enable: every catalog
# release, OpenShift (no pinned UIDs), the restore Job, actions servers, several projects.
VARIANTS: dict[str, dict[str, Any]] = {
    "dev+actions": {"actions": {"image": "example/actions:1.2.3"}},
    **{
        f"dev+release-{release}": {"release": release}
        for release in sorted(CATALOG)
        if release != DEFAULT_RELEASE
    },
    "dev+openshift": {"platform": "openshift"},
    "prod+openshift": {"platform": "openshift"},
    "dev+restore": {"backup": {"schedule": "0 4 * * *"}, "restoreFrom": RESTORE_ARCHIVE},
    "dev+openshift+restore": {
        "platform": "openshift",
        "backup": {"schedule": "0 4 * * *"},
        "restoreFrom": RESTORE_ARCHIVE,
    },
    "staging+projects": {
        "projects": [
            {
                "id": "bf",
                "environments": ["development", "production"],
                "actions": {"image": "ghcr.io/acme/bf-actions:1.0.0"},
            },
            {"id": "support", "actions": {"image": "ghcr.io/acme/support-actions:2.0.0"}},
        ]
    },
}


def real_plan(name: str) -> Plan:
    stack, _, _ = name.partition("+")
    # Every stack file plans offline: a ConfigError here is a failure, never a skip.
    return plan_for(stack, **VARIANTS.get(name, {}))


JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"


def planned_pod_spec(resource: PlannedResource) -> dict[str, Any] | None:
    """The pod spec of a planned workload, found by its shape (not by the policies' table)."""
    spec = resource.secret_inputs.get("spec", {})
    if resource.type == CRON_JOB:
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template") if isinstance(spec, dict) else None
    return template.get("spec") if isinstance(template, dict) else None


def planned_volumes(plan: Plan) -> Iterator[tuple[PlannedResource, dict[str, Any]]]:
    for resource in plan.resources:
        spec = planned_pod_spec(resource)
        for volume in (spec or {}).get("volumes", []):
            yield resource, volume


def run_all(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PlannedResource, str, str]]:
    """(resource, policy name, message) for every violation over every resource of `plan`."""
    monkeypatch.setenv("PULUMI_STACK", plan.stack)
    for resource in plan.resources:
        for policy in ALL_POLICIES:
            for message in violations(
                policy, resource.type, resource.secret_inputs, resource.name, protect=resource.protect
            ):
                yield resource, policy.name, message


@pytest.mark.parametrize("name", STACKS + sorted(VARIANTS))
def test_real_plans_pass_every_policy(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = real_plan(name)
    workloads = [r for r in plan.resources if r.type == DEPLOYMENT]
    assert workloads, "the plan has no Deployments: the policies would pass vacuously"
    if name in ("staging", "prod"):
        assert plan.of_type(ATLAS), "the Atlas stacks plan no cluster: the Atlas policy would pass vacuously"
    # Every Deployment, and the verification Job, writes to a bounded emptyDir: the emptyDir policy
    # sees the program's real volumes, not none.
    empty_dirs = {(r.type, r.name) for r, volume in planned_volumes(plan) if "emptyDir" in volume}
    assert {(DEPLOYMENT, r.name) for r in workloads} <= empty_dirs
    assert any(resource_type == JOB for resource_type, _ in empty_dirs)
    if "restore" in name:
        assert any(r.name.startswith("mongo-restore-") for r in plan.of_type(JOB)), "no restore Job planned"
    # Every pod the plan renders is one the security policies read (none hides behind a kind the
    # table lacks), and the OpenShift variants really leave the UIDs unset.
    pods = [r for r in plan.resources if planned_pod_spec(r) is not None]
    assert {r.type.rsplit(":", 1)[-1] for r in pods} <= set(POD_SPEC_PATHS)
    pinned = {"runAsUser" in (planned_pod_spec(r) or {}).get("securityContext", {}) for r in pods}
    assert pinned == ({False} if "openshift" in name else {True})
    found = [
        f"{policy}: {message} ({resource.urn})" for resource, policy, message in run_all(plan, monkeypatch)
    ]
    assert found == []


def test_real_plan_mutations_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policies read the real program's shapes: break one field of a real object, get one violation."""
    plan = copy.deepcopy(real_plan("dev"))
    rasa = plan.get(DEPLOYMENT, "rasa").secret_inputs
    rasa_container = rasa["spec"]["template"]["spec"]["containers"][0]
    rasa_container["image"] = "botfront/rasa-for-botfront:latest"
    del rasa_container["readinessProbe"]
    del rasa_container["resources"]["limits"]["memory"]
    rasa_container["env"].append({"name": "AUTH_TOKEN_FALLBACK", "value": "plaintext"})
    service = next(r for r in plan.resources if r.type == SERVICE)
    service.secret_inputs.setdefault("spec", {})["type"] = "LoadBalancer"
    # The bound dropped from rasa's real /tmp emptyDir, and a tmpfs without one added to the real
    # backup CronJob.
    rasa_tmp = next(v for v in rasa["spec"]["template"]["spec"]["volumes"] if v["name"] == "tmp")
    del rasa_tmp["emptyDir"]["sizeLimit"]
    (backup,) = plan.of_type(CRON_JOB)
    backup_pod = planned_pod_spec(backup)
    assert backup_pod is not None
    backup_pod["volumes"].append({"name": "shm", "emptyDir": {"medium": "Memory"}})
    found = sorted((policy, resource.name) for resource, policy, _ in run_all(plan, monkeypatch))
    assert found == sorted(
        [
            ("pinned-images", "rasa"),
            ("liveness-and-readiness-probes", "rasa"),
            ("requests-and-limits", "rasa"),
            ("no-literal-secret-env", "rasa"),
            ("no-loadbalancer-services", service.name),
            ("emptydir-size-limits", "rasa"),
            ("emptydir-size-limits", backup.name),
        ]
    )
    messages = [
        message for _, policy, message in run_all(plan, monkeypatch) if policy == "emptydir-size-limits"
    ]
    assert any(
        m.startswith('Deployment "rasa": volume "tmp" is an emptyDir that has no sizeLimit') for m in messages
    )
    assert any(f'CronJob "{backup.name}": volume "shm" is a memory-backed emptyDir' in m for m in messages)


@pytest.mark.parametrize("name", ["dev", "dev+openshift"])
def test_real_plan_security_mutations_are_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One PSS field broken on each of the program's real pods, and one secret passed as a flag."""
    plan = copy.deepcopy(real_plan(name))
    rasa = planned_pod_spec(plan.get(DEPLOYMENT, "rasa"))
    mongo = planned_pod_spec(plan.get(DEPLOYMENT, "mongo"))
    duckling = planned_pod_spec(plan.get(DEPLOYMENT, "duckling"))
    botfront = planned_pod_spec(plan.get(DEPLOYMENT, "botfront"))
    (backup,) = plan.of_type(CRON_JOB)
    backup_pod, verify_pod = planned_pod_spec(backup), planned_pod_spec(plan.get(JOB, "verify"))
    assert rasa and mongo and duckling and botfront and backup_pod and verify_pod
    rasa["containers"][0]["securityContext"]["privileged"] = True
    mongo["initContainers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    mongo["hostPID"] = True
    duckling["securityContext"]["runAsUser"] = 0
    duckling["containers"][0]["args"] = ["--auth-token", "s3cr3t"]
    del botfront["securityContext"]["seccompProfile"]
    del backup_pod["automountServiceAccountToken"]
    verify_pod["volumes"].append({"name": "node", "hostPath": {"path": "/"}})
    found = sorted((policy, message) for _, policy, message in run_all(plan, monkeypatch))
    assert found == sorted(
        [
            (
                "pod-security-restricted",
                'Deployment "rasa": container "rasa" securityContext.privileged is true: set it to false',
            ),
            (
                "pod-security-restricted",
                'Deployment "mongo": init container "keyfile" securityContext.capabilities.'
                "add has SYS_ADMIN: remove them (only NET_BIND_SERVICE may be added)",
            ),
            (
                "pod-security-restricted",
                'Deployment "mongo": pod hostPID is true: remove it (the pod would share '
                "the node's namespace)",
            ),
            (
                "pod-security-restricted",
                'Deployment "duckling": pod securityContext.runAsUser is 0 (root): run as a '
                "non-zero UID, or leave it unset",
            ),
            (
                "no-literal-secret-args",
                'Deployment "duckling": container "duckling" args[1] passes a literal value '
                f'to the secret-looking flag "--auth-token": {ARGV_FIX}',
            ),
            (
                "pod-security-restricted",
                'Deployment "botfront": container "botfront" securityContext.seccompProfile '
                "is not set, nor is the pod's: set seccompProfile.type: RuntimeDefault on the pod or "
                "the container",
            ),
            (
                "no-automounted-service-account-token",
                f'CronJob "{backup.name}": pod automountServiceAccountToken is '
                "not set: set it to false (a workload that calls the Kubernetes API mounts a projected "
                "serviceAccountToken volume instead)",
            ),
            (
                "pod-security-restricted",
                'Job "verify": volume "node" is a hostPath volume: use a '
                "persistentVolumeClaim, configMap, secret or emptyDir (a hostPath exposes the node's "
                "filesystem)",
            ),
        ]
    )


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_real_atlas_cluster_without_backups_is_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = copy.deepcopy(real_plan(name))
    (atlas,) = plan.of_type(ATLAS)
    atlas.secret_inputs["backupEnabled"] = False
    atlas.secret_inputs.pop("terminationProtectionEnabled", None)
    found = [(policy, message) for _, policy, message in run_all(plan, monkeypatch)]
    assert [policy for policy, _ in found] == ["atlas-cluster-protected"] * 2
    assert "backupEnabled is false" in found[1][1] and f'stack "{name}" is protected' in found[1][1]


# --------------------------------------------------------------------------- end to end


def test_policy_pack_runs_as_the_cli_starts_it() -> None:
    """Start the pack exactly as `pulumi-analyzer-policy-python` does and call its gRPC API.

    Proves: `__main__.py` imports `policies` from the pack directory, every policy is mandatory,
    the stack name reaches the validators through PULUMI_STACK, policy config and stack tags are
    honoured, and a violation comes back as a mandatory diagnostic.
    """
    grpc = pytest.importorskip("grpc")
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    env = dict(os.environ, PULUMI_STACK="prod", PULUMI_PROJECT="botfront", PULUMI_DRY_RUN="true")
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=ROOT / "policy",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "botfront"
            assert sorted(p.name for p in info.policies) == sorted(p.name for p in ALL_POLICIES)
            assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}

            def analyze(resource_type: str, props: dict[str, Any]) -> list[Any]:
                struct = struct_pb2.Struct()
                struct.update(props)
                request = analyzer_pb2.AnalyzeRequest(
                    type=resource_type,
                    properties=struct,
                    urn=f"urn:pulumi:prod::botfront::{resource_type}::x",
                    name="x",
                )
                return list(stub.Analyze(request, timeout=30).diagnostics)

            diagnostics = analyze(ATLAS, cluster(terminationProtectionEnabled=False, backupEnabled=True))
            assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
                ("atlas-cluster-protected", analyzer_pb2.MANDATORY)
            ]
            assert 'stack "prod" is protected' in diagnostics[0].message
            assert analyze(DEPLOYMENT, deployment()) == []
            assert [d.policyName for d in analyze(DEPLOYMENT, deployment(image="x:latest"))] == [
                "pinned-images"
            ]
            privileged = deployment()
            privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
            diagnostics = analyze(DEPLOYMENT, privileged)
            assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
                ("pod-security-restricted", analyzer_pb2.MANDATORY)
            ]
            assert 'container "web" securityContext.privileged is true' in diagnostics[0].message
            unbounded_tmp = deployment()
            unbounded_tmp["spec"]["template"]["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
            diagnostics = analyze(DEPLOYMENT, unbounded_tmp)
            assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
                ("emptydir-size-limits", analyzer_pb2.MANDATORY)
            ]
            assert 'volume "tmp" is an emptyDir that has no sizeLimit' in diagnostics[0].message

            config = struct_pb2.Struct()
            config.update({"protectedStacks": ["prod-eu"]})
            stub.Configure(
                analyzer_pb2.ConfigureAnalyzerRequest(
                    policyConfig={
                        "atlas-cluster-protected": analyzer_pb2.PolicyConfig(
                            enforcementLevel=analyzer_pb2.MANDATORY, properties=config
                        )
                    }
                ),
                timeout=30,
            )
            assert analyze(ATLAS, cluster(terminationProtectionEnabled=False)) == []

            stub.ConfigureStack(
                analyzer_pb2.AnalyzerStackConfigureRequest(
                    stack="prod", project="botfront", tags={"botfront:protected": "true"}
                ),
                timeout=30,
            )
            assert len(analyze(ATLAS, cluster(terminationProtectionEnabled=False))) == 2
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_pack_metadata() -> None:
    text = (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert "runtime:" in text and "name: python" in text
    requirements = (ROOT / "policy" / "requirements.txt").read_text().split()
    assert "pulumi-policy==1.21.0" in requirements
