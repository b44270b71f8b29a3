"""The verification Job: `pulumi up` fails unless every Botfront service really works.

After every workload, a Job runs `components/verify_checks.py` (shipped in a ConfigMap) with the
Python of the release's own Rasa image, so no new image is trusted. It checks Botfront's /health
and a GraphQL query with the API key, each Rasa's `/`, `/status` (with its token where the
release runs one) and socket.io handshake, Duckling's parse, each action server's /health and
botfront-api's /health-check. Secrets reach it by secretKeyRef only.

The provider awaits Jobs: it waits for the `Complete` condition and fails the update at once on
`Failed`, or after 10 minutes (the await logic documented in the pinned SDK,
pulumi/pulumi-kubernetes@v4.34.2:sdk/python/pulumi_kubernetes/batch/v1/Job.py; implemented in
provider/pkg/await/job.go, read at v4.32.0, the newest tag mirrored here). A terminated
container's message is part of that error (provider/pkg/await/checker/pod/check.go@v4.32.0:
containerTerminatedError), so the Job writes its summary, with the `kubectl logs` command that
shows every result, to its termination log. ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0
(the mirror stops at v4.32.0/v3.259.0) for job.go and check.go; the installed 4.34.2 SDK's
batch/v1/Job.py docstring confirms the conditions, the 10 minutes, customTimeouts and
`pulumi.com/replaceUnready`.

The Job's name carries a digest of every workload's deployed spec (the in-cluster MongoDB's
included, `database_specs`) and of the checks: a change to
any of them is a new name, so Pulumi replaces the Job (Job specs are immutable) and the checks
run again; an unchanged stack leaves the finished Job alone. `pulumi.com/replaceUnready` makes a
Job that failed run again on the next `up` even when nothing changed (same doc string), and
deleteBeforeReplace frees its name first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes.batch.v1 as batch
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.networking.v1 as networking

from components import verify_checks
from components.database import MongoDatabase
from components.mongo import InClusterMongo
from components.network import network_policy
from components.pod_options import pod_scheduling
from components.services import ACTIONS, BOTFRONT, BOTFRONT_API, DUCKLING, PORTS, RASA, SecretKeys
from components.settings import Resources, Settings
from components.workload import (
    NAME_LABEL,
    PART_OF,
    PART_OF_LABEL,
    SKIP_SECRET_ENV,
    Security,
    analyzer_skips,
    container_security_context,
    pod_security_context,
)

NAME = "verify"
CHECKS_FILE = Path(verify_checks.__file__).read_text()
MOUNT = "/verify"
# Each check retries for up to WAIT seconds (services may still be settling after their rollout).
# The Job's deadline counts from its start, so it includes pulling the Rasa image on a node that
# lacks it; the provider waits a little longer than that, so the Job's own DeadlineExceeded is
# the error rather than the provider's timeout (10 minutes by default for Jobs; customTimeouts
# replace it: provider/pkg/await/awaiters.go@v4.32.0 getTimeout, job.go DefaultJobTimeoutMins;
# ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0, the mirror stops at v4.32.0/v3.259.0;
# batch/v1/Job.py of the installed 4.34.2 SDK documents the 10 minutes and customTimeouts).
WAIT_SECONDS = 120
DEADLINE_SECONDS = 600
AWAIT_MINUTES = 12
RESOURCES = Resources(requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "250m", "memory": "128Mi"})
API_KEY_ENV = "BOTFRONT_API_KEY"


@dataclass(frozen=True)
class Target:
    """One service the Job reaches: its name (app.kubernetes.io/name and Service) and port."""

    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.name}:{self.port}"


def token_env(instance_name: str) -> str:
    return "RASA_TOKEN_" + instance_name.upper().replace("-", "_")


def targets(settings: Settings) -> list[Target]:
    """Every service the checks call, in check order."""
    found = [Target(BOTFRONT, PORTS[BOTFRONT])]
    found += [Target(i.name, PORTS[RASA]) for i in settings.rasa_instances]
    if settings.duckling:
        found.append(Target(DUCKLING, PORTS[DUCKLING]))
    found += [Target(name, PORTS[ACTIONS]) for name, _ in settings.actions]
    if settings.botfront_api:
        found.append(Target(BOTFRONT_API, PORTS[BOTFRONT_API]))
    return found


def check_plan(settings: Settings) -> dict[str, Any]:
    """What verify_checks.py checks, as JSON data: service URLs and the names of secret env vars."""
    eio = settings.release.engineio
    uses_token = settings.release.rasa_token  # components/releases.py
    return {
        "botfront": {"url": Target(BOTFRONT, PORTS[BOTFRONT]).url, "apiKeyEnv": API_KEY_ENV},
        "rasa": [
            {
                "name": i.name,
                "url": Target(i.name, PORTS[RASA]).url,
                "tokenEnv": token_env(i.name) if uses_token else None,
                "engineio": eio,
            }
            for i in settings.rasa_instances
        ],
        "duckling": Target(DUCKLING, PORTS[DUCKLING]).url if settings.duckling else None,
        "actions": [{"name": n, "url": Target(n, PORTS[ACTIONS]).url} for n, _ in settings.actions],
        "botfrontApi": Target(BOTFRONT_API, PORTS[BOTFRONT_API]).url if settings.botfront_api else None,
    }


def secret_env(settings: Settings) -> dict[str, str]:
    """Env var -> key of the stack's Secret."""
    env = {API_KEY_ENV: SecretKeys.API_KEY}
    if settings.release.rasa_token:
        env.update({token_env(i.name): i.token_key for i in settings.rasa_instances})
    return env


