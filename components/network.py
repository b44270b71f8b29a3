"""Default-deny NetworkPolicies for the namespace, plus the paths Botfront really uses.

Who calls whom is the release's call graph (`Release.calls` in components/releases.py, each call
cited at the release's tags), mapped onto this stack's pods: every Rasa instance, its project's
action server, Duckling when enabled, the database in the cluster or on Atlas. Add the ingress
controller -> botfront and rasa, the database's own jobs, every pod -> DNS, and the release's
calls out of the cluster (`Release.external_calls`). The rules are data
(`allowed_paths`) so they can be read and tested alone. With `ingress.clusterIssuer`, the ingress
controller -> cert-manager's HTTP-01 solver pods, which cert-manager starts in this namespace.
Egress "anywhere" never includes the addresses in `NOT_PUBLIC` for Botfront's own calls, nor
`LINK_LOCAL` for anyone's (see the note there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.networking.v1 as networking

from components.releases import ACTIONS, BOTFRONT, BOTFRONT_API, DUCKLING, MONGO, PORTS, RASA
from components.settings import Settings
from components.workload import NAME_LABEL

NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace
# OpenShift labels the namespaces its routers' traffic comes from (host-network routers included).
OPENSHIFT_INGRESS_GROUP = "policy-group.network.openshift.io/ingress"
# kube-dns/CoreDNS listen on 53; OpenShift's DNS pods on 5353 (policies see the port after NAT).
# No destination is named: CoreDNS, NodeLocal DNSCache (a link-local address on the node) and
# OpenShift DNS live in different places.
DNS_PORTS = (53, 5353)
ANYWHERE = "0.0.0.0/0"
SMTP_PORTS = (25, 465, 587)

# ---- What "anywhere" leaves out ----------------------------------------------------------------
# Botfront's Meteor method 'axios.requestWithJsonBody'(url, method, data) requests any URL and
# returns {status, data} to its caller (on 1.0.x an error answer's body too), with no checkIfCan and
# no userId check (botfront/botfront@v1.0.5:botfront/imports/lib/utils.js:145-176; the same lines at
# v1.0.4:145-176 and v1.0.3:150-181; v0.27.5:78-102 returns the data of a successful answer), and
# botfront/server/startup.js imports that file, so the server registers it. Any DDP client of the
# public Ingress (`/`) can call it: an anonymous server-side request forgery that reads the answer.
# ASSUMPTION (Meteor's documented behaviour, no Meteor source mirrored here): a method defined with
# Meteor.methods is callable by every DDP client, logged in or not; Botfront's only DDPRateLimiter
# rule covers `login` (botfront/server/startup.js at v1.0.5).
# So Botfront's egress to "anywhere" (webhooks on 80/443, SMTP, git over SSH) excludes what is not
# the public internet; an internal webhook, git or SMTP server is allowed with
# networkPolicy.extraEgress.botfront, whose policy adds to these (policies are additive):
# - 169.254.0.0/16, IPv4 link-local (RFC 3927). ASSUMPTION (the clouds' documentation, nothing to
#   read here): the instance metadata service of AWS, GCP, Azure (and Oracle, DigitalOcean...) is
#   169.254.169.254, which hands out the node's credentials (AWS: with IMDSv1, or IMDSv2 with a hop
#   limit >= 2); AWS's EKS Pod Identity agent is 169.254.170.23. NodeLocal DNSCache's 169.254.20.10
#   is unaffected: DNS is `allow-dns`, a policy of its own with no destination.
# - 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, private addresses (RFC 1918): the cluster's pods and
#   nodes and the VPC on most clusters, which a CNI whose ipBlock matches pod and node addresses
#   (Calico, for one) would otherwise open on 80/443/22/SMTP.
# - 100.64.0.0/10, shared address space (RFC 6598, carrier-grade NAT): ASSUMPTION (Alibaba Cloud's
#   documentation) its metadata service is 100.100.100.200; some clusters put pods there too.
# The action server (the user's own code, which often calls the company's internal APIs) and the
# database clients on Atlas or an external MongoDB (Atlas private endpoints and VPC peering are
# private addresses) exclude link-local only: the metadata service is never their business.
# IPv6 is not opened at all (no ::/0 block): fd00:ec2::254, AWS's IPv6 metadata address, stays denied.
# `except` takes CIDRs out of the rule's `cidr` (IPBlock in the Kubernetes API; its description in
# pulumi-kubernetes 4.34.2, pulumi_kubernetes/networking/v1/_inputs.py, IPBlockArgs).
LINK_LOCAL = ("169.254.0.0/16",)
NOT_PUBLIC = (*LINK_LOCAL, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")

# cert-manager's HTTP-01 solver, read at cert-manager/cert-manager@v1.21.1. With the
# cert-manager.io/cluster-issuer annotation, cert-manager's ingress-shim creates the Certificate in
# the Ingress's namespace (pkg/controller/certificate-shim/sync.go:362); its CertificateRequest, Order
# and Challenge follow it (pkg/controller/certificates/requestmanager/requestmanager_controller.go:399,
# pkg/controller/certificaterequests/acme/acme.go:319, pkg/controller/acmeorders/util.go:81), and the
# solver pod runs in the Challenge's namespace (pkg/issuer/acme/http/pod.go:165, :208): this one, under
# its default-deny. The pod carries SolverIdentificationLabelKey "true" (pkg/apis/acme/v1/types.go:60,
# pod.go:35 podLabels) and listens on acmeSolverListenPort (pkg/issuer/acme/http/http.go:49, pod.go:241).
# cert-manager routes /.well-known/acme-challenge/<token> (pkg/issuer/acme/http/solver/constants.go:21)
# through an Ingress (pkg/issuer/acme/http/ingress.go:383, ingressPath) to a Service whose port and
# targetPort are both 8089 (pkg/issuer/acme/http/service.go:129): the controller opens 8089 on the pod,
# directly or after the Service's DNAT. The solver only answers (pkg/issuer/acme/http/solver/solver.go:51,
# Listen): it needs no egress, not even DNS.
# ASSUMPTION: the user's cert-manager, which this stack does not install or pin, behaves the same, and
# the ClusterIssuer's HTTP-01 solver is served by the controller in networkPolicy.ingressNamespace.
# The namespace enforces PSA restricted (components/cluster.py): cert-manager >= v1.10.0 builds a
# compliant solver pod (runAsNonRoot, seccomp RuntimeDefault, allowPrivilegeEscalation false, drop ALL:
# pod.go at v1.10.0; v1.9.x sets neither the seccomp profile nor drops capabilities), as long as
# --acme-http01-solver-run-as-non-root stays true (its default since v1.11.0) and no issuer podTemplate
# replaces the pod's securityContext (pod.go:323).
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089


@dataclass(frozen=True)
class Path:
    """Pods named `source` may open `port` on pods named `target` (both app.kubernetes.io/name)."""

    source: str
    target: str
    port: int


@dataclass(frozen=True)
class Egress:
    """Pods named `source` may reach `cidr`, but for `excluded`, on `ports` (outside the cluster)."""

    source: str
    ports: tuple[int, ...]
    excluded: tuple[str, ...]
    cidr: str = ANYWHERE


@dataclass(frozen=True)
class Paths:
    internal: tuple[Path, ...]
    from_ingress_controller: tuple[Path, ...]
    external: tuple[Egress, ...] = field(default_factory=tuple)


def _pods(kind: str, settings: Settings) -> list[str]:
    """The pods of one kind of service in this stack (none when it is not deployed)."""
    if kind == RASA:
        return [instance.name for instance in settings.rasa_instances]
    if kind == ACTIONS:
        return [name for name, _ in settings.actions]
    if kind == DUCKLING:
        return [DUCKLING] if settings.duckling else []
    if kind == BOTFRONT_API:
        return [BOTFRONT_API] if settings.botfront_api else []
    return [kind]


def allowed_paths(settings: Settings) -> Paths:
    internal: list[Path] = []
    external: list[Egress] = []
    in_cluster_db = settings.database.mode == "incluster"
    for call in settings.release.calls:
        pairs = [(s, t) for s in _pods(call.source, settings) for t in _pods(call.target, settings)]
        if (call.source, call.target) == (RASA, ACTIONS):
            # Each Rasa calls its own project's action server only.
            actions_of = {i.name: i.actions_service for i in settings.rasa_instances}
            pairs = [(s, t) for s, t in pairs if actions_of.get(s) == t]
        for source, target in pairs:
            if target == MONGO and not in_cluster_db:
                # Atlas hosts are resolved through DNS SRV records and change with failovers:
                # allow the MongoDB port only, to anywhere; Atlas's IP access list narrows it.
                external.append(Egress(source, (call.port,), LINK_LOCAL))
            else:
                internal.append(Path(source, target, call.port))
    if in_cluster_db:
        # The member itself too (initiating the set connects to its own advertised host), and
        # the backup and restore jobs.
        internal += [Path(client, MONGO, PORTS[MONGO]) for client in (MONGO, "mongo-backup", "mongo-restore")]
    public = [Path("ingress-controller", BOTFRONT, PORTS[BOTFRONT])]
    public += [Path("ingress-controller", instance.name, PORTS[RASA]) for instance in settings.rasa_instances]
    if settings.mail_url is not None:
        external.append(Egress(BOTFRONT, SMTP_PORTS, NOT_PUBLIC))
    # Botfront calls the webhooks configured in its admin settings (restart Rasa, deploy...).
    external.append(Egress(BOTFRONT, (80, 443), NOT_PUBLIC))
    # What the release itself calls outside the cluster (1.0.x: git over SSH).
    external += [
        Egress(source, call.ports, NOT_PUBLIC)
        for call in settings.release.external_calls
        for source in _pods(call.source, settings)
    ]
    for name, _ in settings.actions:
        # Custom actions usually call outside APIs.
        external.append(Egress(name, (80, 443), LINK_LOCAL))
    return Paths(internal=tuple(internal), from_ingress_controller=tuple(public), external=tuple(external))


def runs_acme_http01_solver(settings: Settings) -> bool:
    """Whether cert-manager may start HTTP-01 solver pods in this namespace: it does for the stack's
    Ingresses when they name a ClusterIssuer (an issuer solving DNS-01 starts none; the policy then
    selects nothing). OpenShift gets Routes, which cert-manager's ingress-shim does not watch."""
    return (
        settings.platform == "kubernetes"
        and settings.ingress.enabled
        and bool(settings.ingress.cluster_issuer)
    )


