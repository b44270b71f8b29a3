"""`networkPolicy.extraEgress`: more destinations a service may call, as NetworkPolicies of their own.

NetworkPolicies are additive (a connection is allowed when any policy selecting the pod allows
it: kubernetes.io/docs/concepts/services-networking/network-policies, "Network policies do not
conflict; they are additive"), so these sit beside components/network.py's policies without
editing them: one `extra-egress-<service>` policy per service key that lists any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.networking.v1 as networking

from components.backup import BACKUP_JOB, RESTORE_JOB
from components.model import EgressRule
from components.network import NAMESPACE_LABEL, network_policy
from components.pod_options import settings_key
from components.services import application_specs
from components.settings import Settings
from components.verify import NAME as VERIFY_JOB
from components.workload import NAME_LABEL


def pods_of(settings: Settings) -> dict[str, list[str]]:
    """Pod names (app.kubernetes.io/name) of each `extraEgress` service key the stack runs."""
    names: dict[str, list[str]] = {}
    for spec in application_specs(settings):
        names.setdefault(settings_key(spec.name), []).append(spec.name)
    if settings.database.mode == "incluster":
        names["mongo"] = ["mongo"]
        if settings.backup is not None:
            names["jobs"] = [BACKUP_JOB, RESTORE_JOB]
    if settings.verify:
        names.setdefault("jobs", []).append(VERIFY_JOB)
    return names


def policy_name(service: str) -> str:
    return "extra-egress-" + ("botfront-api" if service == "botfrontApi" else service)


def egress_rule(rule: EgressRule) -> networking.NetworkPolicyEgressRuleArgs:
    if rule.cidr is not None:
        peer = networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=rule.cidr))
    else:
        peer = networking.NetworkPolicyPeerArgs(
            namespace_selector=meta.LabelSelectorArgs(match_labels={NAMESPACE_LABEL: str(rule.namespace)}),
            # Absent: every pod of that namespace.
            pod_selector=meta.LabelSelectorArgs(match_labels=dict(rule.pod_selector))
            if rule.pod_selector
            else None,
        )
    return networking.NetworkPolicyEgressRuleArgs(
        to=[peer],
        ports=[networking.NetworkPolicyPortArgs(port=p.port, protocol=p.protocol) for p in rule.ports],
    )


@dataclass
class ExtraEgressArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    labels: Mapping[str, str] = field(default_factory=dict)


class ExtraEgress(pulumi.ComponentResource):
    policies: list[networking.NetworkPolicy]

    def __init__(self, name: str, args: ExtraEgressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:network:ExtraEgress", name, None, opts)
        pods = pods_of(args.settings)
        self.policies = []
        for service, rules in sorted(args.settings.network_policy.extra_egress.items()):
            if not rules:
                continue
            assert service in pods, service  # components/settings.py refuses the others
            spec = networking.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(
                    match_expressions=[
                        meta.LabelSelectorRequirementArgs(
                            key=NAME_LABEL, operator="In", values=sorted(pods[service])
                        )
                    ]
                ),
                policy_types=["Egress"],
                egress=[egress_rule(rule) for rule in rules],
            )
            self.policies.append(
                network_policy(
                    policy_name(service),
                    args.namespace,
                    args.labels,
                    spec,
                    pulumi.ResourceOptions(parent=self),
                )
            )
        self.register_outputs({"policies": [p.metadata.name for p in self.policies]})


def extra_egress(settings: Settings, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
    """The one call from __main__.py: nothing at all when no extraEgress is set."""
    if settings.network_policy.enabled and any(settings.network_policy.extra_egress.values()):
        ExtraEgress("extra-egress", ExtraEgressArgs(settings=settings, namespace=namespace), opts=opts)