def as_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    """Output-type objects as plain data: they are dict subclasses whose properties may shadow
    `items` and `values` (a selector requirement's `values`), so dict's own methods are used."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in dict.items(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def digest(parts_json: Sequence[str]) -> str:
    """The digest of the JSON list of the parts, from each part's `as_json` text.

    Joined with ", " as `json.dumps` joins list items, so the text is that of the whole list.
    Each spec is serialised in its own apply: `Output.all` over the specs themselves would make
    the SDK lift every nested dict and list of every Deployment spec into an Output of its own
    (pulumi/output.py from_input), which doubled the plan time per resource.
    """
    text = "[" + ", ".join(parts_json) + "]"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def database_specs(database: MongoDatabase) -> list[pulumi.Output[Any]]:
    """What the checks verify of the database: the in-cluster MongoDB Deployment's spec.

    Botfront's /health and its GraphQL query read MongoDB, so a new MongoDB image (or any other
    change to its pod) runs the checks again. An Atlas or external database has no spec in the
    cluster. The backup CronJob is not included: no check exercises it.
    """
    if isinstance(database, InClusterMongo):
        return [database.workload.deployment.spec]
    return []


@dataclass
class VerificationArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    secret_name: str
    # The deployed specs whose change re-runs the checks (e.g. each Deployment's `spec`).
    specs: Sequence[pulumi.Output[Any]]
    # Everything the Job must wait for: every workload, the database, the network policies.
    depends_on: Sequence[pulumi.Resource] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


class Verification(pulumi.ComponentResource):
    job: batch.Job
    config_map: core.ConfigMap
    policies: list[networking.NetworkPolicy]

    def __init__(self, name: str, args: VerificationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:verify:Verification", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, NAME_LABEL: NAME, PART_OF_LABEL: PART_OF}
        plan_json = json.dumps(check_plan(settings), indent=2, sort_keys=True)

        self.config_map = core.ConfigMap(
            f"{NAME}-checks",
            metadata=meta.ObjectMetaArgs(name=f"{NAME}-checks", namespace=args.namespace, labels=labels),
            data={"checks.py": CHECKS_FILE, "plan.json": plan_json},
            opts=child,
        )
        self.policies = []
        if settings.network_policy.enabled:
            self.policies = network_policies(settings, args.namespace, labels, child)

        image = settings.images["rasa"]
        fixed = [as_json(part) for part in (image, CHECKS_FILE, plan_json)]
        job_name = pulumi.Output.all(*(spec.apply(as_json) for spec in args.specs)).apply(
            lambda specs: f"{NAME}-{digest([*specs, *fixed])}"
        )
        self.job_name = job_name
        self.logs_command = pulumi.Output.concat("kubectl -n ", args.namespace, " logs job/", job_name)
        self.job = batch.Job(
            NAME,
            metadata=meta.ObjectMetaArgs(
                name=job_name,
                namespace=args.namespace,
                labels=labels,
                annotations={
                    # A failed Job is replaced (so the checks run again) on the next update.
                    "pulumi.com/replaceUnready": "true",
                    **_analyzer_skips(image),
                },
            ),
            spec=batch.JobSpecArgs(
                # Retries happen inside the checks (WAIT_SECONDS); a failed pod is a verdict.
                backoff_limit=0,
                active_deadline_seconds=DEADLINE_SECONDS,
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=_pod_spec(settings, args, image, job_name),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.depends_on, self.config_map, *self.policies],
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{AWAIT_MINUTES}m", update=f"{AWAIT_MINUTES}m"),
            ),
        )
        self.register_outputs({"job": job_name, "logs": self.logs_command})


def _analyzer_skips(image: str) -> dict[str, str]:
    """The image's skips, and CKV_K8S_35 with the Job's own reason (checkov reads annotations)."""
    skips = analyzer_skips(image)
    reason = "the checks read the API key and Rasa tokens from environment variables set by secretKeyRef"
    skips[f"checkov.io/skip{len(skips) + 1}"] = f"{SKIP_SECRET_ENV[0]}={reason}"
    return skips


def _pod_spec(
    settings: Settings, args: VerificationArgs, image: str, job_name: pulumi.Output[str]
) -> core.PodSpecArgs:
    security = Security()
    env = [
        core.EnvVarArgs(
            name=env_name,
            value_from=core.EnvVarSourceArgs(
                secret_key_ref=core.SecretKeySelectorArgs(name=args.secret_name, key=key)
            ),
        )
        for env_name, key in sorted(secret_env(settings).items())
    ]
    env += [
        core.EnvVarArgs(name="VERIFY_JOB", value=job_name),
        core.EnvVarArgs(name="VERIFY_NAMESPACE", value=args.namespace),
        core.EnvVarArgs(name="HOME", value="/tmp"),
    ]
    container = core.ContainerArgs(
        name=NAME,
        image=image,
        image_pull_policy="Always",
        # The image's entrypoint is `rasa`: run its Python on the checks instead (-B: no .pyc
        # writes on the read-only root filesystem).
        command=[
            "python",
            "-B",
            f"{MOUNT}/checks.py",
            f"{MOUNT}/plan.json",
            "--wait",
            str(WAIT_SECONDS),
            "--termination-log",
            "/dev/termination-log",
        ],
        env=env,
        resources=core.ResourceRequirementsArgs(
            requests=dict(RESOURCES.requests), limits=dict(RESOURCES.limits)
        ),
        termination_message_policy="FallbackToLogsOnError",
        volume_mounts=[
            core.VolumeMountArgs(name="checks", mount_path=MOUNT, read_only=True),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
        security_context=container_security_context(security),
    )
    return core.PodSpecArgs(
        restart_policy="Never",
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=pod_security_context(security, openshift=settings.platform == "openshift"),
        containers=[container],
        volumes=[
            core.VolumeArgs(
                name="checks",
                config_map=core.ConfigMapVolumeSourceArgs(name=f"{NAME}-checks", default_mode=0o444),
            ),
            core.VolumeArgs(
                name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=security.scratch_size)
            ),
        ],
        **pod_scheduling(settings.image_pull_secrets, settings.placement_for("jobs")),
    )


def network_policies(
    settings: Settings,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> list[networking.NetworkPolicy]:
    """Policies are additive: one egress policy for the Job's pod, and on each checked service an
    ingress policy admitting it on exactly the port it checks (DNS is the namespace's allow-dns)."""

    def port(number: int) -> list[networking.NetworkPolicyPortArgs]:
        return [networking.NetworkPolicyPortArgs(protocol="TCP", port=number)]

    def pods(name: str) -> meta.LabelSelectorArgs:
        return meta.LabelSelectorArgs(match_labels={NAME_LABEL: name})

    def policy(name: str, spec: networking.NetworkPolicySpecArgs) -> networking.NetworkPolicy:
        return network_policy(name, namespace, labels, spec, opts)

    checked = targets(settings)
    policies = [
        policy(
            f"{NAME}-egress",
            networking.NetworkPolicySpecArgs(
                pod_selector=pods(NAME),
                policy_types=["Egress"],
                egress=[
                    networking.NetworkPolicyEgressRuleArgs(
                        to=[networking.NetworkPolicyPeerArgs(pod_selector=pods(t.name))], ports=port(t.port)
                    )
                    for t in checked
                ],
            ),
        )
    ]
    policies += [
        policy(
            f"{NAME}-to-{t.name}",
            networking.NetworkPolicySpecArgs(
                pod_selector=pods(t.name),
                policy_types=["Ingress"],
                ingress=[
                    networking.NetworkPolicyIngressRuleArgs(
                        from_=[networking.NetworkPolicyPeerArgs(pod_selector=pods(NAME))], ports=port(t.port)
                    )
                ],
            ),
        )
        for t in checked
    ]
    return policies
