"""Several bot projects and Botfront environments: one Rasa per (project, environment)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.settings import parse_settings
from components.validation import ConfigError
from ops.plan import schema_errors
from tests import netpol
from tests.conftest import container, env_of, kubernetes_objects, plan_for
from tests.netpol import Pod

TWO_BY_TWO = [
    {
        "id": "bf",
        "environments": ["development", "production"],
        "rasaUrl": {"production": "https://bot.example.com"},
        "actions": {"image": "ghcr.io/acme/bf-actions:1.0.0"},
    },
    {
        "id": "support",
        "environments": ["development", "production"],
        "resources": {"limits": {"memory": "8Gi"}},
        "actions": {"image": "ghcr.io/acme/support-actions:2.0.0"},
    },
]
INSTANCES = ["rasa", "rasa-bf-production", "rasa-support-development", "rasa-support-production"]


def by_name(plan: Any, type_: str) -> dict[str, dict[str, Any]]:
    return {r.name: r for r in plan.of_type(type_)}


def test_without_projects_the_plan_is_exactly_that_of_the_single_default_project() -> None:
    implicit = plan_for("dev")
    explicit = plan_for("dev", projects=[{"id": "bf", "environments": ["development"]}])
    assert json.dumps(implicit.as_json()["resources"], sort_keys=True) == json.dumps(
        explicit.as_json()["resources"], sort_keys=True
    )


def test_each_pair_gets_its_own_rasa_volume_config_ingress_and_token() -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO)
    deployments = by_name(plan, "kubernetes:apps/v1:Deployment")
    assert set(INSTANCES) <= set(deployments)
    assert {"actions", "actions-support"} <= set(deployments)
    services = by_name(plan, "kubernetes:core/v1:Service")
    volumes = by_name(plan, "kubernetes:core/v1:PersistentVolumeClaim")
    configs = by_name(plan, "kubernetes:core/v1:Secret")
    ingresses = by_name(plan, "kubernetes:networking.k8s.io/v1:Ingress")
    tokens = set(configs["botfront-secrets"].secret_inputs["stringData"])
    expected_env = {
        "rasa": ("bf", "development"),
        "rasa-bf-production": ("bf", "production"),
        "rasa-support-development": ("support", "development"),
        "rasa-support-production": ("support", "production"),
    }
    hosts = set()
    for name, (project, environment) in expected_env.items():
        suffix = name[len("rasa") :]
        assert services[name].inputs["spec"]["ports"][0]["port"] == 5005
        assert "models" + suffix in volumes
        env = env_of(plan, name)
        assert (env["BF_PROJECT_ID"], env["BOTFRONT_ENV"]) == (project, environment)
        assert env["AUTH_TOKEN"] == ("secret", "botfront-secrets", "rasa-auth-token" + suffix)
        assert "rasa-auth-token" + suffix in tokens
        pod = plan.get("kubernetes:apps/v1:Deployment", name).inputs["spec"]["template"]["spec"]
        claims = {v["name"]: v for v in pod["volumes"]}
        assert claims["models"]["persistentVolumeClaim"]["claimName"] == "models" + suffix
        assert claims["rasa-config"]["secret"]["secretName"] == "rasa-config" + suffix
        data = configs["rasa-config" + suffix].secret_inputs["stringData"]
        endpoints, credentials = (
            yaml.safe_load(data["endpoints.yml"]),
            yaml.safe_load(data["credentials.yml"]),
        )
        actions = "actions" if project == "bf" else "actions-support"
        assert endpoints["action_endpoint"] == {"url": f"http://{actions}:5055/webhook"}
        base_url = credentials["rasa_addons.core.channels.webchat.WebchatInput"]["base_url"]
        (rule,) = ingresses[name].inputs["spec"]["rules"]
        assert base_url == "https://" + rule["host"]
        hosts.add(rule["host"])
    assert hosts == {
        "rasa.botfront.dev.example.com",
        "bot.example.com",
        "rasa-support-development.botfront.dev.example.com",
        "rasa-support-production.botfront.dev.example.com",
    }
    assert container(plan, "rasa-support-production")["resources"]["limits"]["memory"] == "8Gi"
    assert container(plan, "rasa")["resources"]["limits"]["memory"] == "4Gi"
    assert [e for r in kubernetes_objects(plan) for e in schema_errors(r.inputs)] == []


def test_no_rasa_is_tied_to_botfront_s_node_when_botfront_writes_no_models() -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO)  # 1.0.5: each Rasa stores its own models
    for name in [*INSTANCES, "botfront"]:
        pod = plan.get("kubernetes:apps/v1:Deployment", name).inputs["spec"]["template"]["spec"]
        assert "affinity" not in pod
    for name in INSTANCES:
        strategy = plan.get("kubernetes:apps/v1:Deployment", name).inputs["spec"]["strategy"]
        assert strategy == {"type": "Recreate"}  # each on its own ReadWriteOnce volume


def test_outputs_list_url_and_instance_host_per_pair() -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO)
    rows = {(r["project"], r["environment"]): r for r in plan.outputs["rasaInstances"]}
    assert rows[("bf", "development")]["instanceHost"] == "http://rasa:5005"
    assert rows[("support", "production")]["instanceHost"] == "http://rasa-support-production:5005"
    assert rows[("bf", "production")]["rasaUrl"] == "https://bot.example.com"
    assert "rasaAuthTokens" in plan.secret_outputs


def test_network_policies_follow_each_pair() -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO)
    policies = {
        r.name: r.inputs["spec"] for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    (rule,) = policies["allow-to-actions-support"]["ingress"]
    sources = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in rule["from"]}
    assert sources == {"rasa-support-development", "rasa-support-production"}
    for name in INSTANCES:
        assert f"allow-to-{name}" in policies


# The ingress controller as each platform's policies name it: ingress-nginx by its namespace name;
# OpenShift's router by the policy-group label OpenShift puts on its namespaces.
CONTROLLERS = {
    "kubernetes": Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    "openshift": Pod(
        "openshift-ingress",
        {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"},
        {"policy-group.network.openshift.io/ingress": ""},
    ),
}


@pytest.mark.parametrize("platform", sorted(CONTROLLERS))
def test_the_ingress_controller_reaches_every_rasa_and_nothing_else(platform: str) -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO, platform=platform)
    policies = netpol.planned_policies(plan)
    pods = {name: Pod("botfront-dev", labels) for name, labels in netpol.pod_templates(plan).items()}
    assert set(INSTANCES) | {"botfront"} <= set(pods)
    ports = {80, 443, 8080} | {
        port["port"]
        for p in policies
        for direction in ("ingress", "egress")
        for rule in p.spec.get(direction, [])
        for port in rule.get("ports", [])
    }
    controller = CONTROLLERS[platform]
    opened = {
        (name, port)
        for name, pod in pods.items()
        for port in ports
        if netpol.allowed(policies, controller, pod, port)
    }
    # Every Rasa of every (project, environment) has an Ingress or Routes: default-deny must not
    # drop their traffic. And the controller gains nothing else.
    assert opened == {("botfront", 3000)} | {(name, 5005) for name in INSTANCES}
    # Anyone else outside the namespace reaches none of them.
    strangers = [Pod("default", {"app": "curl"}), Pod("openshift-ingress", dict(controller.labels))]
    for stranger in strangers:
        assert not any(netpol.allowed(policies, stranger, pods[name], 5005) for name in INSTANCES)


@pytest.mark.parametrize("protect", [True, False])
def test_every_models_volume_is_protected_exactly_when_the_stack_says_so(protect: bool) -> None:
    plan = plan_for("dev", projects=TWO_BY_TWO, protect=protect)
    claims = {r.name: r for r in plan.of_type("kubernetes:core/v1:PersistentVolumeClaim")}
    models = {name for name in claims if name.startswith("models")}
    assert models == {"models" + name[len("rasa") :] for name in INSTANCES}
    for name in models:
        assert (claims[name].protect, claims[name].retain_on_delete) == (protect, protect), name


BASE = {"rootUrl": "https://botfront.example.com"}


@pytest.mark.parametrize(
    ("projects", "key", "hint"),
    [
        ([{"id": "bf"}, {"id": "bf"}], "projects[1].id", "duplicate"),
        (
            [{"id": "bf", "environments": ["staging"]}],
            "projects[0].environments[0]",
            "development, production",
        ),
        ([{"id": "Hx8CFdNpfY6HpEpj2"}], "projects[0].id", "Kubernetes names"),
        ([{"id": "bf_main"}], "projects[0].id", "lower-case"),
        ([{"id": "a" * 41}], "projects[0].id", "1-40"),
        (
            [
                {
                    "id": "bf",
                    "environments": ["development", "production"],
                    "rasaUrl": {"production": "https://botfront.example.com"},
                }
            ],
            "projects[0].rasaUrl.production",
            "already used by rootUrl",
        ),
        (
            [
                {"id": "a", "rasaUrl": {"development": "https://chat.example.com"}},
                {"id": "b", "rasaUrl": {"development": "https://chat.example.com"}},
            ],
            "projects[1].rasaUrl.development",
            "already used by projects[0]",
        ),
        (
            [{"id": "bf", "rasaUrl": {"production": "https://x.example.com"}}],
            "projects[0].rasaUrl.production",
            "unknown key",
        ),
        ([{"id": "bf", "environments": []}], "projects[0].environments", "non-empty"),
        ({"id": "bf"}, "projects", "expected a list"),
        ([{"id": "bf", "actions": {"image": "acme/actions:latest"}}], "projects[0].actions.image", "latest"),
        (
            [{"id": "bf", "resources": {"limits": {"memory": "lots"}}}],
            "projects[0].resources.limits.memory",
            "quantity",
        ),
        (
            [{"id": "bf", "environments": ["development", "production", "development"]}],
            "projects[0].environments[2]",
            "got 'development'; listed twice",
        ),
    ],
)
def test_bad_projects_are_refused_with_the_key(projects: list[Any], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, "projects": projects}, "t")
    matching = [p for p in info.value.problems if p.startswith(f"botfront:{key}: ")]
    assert matching and hint in matching[0], info.value.problems


@pytest.mark.parametrize(
    ("config", "projects", "key", "value", "hint"),
    [
        (
            BASE,
            [{"id": "bf", "name": "bot"}, {"id": "support", "name": "bot"}],
            "projects[1].name",
            "'bot'",
            "two projects have this Kubernetes name: give each its own",
        ),
        (
            BASE,
            [{"id": "bf", "rasaUrl": {"development": "https://chat.example.com/bot"}}],
            "projects[0].rasaUrl.development",
            "'https://chat.example.com/bot'",
            "must not have a path: socket.io is served at /socket.io/",
        ),
        (
            {"rootUrl": "http://10.0.0.5", "rasaUrl": "http://10.0.0.6"},
            [{"id": "bf", "environments": ["development", "production"]}],
            "projects[0].rasaUrl.production",
            "None",
            "required: rootUrl is an IP address, so no Rasa URL can be derived",
        ),
        (
            BASE,
            [{"id": "bf", "rasaUrl": {"development": "http://chat.example.com"}}],
            "projects[0].rasaUrl.development",
            "'http://chat.example.com'",
            "must be https like rootUrl: browsers block the UI's webchat otherwise",
        ),
    ],
    ids=["same-kubernetes-name", "url-with-path", "ip-root-url-without-rasa-url", "http-under-https"],
)
def test_bad_project_names_and_urls_are_refused_with_the_key_and_value(
    config: dict[str, Any], projects: list[Any], key: str, value: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({**config, "projects": projects}, "t")
    assert f"botfront:{key}: got {value}; {hint}" in info.value.problems, info.value.problems


def test_several_instances_need_a_release_where_rasa_stores_its_own_models() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, "release": "1.0.3", "projects": TWO_BY_TWO}, "t")
    assert any("1.0.4 or later" in p for p in info.value.problems)


def test_ui_created_project_ids_work_through_a_kubernetes_name() -> None:
    projects = [
        {"id": "bf"},
        {"id": "Hx8CFdNpfY6HpEpj2", "name": "support", "environments": ["production"]},
    ]
    plan = plan_for("dev", projects=projects)
    env = env_of(plan, "rasa-support-production")
    assert (env["BF_PROJECT_ID"], env["BOTFRONT_ENV"]) == ("Hx8CFdNpfY6HpEpj2", "production")


def test_names_follow_project_and_environment_not_list_order() -> None:
    reordered = [
        {**TWO_BY_TWO[1], "environments": ["production", "development"]},
        {**TWO_BY_TWO[0], "environments": ["production", "development"]},
    ]
    first = plan_for("dev", projects=TWO_BY_TWO).as_json()["resources"]
    second = plan_for("dev", projects=reordered).as_json()["resources"]
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_project_id_chooses_the_default_instance() -> None:
    plan = plan_for("dev", projectId="support", projects=[{"id": "bf"}, {"id": "support"}])
    assert env_of(plan, "rasa")["BF_PROJECT_ID"] == "support"
    assert env_of(plan, "rasa-bf-development")["BF_PROJECT_ID"] == "bf"
    assert env_of(plan, "botfront")["BF_PROJECT_ID"] == "support"


def test_project_id_must_name_one_of_the_projects() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, "projects": [{"id": "a"}, {"id": "b"}]}, "t")
    (problem,) = [p for p in info.value.problems if p.startswith("botfront:projectId: ")]
    assert "'bf'" in problem and "ids: a, b" in problem
