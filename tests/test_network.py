"""Network policies (default deny plus the real call graph) and the OpenShift flavour."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.network import LINK_LOCAL, NOT_PUBLIC, allowed_paths
from components.settings import parse_settings
from ops.bench import changed_resources, is_verification, short
from ops.offline import run_program
from ops.plan import schema_errors
from tests import netpol
from tests.conftest import deployment, kubernetes_objects, plan_for
from tests.netpol import Address, Pod

SOLVER_POLICY = "allow-acme-http01-solver"


def policies(plan: Any) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs["spec"] for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}


def ingress_sources(spec: dict[str, Any]) -> set[tuple[str, int]]:
    found = set()
    for rule in spec.get("ingress", []):
        for peer in rule["from"]:
            label = (peer.get("podSelector") or peer.get("namespaceSelector"))["matchLabels"]
            for port in rule["ports"]:
                found.add((next(iter(label.values())), port["port"]))
    return found


def test_namespace_is_default_deny_with_dns_allowed_wherever_the_resolver_runs() -> None:
    specs = policies(plan_for("dev"))
    assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (rule,) = specs["allow-dns"]["egress"]
    # No destination: CoreDNS in kube-system, NodeLocal DNSCache on a link-local node address and
    # OpenShift's DNS (port 5353 after NAT) must all answer.
    assert "to" not in rule
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {
        ("UDP", 53),
        ("TCP", 53),
        ("UDP", 5353),
        ("TCP", 5353),
    }


def test_only_the_real_callers_reach_each_service() -> None:
    specs = policies(plan_for("dev"))
    assert ingress_sources(specs["allow-to-rasa"]) == {("botfront", 5005), ("ingress-nginx", 5005)}
    assert ingress_sources(specs["allow-to-botfront"]) == {("rasa", 3000), ("ingress-nginx", 3000)}
    assert ingress_sources(specs["allow-to-duckling"]) == {("rasa", 8000)}
    assert ingress_sources(specs["allow-to-mongo"]) == {
        ("botfront", 27017),
        ("mongo", 27017),
        ("mongo-backup", 27017),
        ("mongo-restore", 27017),
    }
    assert "allow-to-actions" not in specs


def test_every_selected_pod_exists_and_every_pod_is_selected() -> None:
    plan = plan_for("dev", actions={"image": "acme/actions:1.0"})
    specs = policies(plan)
    pods = {d.name for d in plan.of_type("kubernetes:apps/v1:Deployment")}
    job_pods = {
        j.inputs["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for j in plan.of_type("kubernetes:batch/v1:Job")
    }
    for name, spec in specs.items():
        selected = spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        # allow-acme-http01-solver selects cert-manager's pods, not the stack's (tested below).
        if name not in ("default-deny", "allow-dns", SOLVER_POLICY) and not selected.startswith("mongo-"):
            assert selected in pods | job_pods, name
    assert ingress_sources(specs["allow-to-actions"]) == {("rasa", 5055)}
    # The action server calls Botfront's GraphQL API (BF_URL).
    assert ("actions", 3000) in ingress_sources(specs["allow-to-botfront"])
    for pod in pods:
        labels = deployment(plan, pod)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == pod


def test_legacy_botfront_api_reaches_the_in_cluster_database() -> None:
    settings = parse_settings(
        {"rootUrl": "https://bf.example.com", "database": {"mode": "incluster"}, "release": "0.27.5"}, "t"
    )
    assert {(p.source, p.target) for p in allowed_paths(settings).internal if p.target == "mongo"} >= {
        ("botfront", "mongo"),
        ("botfront-api", "mongo"),
    }


def test_atlas_clients_get_egress_to_the_mongodb_port_only() -> None:
    specs = policies(plan_for("staging"))
    assert "allow-to-mongo" not in specs
    atlas_rules = [
        rule
        for rule in specs["allow-from-botfront"]["egress"]
        if any(p["port"] == 27017 for p in rule["ports"])
    ]
    # Anywhere but link-local (the metadata service): Atlas private endpoints and VPC peering are
    # private addresses, so those stay open (changed with the SSRF fix: the except is new).
    assert atlas_rules == [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
            "ports": [{"protocol": "TCP", "port": 27017}],
        }
    ]


def test_network_policies_can_be_turned_off_and_pointed_at_another_controller() -> None:
    assert policies(plan_for("dev", networkPolicy={"enabled": False})) == {}
    specs = policies(plan_for("dev", networkPolicy={"ingressNamespace": "traefik"}))
    assert ("traefik", 3000) in ingress_sources(specs["allow-to-botfront"])


def test_openshift_gets_routes_no_ingresses_and_no_fixed_ids() -> None:
    plan = plan_for("dev", platform="openshift")
    assert plan.of_type("kubernetes:networking.k8s.io/v1:Ingress") == []
    routes = {r.name: r.inputs for r in plan.of_type("kubernetes:route.openshift.io/v1:Route")}
    # A Route has one path: one per public Rasa path, none for its HTTP API.
    assert set(routes) == {"botfront", "rasa-socket-io", "rasa-webhooks"}
    assert routes["botfront"]["spec"]["host"] == "botfront.dev.example.com"
    assert routes["botfront"]["spec"]["path"] == "/"
    assert {routes[n]["spec"]["path"] for n in ("rasa-socket-io", "rasa-webhooks")} == {
        "/socket.io/",
        "/webhooks/",
    }
    for name in ("rasa-socket-io", "rasa-webhooks"):
        assert routes[name]["spec"]["host"] == "rasa.botfront.dev.example.com"
        assert routes[name]["spec"]["to"] == {"kind": "Service", "name": "rasa", "weight": 100}
        assert routes[name]["spec"]["tls"]["termination"] == "edge"
    for d in plan.of_type("kubernetes:apps/v1:Deployment"):
        context = d.inputs["spec"]["template"]["spec"]["securityContext"]
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context), d.name
    assert [e for r in kubernetes_objects(plan) for e in schema_errors(r.inputs)] == []
    specs = policies(plan)
    # The router's policy group: host-network routers come from node addresses, not a namespace.
    (rule,) = specs["allow-to-rasa"]["ingress"]
    router = {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}}}
    assert router in rule["from"]


def test_route_schema_rejects_a_malformed_route() -> None:
    route = {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": "rasa"},
        "spec": {"to": {"kind": "Service", "name": "rasa"}, "tls": {"termination": "edgy"}, "hots": "x"},
    }
    errors = schema_errors(route)
    assert any("edgy" in e for e in errors) and any("hots" in e for e in errors)


# ---- cert-manager's HTTP-01 solver -------------------------------------------------------------
# cert-manager/cert-manager@v1.21.1: the solver pod runs in the Challenge's namespace, which is the
# Ingress's (pkg/issuer/acme/http/pod.go:208), labelled with these three keys (pod.go:35, podLabels;
# pkg/apis/acme/v1/types.go), listening on 8089 (pkg/issuer/acme/http/http.go:49).
SOLVER_LABELS = {
    "acme.cert-manager.io/http-domain": "1234567890",
    "acme.cert-manager.io/http-token": "987654321",
    "acme.cert-manager.io/http01-solver": "true",
}
SOLVER_SPEC = {
    "podSelector": {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}},
    "policyTypes": ["Ingress"],
    "ingress": [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
            ],
            "ports": [{"protocol": "TCP", "port": 8089}],
        }
    ],
}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stacks_with_a_cluster_issuer_let_the_ingress_controller_reach_the_http01_solver(stack: str) -> None:
    plan = plan_for(stack)
    (solver,) = [r for r in plan.of_type(netpol.POLICY) if r.name == SOLVER_POLICY]
    assert solver.inputs["spec"] == SOLVER_SPEC
    namespace = plan.get("kubernetes:networking.k8s.io/v1:Ingress", "botfront").inputs["metadata"][
        "namespace"
    ]
    assert solver.inputs["metadata"]["namespace"] == namespace


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("ephemeral", {}),  # no TLS at all
        ("dev", {"ingress": {"tlsSecretName": "wildcard"}}),  # a certificate of the user's own
        ("dev", {"platform": "openshift"}),  # Routes: cert-manager's ingress-shim never sees them
        ("dev", {"networkPolicy": {"enabled": False}}),  # nothing denied, nothing to open
        ("dev", {"ingress": {"enabled": False, "clusterIssuer": "letsencrypt-staging"}}),  # no Ingress
    ],
)
def test_no_solver_policy_where_cert_manager_solves_nothing_here(
    stack: str, overrides: dict[str, Any]
) -> None:
    plan = plan_for(stack, **overrides)
    assert SOLVER_POLICY not in policies(plan)
    assert plan.of_type(netpol.POLICY) or overrides == {"networkPolicy": {"enabled": False}}


def test_the_solver_policy_follows_the_ingress_controller_namespace() -> None:
    specs = policies(plan_for("dev", networkPolicy={"ingressNamespace": "traefik"}))
    assert specs[SOLVER_POLICY]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    ]


def reachable(
    policies: list[netpol.Policy], pods: dict[str, Pod], ports: set[int]
) -> set[tuple[str, str, int]]:
    return {
        (a, b, port)
        for a, source in pods.items()
        for b, target in pods.items()
        for port in ports
        if a != b and netpol.allowed(policies, source, target, port)
    }


def test_the_solver_policy_opens_exactly_controller_to_solver_on_8089() -> None:
    plan = plan_for("dev")
    namespace = "botfront-dev"
    pods = {name: Pod(namespace, labels) for name, labels in netpol.pod_templates(plan).items()}
    assert {"botfront", "rasa", "duckling", "mongo", "mongo-backup", "verify"} <= set(pods)
    pods["solver"] = Pod(namespace, SOLVER_LABELS)
    pods["controller"] = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    pods["cert-manager"] = Pod("cert-manager", {"app.kubernetes.io/name": "cert-manager"})
    pods["elsewhere"] = Pod("default", {"app": "curl"})
    everything = netpol.planned_policies(plan)
    without = [p for p in everything if p.name != SOLVER_POLICY]
    assert len(without) == len(everything) - 1
    ports = {8089, 8090, 80, 443} | {
        port["port"]
        for p in everything
        for direction in ("ingress", "egress")
        for rule in p.spec.get(direction, [])
        for port in rule.get("ports", [])
    }
    before, after = reachable(without, pods, ports), reachable(everything, pods, ports)
    # Under the default-deny alone the challenge could never be answered (the reviewer's finding).
    assert ("controller", "solver", 8089) not in before
    assert after - before == {("controller", "solver", 8089)}
    assert before <= after
    # The solver itself gains nothing: only the namespace's DNS rule (every pod's) lets it out.
    assert {port for a, b, port in after if a == "solver"} == {53, 5353}
    assert {b for a, b, port in after if a == "solver" and pods[b].namespace == namespace} == set()
    assert not netpol.allowed(everything, pods["cert-manager"], pods["solver"], 8089)
    assert not netpol.allowed(everything, pods["elsewhere"], pods["solver"], 8089)
    assert not netpol.allowed(everything, pods["botfront"], pods["solver"], 8089)
    assert not netpol.allowed(everything, pods["controller"], pods["solver"], 8090)


def test_switching_to_a_cluster_issuer_rolls_no_pod() -> None:
    # dev with a certificate of its own, then with the ClusterIssuer: the Ingresses change (the
    # annotation and their tls Secret names) and the solver policy comes; no workload rolls.
    diff = changed_resources(plan_for("dev", ingress={"tlsSecretName": "wildcard"}), plan_for("dev"))
    touched = {
        short(u) for kind in ("changed", "added", "removed") for u in diff[kind] if not is_verification(u)
    }
    assert touched == {
        "kubernetes:networking.k8s.io/v1:Ingress botfront",
        "kubernetes:networking.k8s.io/v1:Ingress rasa",
        f"kubernetes:networking.k8s.io/v1:NetworkPolicy {SOLVER_POLICY}",
    }
    assert [short(u) for u in diff["added"]] == [
        f"kubernetes:networking.k8s.io/v1:NetworkPolicy {SOLVER_POLICY}"
    ]
    # Not even the verification Job re-runs: its name digests the pod specs, which did not change.
    assert not any(is_verification(u) for kind in ("changed", "added", "removed") for u in diff[kind])


def test_the_evaluator_reads_peers_as_kubernetes_does() -> None:
    # The cases the NetworkPolicy concept page spells out, on hand-written policies.
    web, client = Pod("a", {"app": "web"}), Pod("a", {"app": "client"})
    other_ns = Pod("b", {"app": "client"})
    ns_b = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}

    def only(*peers: dict[str, Any], ports: list[dict[str, Any]] | None = None) -> list[netpol.Policy]:
        rule: dict[str, Any] = {"from": list(peers)} | ({"ports": ports} if ports else {})
        spec = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"], "ingress": [rule]}
        return [netpol.Policy("p", "a", spec)]

    client_pods = {"podSelector": {"matchLabels": {"app": "client"}}}
    # podSelector alone: the policy's own namespace only.
    assert netpol.allowed(only(client_pods), client, web, 80)
    assert not netpol.allowed(only(client_pods), other_ns, web, 80)
    # namespaceSelector alone: every pod there; both in one peer: AND.
    assert netpol.allowed(only(ns_b), Pod("b", {"app": "anything"}), web, 80)
    assert not netpol.allowed(only(ns_b), client, web, 80)
    both = ns_b | client_pods
    assert netpol.allowed(only(both), other_ns, web, 80)
    assert not netpol.allowed(only(both), Pod("b", {"app": "other"}), web, 80)
    # Ports narrow the rule; a pod no policy selects is open; an ipBlock never admits a pod here.
    assert not netpol.allowed(only(client_pods, ports=[{"protocol": "TCP", "port": 81}]), client, web, 80)
    assert netpol.allowed(only(client_pods), web, client, 80)
    assert not netpol.allowed(only({"ipBlock": {"cidr": "0.0.0.0/0"}}), client, web, 80)
    # matchExpressions, as extra_egress.py writes them (In), and the other operators.
    for operator, values, matches in [
        ("In", ["web", "api"], True),
        ("In", ["api"], False),
        ("NotIn", ["api"], True),
        ("NotIn", ["web"], False),
        ("Exists", [], True),
        ("DoesNotExist", [], False),
    ]:
        selector = {"matchExpressions": [{"key": "app", "operator": operator, "values": values}]}
        assert netpol.selects(selector, {"app": "web"}) is matches, (operator, values)
    assert netpol.selects({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, {})
    assert not netpol.selects(
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        {"app": "web"},
    )


def test_the_evaluator_reads_ip_blocks_and_their_excepts() -> None:
    client = Pod("a", {"app": "client"})

    def egress(*peers: dict[str, Any], ports: list[dict[str, Any]] | None = None) -> list[netpol.Policy]:
        rule: dict[str, Any] = {"to": list(peers)} | ({"ports": ports} if ports else {})
        spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}
        return [netpol.Policy("p", "a", spec)]

    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.3.4/32"]}}
    assert netpol.allowed(egress(block), client, Address("10.0.0.1"), 443)
    assert netpol.allowed(egress(block), client, Address("10.255.255.255"), 443)
    assert not netpol.allowed(egress(block), client, Address("10.1.200.7"), 443)
    assert not netpol.allowed(egress(block), client, Address("10.2.3.4"), 443)
    assert netpol.allowed(egress(block), client, Address("10.2.3.5"), 443)
    assert not netpol.allowed(egress(block), client, Address("11.0.0.1"), 443)
    # Ports and protocols narrow it; selector peers never match an address; no policy: open.
    tcp_443 = egress(block, ports=[{"protocol": "TCP", "port": 443}])
    assert not netpol.allowed(tcp_443, client, Address("10.0.0.1"), 80)
    assert not netpol.allowed(tcp_443, client, Address("10.0.0.1"), 443, "UDP")
    assert not netpol.allowed(egress({"podSelector": {}}), client, Address("10.0.0.1"), 443)
    assert netpol.allowed([], client, Address("169.254.169.254"), 80)
    # Policies add up: another one opening a host inside the except opens exactly that host.
    opened = {"ipBlock": {"cidr": "10.1.2.3/32"}}
    both = [*egress(block), netpol.Policy("q", "a", egress(opened, ports=[{"port": 443}])[0].spec)]
    assert netpol.allowed(both, client, Address("10.1.2.3"), 443)
    assert not netpol.allowed(both, client, Address("10.1.2.3"), 80)
    assert not netpol.allowed(both, client, Address("10.1.2.4"), 443)
    # An except outside its cidr is refused by the API server: the evaluator refuses it too.
    with pytest.raises(AssertionError, match="except outside"):
        netpol.allowed(
            egress({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}),
            client,
            Address("10.0.0.1"),
            80,
        )


# ---- Egress by address: the anonymous SSRF of 'axios.requestWithJsonBody' ----------------------
# botfront/botfront@v1.0.5:botfront/imports/lib/utils.js:145-176 requests any URL for any DDP client
# and returns the answer (components/network.py, "What anywhere leaves out"). What botfront reaches
# by address is what an anonymous visitor reaches.
PUBLIC = "203.0.113.10"  # TEST-NET-3 (RFC 5737): outside every excluded range, like a public host
INTERNAL_TARGETS = [
    ("169.254.169.254", 80),  # the metadata service of AWS, GCP, Azure
    ("10.0.0.5", 443),
    ("172.16.0.1", 443),
    ("192.168.1.1", 22),
    ("100.100.100.200", 80),  # Alibaba Cloud's metadata service (shared address space)
]
BOTFRONT_EGRESS_PORTS = (80, 443, 22, 25, 465, 587)


def reaches(plan: Any, pod: str, ip: str, port: int, protocol: str = "TCP") -> bool:
    """Whether the plan's pod `pod` may open `ip`:`port` (Kubernetes' rule, tests/netpol.py)."""
    everything = netpol.planned_policies(plan)
    (namespace,) = {p.namespace for p in everything}
    source = Pod(namespace, netpol.pod_templates(plan)[pod])
    return netpol.allowed(everything, source, Address(ip), port, protocol)


def test_the_excluded_ranges_are_what_the_ip_registries_say() -> None:
    # Python's ipaddress follows IANA's special-purpose registries: none of these is global, and
    # each address the tests call internal falls in one of them.
    ranges = [ipaddress.ip_network(r) for r in NOT_PUBLIC]
    assert [r.is_link_local for r in ranges] == [True, False, False, False, False]
    assert all(not r.is_global for r in ranges)
    assert [str(r) for r in ranges if r.is_private] == [
        "169.254.0.0/16",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ]
    # Link-local is what actions and database clients leave out, and botfront too.
    assert all(ipaddress.ip_network(r).is_link_local for r in LINK_LOCAL)
    assert set(LINK_LOCAL) <= set(NOT_PUBLIC)
    for ip, _ in INTERNAL_TARGETS:
        assert any(ipaddress.ip_address(ip) in r for r in ranges), ip
    assert not any(ipaddress.ip_address(PUBLIC) in r for r in ranges)


@pytest.mark.parametrize("stack", ["dev", "ephemeral", "staging", "prod"])
def test_botfront_reaches_no_internal_address(stack: str) -> None:
    plan = plan_for(stack)
    for ip, port in INTERNAL_TARGETS:
        for any_port in {port, *BOTFRONT_EGRESS_PORTS}:
            assert not reaches(plan, "botfront", ip, any_port), (ip, any_port)
    # Its webhooks and git remotes on the internet (1.0.5 here: SSH for git).
    for port in (80, 443, 22):
        assert reaches(plan, "botfront", PUBLIC, port), port
    assert not reaches(plan, "botfront", PUBLIC, 8080)


def test_botfront_smtp_goes_to_public_addresses_only() -> None:
    plan = run_program("dev", secrets={"mailUrl": "smtp://u:p@mail.example.com"})
    for port in (25, 465, 587):
        assert reaches(plan, "botfront", PUBLIC, port)
        assert not reaches(plan, "botfront", "10.0.0.5", port)
        assert not reaches(plan, "botfront", "169.254.169.254", port)
    assert not reaches(plan_for("dev"), "botfront", PUBLIC, 587)


def test_botfront_0_27_5_has_no_git_over_ssh() -> None:
    plan = plan_for("dev", release="0.27.5")
    assert reaches(plan, "botfront", PUBLIC, 443)
    assert not reaches(plan, "botfront", PUBLIC, 22)
    assert not reaches(plan, "botfront", "169.254.169.254", 80)


def test_an_extra_egress_rule_reopens_exactly_what_it_lists() -> None:
    rule = {"cidr": "10.1.2.3/32", "ports": [{"port": 443}]}
    before = plan_for("dev")
    after = plan_for("dev", networkPolicy={"extraEgress": {"botfront": [rule]}})
    # A policy of its own beside the except'ed one, which is unchanged.
    assert policies(after)["allow-from-botfront"] == policies(before)["allow-from-botfront"]
    assert set(policies(after)) - set(policies(before)) == {"extra-egress-botfront"}
    grid = {
        (ip, port)
        for ip in ("10.1.2.3", "10.1.2.4", "10.0.0.5", "169.254.169.254", PUBLIC)
        for port in (22, 80, 443, 8443)
    }
    opened = {(ip, port) for ip, port in grid if reaches(after, "botfront", ip, port)} - {
        (ip, port) for ip, port in grid if reaches(before, "botfront", ip, port)
    }
    assert opened == {("10.1.2.3", 443)}
    # Only botfront: the rule selects no other pod.
    assert not reaches(after, "rasa", "10.1.2.3", 443)


def test_actions_reach_private_addresses_but_not_the_metadata_service() -> None:
    plan = plan_for("dev", actions={"image": "acme/actions:1.0"})
    for port in (80, 443):
        assert not reaches(plan, "actions", "169.254.169.254", port)
        assert not reaches(plan, "actions", "169.254.170.23", port)
        # The user's code calls the company's internal APIs: private ranges stay open.
        for ip in ("10.0.0.5", "172.16.0.1", "192.168.1.1", "100.100.100.200", PUBLIC):
            assert reaches(plan, "actions", ip, port), (ip, port)
    assert not reaches(plan, "actions", "10.0.0.5", 22)


@pytest.mark.parametrize("release", ["1.0.5", "0.27.5"])
def test_atlas_clients_reach_private_endpoints_but_not_the_metadata_service(release: str) -> None:
    plan = plan_for("staging", release=release)
    clients = ["botfront"] + (["botfront-api"] if release == "0.27.5" else [])
    for client in clients:
        for ip in ("10.0.0.5", "192.168.1.1", PUBLIC):  # a private endpoint, peering, the internet
            assert reaches(plan, client, ip, 27017), (client, ip)
        assert not reaches(plan, client, "169.254.169.254", 27017), client
    # botfront's other egress stays public-only on an Atlas stack too.
    assert not reaches(plan, "botfront", "10.0.0.5", 443)


@pytest.mark.parametrize("resolver", ["169.254.20.10", "10.96.0.10", "172.30.0.10"])
def test_dns_is_unaffected_wherever_the_resolver_listens(resolver: str) -> None:
    # NodeLocal DNSCache listens on a link-local address: allow-dns, a policy with no destination,
    # still lets every pod (botfront included) ask it.
    plan = plan_for("dev", actions={"image": "acme/actions:1.0"})
    for pod in ("botfront", "actions", "rasa", "mongo"):
        for protocol in ("UDP", "TCP"):
            assert reaches(plan, pod, resolver, 53, protocol), (pod, protocol)
    assert not reaches(plan, "rasa", resolver, 80)


def test_the_documented_extra_egress_example_opens_the_internal_webhook() -> None:
    """docs/hardening.md's example, as an operator would paste it into the stack file."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "hardening.md").read_text()
    (network,) = [
        b["botfront:networkPolicy"]
        for b in (yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S))
        if "botfront:networkPolicy" in b
    ]
    plan = plan_for("dev", networkPolicy=network)
    assert reaches(plan, "botfront", "10.1.2.3", 443)
    assert not reaches(plan, "botfront", "10.1.2.3", 80)
    assert not reaches(plan, "botfront", "169.254.169.254", 80)