@dataclass
class NetworkPoliciesArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    labels: Mapping[str, str] = field(default_factory=dict)


class NetworkPolicies(pulumi.ComponentResource):
    policies: list[networking.NetworkPolicy]

    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:network:NetworkPolicies", name, None, opts)
        settings = args.settings
        paths = allowed_paths(settings)
        controller = _ingress_controller_peer(settings.network_policy.ingress_namespace)
        child = pulumi.ResourceOptions(parent=self)

        def policy(policy_name: str, spec: networking.NetworkPolicySpecArgs) -> networking.NetworkPolicy:
            return network_policy(policy_name, args.namespace, args.labels, spec, child)

        self.policies = [
            policy(
                "default-deny",
                networking.NetworkPolicySpecArgs(
                    pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
                ),
            ),
            policy(
                "allow-dns",
                networking.NetworkPolicySpecArgs(
                    pod_selector=meta.LabelSelectorArgs(),
                    policy_types=["Egress"],
                    egress=[
                        networking.NetworkPolicyEgressRuleArgs(
                            ports=[
                                networking.NetworkPolicyPortArgs(protocol=protocol, port=port)
                                for port in DNS_PORTS
                                for protocol in ("UDP", "TCP")
                            ],
                        )
                    ],
                ),
            ),
        ]
        # One policy per pod that receives traffic, listing every allowed source.
        targets: dict[str, list[Path]] = {}
        for path in paths.internal + paths.from_ingress_controller:
            targets.setdefault(path.target, []).append(path)
        for target, incoming in sorted(targets.items()):
            rules = []
            for port in sorted({p.port for p in incoming}):
                sources = sorted({p.source for p in incoming if p.port == port})
                peers = [
                    controller if source == "ingress-controller" else _pod_peer(source) for source in sources
                ]
                rules.append(
                    networking.NetworkPolicyIngressRuleArgs(
                        from_=peers, ports=[networking.NetworkPolicyPortArgs(protocol="TCP", port=port)]
                    )
                )
            self.policies.append(
                policy(
                    f"allow-to-{target}",
                    networking.NetworkPolicySpecArgs(
                        pod_selector=_selector(target), policy_types=["Ingress"], ingress=rules
                    ),
                )
            )
        if runs_acme_http01_solver(settings):
            self.policies.append(
                policy(
                    "allow-acme-http01-solver",
                    networking.NetworkPolicySpecArgs(
                        pod_selector=meta.LabelSelectorArgs(match_labels={ACME_SOLVER_LABEL: "true"}),
                        policy_types=["Ingress"],
                        ingress=[
                            networking.NetworkPolicyIngressRuleArgs(
                                from_=[controller],
                                ports=[
                                    networking.NetworkPolicyPortArgs(protocol="TCP", port=ACME_SOLVER_PORT)
                                ],
                            )
                        ],
                    ),
                )
            )
        # And one per pod that calls out, listing every allowed destination.
        egress_by_source: dict[str, list[networking.NetworkPolicyEgressRuleArgs]] = {}
        for path in paths.internal:
            egress_by_source.setdefault(path.source, []).append(
                networking.NetworkPolicyEgressRuleArgs(
                    to=[_pod_peer(path.target)],
                    ports=[networking.NetworkPolicyPortArgs(protocol="TCP", port=path.port)],
                )
            )
        for egress in paths.external:
            egress_by_source.setdefault(egress.source, []).append(
                networking.NetworkPolicyEgressRuleArgs(
                    to=[
                        networking.NetworkPolicyPeerArgs(
                            ip_block=networking.IPBlockArgs(cidr=egress.cidr, except_=list(egress.excluded))
                        )
                    ],
                    ports=[networking.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in egress.ports],
                )
            )
        for source, egress_rules in sorted(egress_by_source.items()):
            self.policies.append(
                policy(
                    f"allow-from-{source}",
                    networking.NetworkPolicySpecArgs(
                        pod_selector=_selector(source), policy_types=["Egress"], egress=egress_rules
                    ),
                )
            )
        self.register_outputs({"policies": [p.metadata.name for p in self.policies]})


def network_policy(
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    spec: networking.NetworkPolicySpecArgs,
    opts: pulumi.ResourceOptions,
) -> networking.NetworkPolicy:
    """A NetworkPolicy whose object name is its resource name (also for verify.py, extra_egress.py)."""
    return networking.NetworkPolicy(
        name,
        metadata=meta.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=spec,
        opts=opts,
    )


def _selector(name: str) -> meta.LabelSelectorArgs:
    return meta.LabelSelectorArgs(match_labels={NAME_LABEL: name})


def _pod_peer(name: str) -> networking.NetworkPolicyPeerArgs:
    return networking.NetworkPolicyPeerArgs(pod_selector=_selector(name))


def _ingress_controller_peer(namespace: str | None) -> networking.NetworkPolicyPeerArgs:
    if namespace is None:
        return networking.NetworkPolicyPeerArgs(
            namespace_selector=meta.LabelSelectorArgs(match_labels={OPENSHIFT_INGRESS_GROUP: ""})
        )
    return _namespace_peer(namespace)


def _namespace_peer(namespace: str) -> networking.NetworkPolicyPeerArgs:
    return networking.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={NAMESPACE_LABEL: namespace})
    )
