"""NetworkPolicy evaluation as Kubernetes defines it, over planned policies and hypothetical pods.

A connection from pod A to pod B on a TCP port is allowed when A's egress and B's ingress both
admit it. In one direction, a pod that no policy of its namespace selects (with that direction in
`policyTypes`) is unrestricted; otherwise at least one rule of one selecting policy must match the
port (`ports` absent or empty: every port) and the peer (`from`/`to` absent or empty: everyone). A
peer with only `podSelector` means pods of the policy's own namespace; with only
`namespaceSelector`, every pod of the matching namespaces; with both, the matching pods of the
matching namespaces. An `ipBlock` peer admits an `Address` inside its `cidr` and outside every
CIDR of its `except` (the destination a pod calls by IP: a metadata service, a VPC host, the
internet), and never a selector peer's pod: what an ipBlock does for pod addresses is left to the
CNI (Calico matches them, so a pod's address is also worth testing as an `Address`). Only egress
is checked towards an `Address`: nothing of ours selects what answers there.
Source: the NetworkPolicy concept page and `NetworkPolicyPeer`/`IPBlock` in the Kubernetes 1.30 API
(`podSelector`, `namespaceSelector`, their combination, "an empty selector selects all"; "except is
a slice of CIDRs that should not be included within an IPBlock", "Except values will be rejected if
they are outside the cidr range": IPBlockArgs in pulumi-kubernetes 4.34.2,
pulumi_kubernetes/networking/v1/_inputs.py), and `LabelSelectorRequirement` (In, NotIn, Exists,
DoesNotExist; the requirements of a selector are ANDed with its matchLabels).
"""

from __future__ import annotations

import ipaddress
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
class Address:
    """A destination called by IP address, outside any pod selector's reach."""

    ip: str


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    spec: Mapping[str, Any]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector: matchLabels and matchExpressions, all of them ANDed."""
    assert set(selector) <= {"matchLabels", "matchExpressions"}, f"selector not modelled: {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and all(
        _requirement_holds(r, labels) for r in selector.get("matchExpressions") or []
    )


def _requirement_holds(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator, values = requirement["key"], requirement["operator"], requirement.get("values") or []
    if operator in ("In", "NotIn"):
        assert values, f"{operator} needs values: {requirement}"
        return (labels.get(key) in values) == (operator == "In") if key in labels else operator == "NotIn"
    assert operator in ("Exists", "DoesNotExist") and not values, f"requirement not modelled: {requirement}"
    return (key in labels) == (operator == "Exists")


def in_ip_block(block: Mapping[str, Any], ip: str) -> bool:
    """Whether `ip` is inside `block`'s cidr and outside every CIDR of its `except`."""
    assert set(block) <= {"cidr", "except"}, f"ipBlock not modelled: {block}"
    cidr = ipaddress.ip_network(block["cidr"])
    excluded = [ipaddress.ip_network(e) for e in block.get("except") or []]
    # The API server refuses an except outside the cidr: a policy here that has one is a bug.
    assert all(e.subnet_of(cidr) for e in excluded if e.version == cidr.version), f"except outside: {block}"
    address = ipaddress.ip_address(ip)
    return address in cidr and not any(address in e for e in excluded)


def planned_policies(plan: Plan) -> list[Policy]:
    return [Policy(r.name, r.inputs["metadata"]["namespace"], r.inputs["spec"]) for r in plan.of_type(POLICY)]


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, pod: Pod | Address) -> bool:
    if "ipBlock" in peer:
        assert set(peer) == {"ipBlock"}, f"ipBlock with a selector is invalid: {peer}"
        return isinstance(pod, Address) and in_ip_block(peer["ipBlock"], pod.ip)
    if isinstance(pod, Address):
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], pod.all_namespace_labels()):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), pod.labels)


def _port_matches(rule: Mapping[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports") or []
    for p in ports:
        assert "endPort" not in p and not isinstance(p.get("port"), str), f"port not modelled: {p}"
    return not ports or any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
    )


def _admits(
    policies: Iterable[Policy], direction: str, pod: Pod, peer: Pod | Address, port: int, protocol: str
) -> bool:
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
        _port_matches(rule, port, protocol)
        and (not rule.get(key) or any(_peer_matches(q, p.namespace, peer) for q in rule[key]))
        for p in selecting
        for rule in p.spec.get(direction.lower(), [])
    )


def allowed(
    policies: Iterable[Policy], source: Pod, target: Pod | Address, port: int, protocol: str = "TCP"
) -> bool:
    """Whether `source` may reach `port` (TCP unless told) on `target` under `policies`."""
    policies = list(policies)
    if isinstance(target, Address):
        return _admits(policies, "Egress", source, target, port, protocol)
    return _admits(policies, "Egress", source, target, port, protocol) and _admits(
        policies, "Ingress", target, source, port, protocol
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
