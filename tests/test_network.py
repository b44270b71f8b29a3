"""Network policies (default deny plus the real call graph) and the OpenShift flavour."""

from __future__ import annotations

from typing import Any

from components.network import allowed_paths
from components.settings import parse_settings
from ops.plan import schema_errors
from tests.conftest import deployment, kubernetes_objects, plan_for


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
        if name not in ("default-deny", "allow-dns") and not selected.startswith("mongo-"):
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
    assert atlas_rules == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 27017}]}
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
