"""What every pod of the stack gets from the day-2 settings: image pull secrets and placement
(nodeSelector, tolerations, affinity), for Deployments and Jobs alike, plus envFrom sources.

`pod_scheduling(...)` returns keyword arguments for `core.PodSpecArgs`, so each pod builder
(components/workload.py, components/backup.py, any new Job) adds one `**pod_scheduling(...)`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi_kubernetes.core.v1 as core

from components.model import EnvSource, Placement

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def settings_key(service: str) -> str:
    """The `placement` / `extraEgress` key of a service by its object name: rasa-<p>-<env> is a
    rasa, actions-<p> an actions server, botfront-api is botfrontApi (components/services.py)."""
    if service == "rasa" or service.startswith("rasa-"):
        return "rasa"
    if service == "actions" or service.startswith("actions-"):
        return "actions"
    if service.startswith("mongo-") or service == "verify":  # backup, restore, verification
        return "jobs"
    return {"botfront-api": "botfrontApi"}.get(service, service)


def co_locate_affinity(label: str, value: str) -> dict[str, Any]:
    """Pods carrying label=value must share a node (a ReadWriteOnce volume they all mount)."""
    return {
        "podAffinity": {
            REQUIRED: [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {label: value}}}
            ]
        }
    }


def merged_affinity(user: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The user's affinity with the stack's own required pod-affinity terms added to it.

    Merged, not replaced: the co-location term for a ReadWriteOnce volume is a hard requirement
    (without it a second pod would wait forever on Multi-Attach), while the user's nodeAffinity,
    podAntiAffinity and own podAffinity terms are kept as written. Required terms are ANDed by the
    scheduler, so appending ours only narrows where the user allowed.
    """
    if not user and not own:
        return None
    result: dict[str, Any] = copy.deepcopy(dict(user or {}))
    for kind, section in (own or {}).items():
        target = result.setdefault(kind, {})
        for term_kind, terms in section.items():
            target[term_kind] = [*target.get(term_kind, []), *terms]
    return result


def pod_scheduling(
    image_pull_secrets: Sequence[str],
    placement: Placement,
    own_affinity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`core.PodSpecArgs` keyword arguments: imagePullSecrets, nodeSelector, tolerations, affinity."""
    return {
        "image_pull_secrets": [core.LocalObjectReferenceArgs(name=name) for name in image_pull_secrets]
        or None,
        "node_selector": dict(placement.node_selector) if placement.node_selector else None,
        "tolerations": [t.dump() for t in placement.tolerations] if placement.tolerations else None,
        "affinity": merged_affinity(placement.affinity.dump() if placement.affinity else None, own_affinity),
    }


def env_from(sources: Sequence[EnvSource]) -> list[core.EnvFromSourceArgs] | None:
    """envFrom entries; `optional` stays unset: a missing Secret or ConfigMap keeps the pod from
    starting (CreateContainerConfigError) rather than running it without its settings."""
    result = [
        core.EnvFromSourceArgs(secret_ref=core.SecretEnvSourceArgs(name=s.name))
        if s.kind == "secretRef"
        else core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=s.name))
        for s in sources
    ]
    return result or None
