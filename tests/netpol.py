"""NetworkPolicy evaluation as Kubernetes defines it, over planned policies and hypothetical pods.

A connection from pod A to pod B on a TCP port is allowed when A's egress and B's ingress both
admit it. In one direction, a pod that no policy of its namespace selects (with that direction in
`policyTypes`) is unrestricted; otherwise at least one rule of one selecting policy must match the
port (`ports` absent or empty: every port) and the peer (`from`/`to` absent or empty: everyone). A
peer with only `podSelector` means pods of the policy's own namespace; with only
`namespaceSelector`, every pod of the matching namespaces; with both, the matching pods of the
matching namespaces. `ipBlock` peers are taken to match addresses outside the cluster only (what
they do for pod addresses is left to the CNI), so they never admit a pod here.
Source: the NetworkPolicy concept page and `NetworkPolicyPeer` in the Kubernetes 1.30 API
(`podSelector`, `namespaceSelector`, their combination, "an empty selector selects all").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.offline import Plan

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]
    # Kubernetes adds kubernetes.io/metadata.name; more namespace labels go here.
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def all_namespace_labels(self) -> dict[str, str]:
        return {NAMESPACE_NAME: self.namespace, **self.namespace_labels}


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    spec: Mapping[str, Any]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector; only matchLabels is used by the stack (anything else fails the test)."""
    assert set(selector) <= {"matchLabels"}, f"selector not modelled: {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def planned_policies(plan: Plan) -> list[Policy]:
    return [Policy(r.name, r.inputs["metadata"]["namespace"], r.inputs["spec"]) for r in plan.of_type(POLICY)]


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], pod.all_namespace_labels()):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), pod.labels)


def _port_matches(rule: Mapping[str, Any], port: int) -> bool:
    ports = rule.get("ports") or []
    for p in ports:
        assert "endPort" not in p and not isinstance(p.get("port"), str), f"port not modelled: {p}"
    return not ports or any(
        p.get("protocol", "TCP") == "TCP" and p.get("port") in (None, port) for p in ports
    )


def _admits(policies: Iterable[Policy], direction: str, pod: Pod, peer: Pod, port: int) -> bool:
    key = "from" if direction == "Ingress" else "to"
    selecting = [
        p
        for p in policies
        if p.namespace == pod.namespace
        and direction in p.spec["policyTypes"]
        and selects(p.spec["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    return any(
        _port_matches(rule, port)
        and (not rule.get(key) or any(_peer_matches(q, p.namespace, peer) for q in rule[key]))
        for p in selecting
        for rule in p.spec.get(direction.lower(), [])
    )


def allowed(policies: Iterable[Policy], source: Pod, target: Pod, port: int) -> bool:
    """Whether `source` may open TCP `port` on `target` under `policies`."""
    policies = list(policies)
    return _admits(policies, "Egress", source, target, port) and _admits(
        policies, "Ingress", target, source, port
    )


def pod_templates(plan: Plan) -> dict[str, dict[str, str]]:
    """The pod labels of every Deployment, Job and CronJob of the plan, by resource name."""
    found: dict[str, dict[str, str]] = {}
    for kind in ("apps/v1:Deployment", "batch/v1:Job"):
        for r in plan.of_type(f"kubernetes:{kind}"):
            found[r.name] = dict(r.inputs["spec"]["template"]["metadata"]["labels"])
    for r in plan.of_type("kubernetes:batch/v1:CronJob"):
        found[r.name] = dict(r.inputs["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
    return found
