"""Parsing and validation of the day-2 keys (components/model.py, components/settings.py), through
parse_settings: each refusal names the key, the bad value and what is allowed; warnings warn and deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pytest

from components import model
from components import settings as settings_module
from components.model import EgressRule, EnvSource, Placement, PortSpec, Ref, SecretKeyRef
from components.rotation import keepers
from components.settings import ConfigKeys, parse_settings
from components.validation import ConfigError

SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.30.0-local-strict"
BASE: dict[str, Any] = {"rootUrl": "https://botfront.example.com", "ingress": {"clusterIssuer": "le"}}
ACTIONS = {"image": "example/actions:1.0.0"}


def settings(**values: Any) -> Any:
    return parse_settings({**BASE, **values}, "test")


def problems_of(stack_config: ConfigKeys | None = None, **values: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, **values}, "test", stack_config=stack_config)
    return info.value.problems


def one_problem(**values: Any) -> str:
    problems = problems_of(**values)
    assert len(problems) == 1, problems
    return problems[0]


# ---- imagePullSecrets -------------------------------------------------------------------------


def test_image_pull_secrets_default_empty_and_kept_in_order() -> None:
    assert settings().image_pull_secrets == ()
    assert settings(imagePullSecrets=["regcred", "quay.io-pull"]).image_pull_secrets == (
        "regcred",
        "quay.io-pull",
    )


@pytest.mark.parametrize(
    ("value", "path", "hint"),
    [
        (["RegCred"], "imagePullSecrets[0]", "DNS-1123 subdomain"),
        (["regcred", "regcred"], "imagePullSecrets[1]", "listed twice"),
        ("regcred", "imagePullSecrets", "expected a list"),
        ([{"name": "regcred"}], "imagePullSecrets[0]", "name of a Secret"),
    ],
)
def test_bad_image_pull_secrets(value: Any, path: str, hint: str) -> None:
    problem = one_problem(imagePullSecrets=value)
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem


# ---- actions.env / envFrom --------------------------------------------------------------------


def test_actions_env_and_env_from_reach_the_default_project() -> None:
    s = settings(
        actions={
            **ACTIONS,
            "env": {"SHOP_API_URL": "https://shop.example.com", "TIMEOUT": 30},
            "envFrom": [{"secretRef": {"name": "shop-credentials"}}, {"configMapRef": {"name": "shop"}}],
        }
    )
    (project,) = s.projects
    assert project.actions_env == {"SHOP_API_URL": "https://shop.example.com", "TIMEOUT": "30"}
    assert project.actions_env_from == (
        EnvSource(secret_ref=Ref("shop-credentials")),
        EnvSource(config_map_ref=Ref("shop")),
    )
    assert [(s.kind, s.name) for s in project.actions_env_from] == [
        ("secretRef", "shop-credentials"),
        ("configMapRef", "shop"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "password",
        "SHOP_SECRET",
        "GITHUB_TOKEN",
        "API_KEY",
        "OPENAI_APIKEY",
        "GCP_CREDENTIALS",
        "SSH_PRIVATE_KEY",
        "PRIVATEKEY",
        "SMTP_PASS",
        "PASS",
        "LDAP_PASSWD",
        "SENTRY_DSN",
        "AUTH",
        "BASIC_AUTH_HEADER",
    ],
)
def test_secret_looking_env_names_are_refused_with_a_pointer_to_env_from(name: str) -> None:
    problem = one_problem(actions={**ACTIONS, "env": {name: "hunter2-value"}})
    assert problem.startswith(f"botfront:actions.env.{name}: got ")
    assert "actions.envFrom: [{secretRef: {name: <secret>}}]" in problem
    assert "hunter2-value" not in problem  # the would-be secret is not echoed into logs


@pytest.mark.parametrize(
    ("env", "path", "hint"),
    [
        ({"1ST": "x"}, "actions.env.1ST", "environment variable name"),
        ({"MY-VAR": "x"}, "actions.env.MY-VAR", "environment variable name"),
        ({"BF_URL": "http://elsewhere"}, "actions.env.BF_URL", "set by the stack itself"),
        ({"BF_PROJECT_ID": "x"}, "actions.env.BF_PROJECT_ID", "set by the stack itself"),
        ({"DEBUG": True}, "actions.env.DEBUG", "quote numbers and booleans"),
        ({"LIST": [1]}, "actions.env.LIST", "string value"),
    ],
)
def test_bad_actions_env(env: dict[str, Any], path: str, hint: str) -> None:
    problem = one_problem(actions={**ACTIONS, "env": env})
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem


@pytest.mark.parametrize(
    ("env_from", "path", "hint"),
    [
        ([{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}], "actions.envFrom[0]", "exactly one"),
        ([{}], "actions.envFrom[0]", "exactly one"),
        ([{"secretRef": {"name": "Bad_Name"}}], "actions.envFrom[0].secretRef.name", "DNS-1123"),
        (
            [{"secretRef": {"name": "a", "optional": True}}],
            "actions.envFrom[0].secretRef.optional",
            "unknown key",
        ),
        ([{"secretRef": {"name": "a"}}, {"secretRef": {"name": "a"}}], "actions.envFrom[1]", "listed twice"),
        ({"secretRef": {"name": "a"}}, "actions.envFrom", "expected a list"),
    ],
)
def test_bad_actions_env_from(env_from: Any, path: str, hint: str) -> None:
    problem = one_problem(actions={**ACTIONS, "envFrom": env_from})
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem


@pytest.mark.parametrize(
    "value", ["postgres://shop:hunter2-value@db:5432/shop", "https://user:hunter2-value@api.example.com"]
)
def test_urls_with_a_password_are_refused_whatever_the_name(value: str) -> None:
    problem = one_problem(actions={**ACTIONS, "env": {"SHOP_DB": value}})
    assert problem.startswith("botfront:actions.env.SHOP_DB: got '[hidden]'; ")
    assert "actions.envFrom" in problem and "hunter2-value" not in problem


def test_names_and_urls_that_only_look_close_pass() -> None:
    env = {
        "AUTHOR": "a",
        "PASSPORT_URL": "https://api.example.com/x",
        "COMPASS": "n",
        "USER_URL": "http://u@h",
    }
    assert settings(actions={**ACTIONS, "env": env}).projects[0].actions_env == env


def test_each_project_has_its_own_actions_env() -> None:
    s = settings(
        actions={**ACTIONS, "env": {"WHO": "top"}},
        projects=[
            {"id": "bf"},
            {
                "id": "shop",
                "actions": {**ACTIONS, "env": {"WHO": "shop"}, "envFrom": [{"secretRef": {"name": "s"}}]},
            },
            {"id": "faq", "actions": ACTIONS},
        ],
    )
    by_id = {p.id: p for p in s.projects}
    assert by_id["bf"].actions_env == {"WHO": "top"}  # the top-level actions belong to projectId
    assert by_id["shop"].actions_env == {"WHO": "shop"}
    assert by_id["shop"].actions_env_from == (EnvSource(secret_ref=Ref("s")),)
    assert by_id["faq"].actions_env == {} and by_id["faq"].actions_env_from == ()
    problem = one_problem(
        projects=[{"id": "bf"}, {"id": "shop", "actions": {**ACTIONS, "env": {"X_TOKEN": "t"}}}]
    )
    assert problem.startswith("botfront:projects[1].actions.env.X_TOKEN: got ")
    assert "projects[1].actions.envFrom" in problem


def test_reserved_names_are_those_the_actions_pod_sets() -> None:
    from components.services import actions_spec

    s = settings(actions=ACTIONS)
    name, project = s.actions[0]
    assert {e.name for e in actions_spec(s, name, project).env} == set(settings_module.ACTIONS_RESERVED_ENV)


# ---- placement --------------------------------------------------------------------------------

TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "bots", "effect": "NoSchedule"}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
            ]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}
        ],
    },
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "rasa"}},
                },
            }
        ]
    },
}


def test_placement_service_fields_replace_the_defaults_fields() -> None:
    s = settings(
        placement={
            "default": {"nodeSelector": {"pool": "general"}, "tolerations": [TOLERATION]},
            "rasa": {"nodeSelector": {"pool": "highmem"}},
            "jobs": {"tolerations": [], "affinity": AFFINITY},
        }
    )
    assert s.placement_for("rasa") == Placement({"pool": "highmem"}, [TOLERATION], None)
    assert s.placement_for("botfront") == Placement({"pool": "general"}, [TOLERATION], None)
    # An empty list is a value: it replaces the default's tolerations with none.
    assert s.placement_for("jobs") == Placement({"pool": "general"}, [], AFFINITY)
    assert s.placement_for("jobs").affinity.dump() == AFFINITY  # what the pod spec gets, as written
    assert settings().placement_for("mongo") == Placement()


@pytest.mark.parametrize(
    ("placement", "path", "hint"),
    [
        (
            {"worker": {}},
            "placement.worker",
            "allowed: default, botfront, rasa, duckling, actions, botfrontApi, mongo, jobs",
        ),
        (
            {"rasa": {"nodeName": "n1"}},
            "placement.rasa.nodeName",
            "allowed: nodeSelector, tolerations, affinity",
        ),
        ({"rasa": {"nodeSelector": {"pool": 3}}}, "placement.rasa.nodeSelector.pool", "label value"),
        ({"rasa": {"nodeSelector": {"bad key!": "x"}}}, "placement.rasa.nodeSelector.bad key!", "label key"),
        (
            {"rasa": {"tolerations": [{**TOLERATION, "operator": "Equals"}]}},
            "placement.rasa.tolerations[0].operator",
            "Exists, Equal",
        ),
        (
            {"rasa": {"tolerations": [{**TOLERATION, "effect": "NoExec"}]}},
            "placement.rasa.tolerations[0].effect",
            "NoExecute",
        ),
        (
            {"rasa": {"tolerations": [{"key": "a", "operator": "Exists", "value": "v"}]}},
            "placement.rasa.tolerations[0].value",
            "left out with operator Exists",
        ),
        (
            {"rasa": {"tolerations": [{"operator": "Equal", "value": "v"}]}},
            "placement.rasa.tolerations[0]",
            "without a key",
        ),
        (
            {"rasa": {"tolerations": [{**TOLERATION, "tolerationSeconds": 60}]}},
            "placement.rasa.tolerations[0].tolerationSeconds",
            "NoExecute",
        ),
        (
            {"rasa": {"tolerations": [{**TOLERATION, "effects": "NoSchedule"}]}},
            "placement.rasa.tolerations[0].effects",
            "unknown key",
        ),
        ({"rasa": {"tolerations": TOLERATION}}, "placement.rasa.tolerations", "expected a list"),
        (
            {"rasa": {"affinity": {"nodeAfinity": {}}}},
            "placement.rasa.affinity.nodeAfinity",
            "allowed: nodeAffinity, podAffinity, podAntiAffinity",
        ),
        (
            {
                "rasa": {
                    "affinity": {
                        "podAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"topologyKey": "h", "labelSelector": {"matchLabel": {}}}
                            ]
                        }
                    }
                }
            },
            "placement.rasa.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabel",
            "unknown key",
        ),
        (
            {
                "rasa": {
                    "affinity": {
                        "nodeAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {"weight": 0, "preference": {}}
                            ]
                        }
                    }
                }
            },
            "placement.rasa.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "1 to 100",
        ),
        (
            {
                "rasa": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": "z", "operator": "Within", "values": []}]}
                                ]
                            }
                        }
                    }
                }
            },
            "placement.rasa.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            "In, NotIn, Exists",
        ),
    ],
)
def test_bad_placement(placement: dict[str, Any], path: str, hint: str) -> None:
    problem = one_problem(placement=placement)
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem, problem


def _pod(tolerations: Any = None, affinity: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i:1"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if affinity is not None:
        spec["affinity"] = affinity
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _schema_accepts(manifest: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(manifest, "1.30.0", strict=True)
    except kubernetes_validate.ValidationError:
        return False
    return True


def test_accepted_affinity_and_tolerations_are_valid_kubernetes() -> None:
    toleration_all = {"operator": "Exists"}
    no_execute = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 30,
    }
    s = settings(
        placement={"default": {"affinity": AFFINITY, "tolerations": [TOLERATION, toleration_all, no_execute]}}
    )
    placed = s.placement_for("rasa")
    assert placed.tolerations and placed.affinity
    assert _schema_accepts(_pod([t.dump() for t in placed.tolerations], placed.affinity.dump()))


def test_the_shape_models_are_the_kubernetes_schema() -> None:
    """model.Affinity and model.Toleration have exactly the fields of the strict schema at every
    level (kubernetes-validate's v1.30 definitions): nothing the API has is refused, nothing it
    lacks is accepted."""
    from components.validation import _models_in

    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())["$defs"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return resolve(definitions[schema["$ref"].rsplit("/", 1)[-1]])
        if "items" in schema:
            return resolve(schema["items"])
        return schema

    def compare(shape: Any, schema: dict[str, Any], path: str) -> int:
        schema = resolve(schema)
        fields = {f.alias: f for f in shape.model_fields.values()}
        assert set(fields) == set(schema["properties"]), path
        return 1 + sum(
            compare(sub, schema["properties"][key], f"{path}.{key}")
            for key, field in fields.items()
            for sub in _models_in(field.annotation)
        )

    assert compare(model.Affinity, definitions["io.k8s.api.core.v1.Affinity"], "affinity") >= 10
    assert compare(model.Toleration, definitions["io.k8s.api.core.v1.Toleration"], "toleration") == 1


# ---- networkPolicy.extraEgress ----------------------------------------------------------------


def test_extra_egress_rules() -> None:
    s = settings(
        actions=ACTIONS,
        networkPolicy={
            "extraEgress": {
                "actions": [
                    {"cidr": "10.20.0.0/16", "ports": [{"port": 5432}]},
                    {
                        "namespace": "shop",
                        "podSelector": {"app": "api"},
                        "ports": [{"port": 8080, "protocol": "TCP"}],
                    },
                ],
                "rasa": [
                    {"namespace": "monitoring", "ports": [{"port": 4317}, {"port": 53, "protocol": "UDP"}]}
                ],
            }
        },
    )
    assert s.network_policy.extra_egress == {
        "actions": [
            EgressRule("10.20.0.0/16", None, None, [PortSpec(5432)]),
            EgressRule(None, "shop", {"app": "api"}, [PortSpec(8080, "TCP")]),
        ],
        "rasa": [EgressRule(None, "monitoring", None, [PortSpec(4317), PortSpec(53, "UDP")])],
    }
    assert settings().network_policy.extra_egress == {}


@pytest.mark.parametrize(
    ("rules", "path", "hint"),
    [
        ([{"ports": [{"port": 1}]}], "networkPolicy.extraEgress.actions[0]", "exactly one of cidr"),
        (
            [{"cidr": "10.0.0.0/8", "namespace": "x", "ports": [{"port": 1}]}],
            "networkPolicy.extraEgress.actions[0]",
            "exactly one of cidr",
        ),
        (
            [{"cidr": "10.0.0.1/8", "ports": [{"port": 1}]}],
            "networkPolicy.extraEgress.actions[0].cidr",
            "no host bits",
        ),
        (
            [{"cidr": "db.example.com", "ports": [{"port": 1}]}],
            "networkPolicy.extraEgress.actions[0].cidr",
            "CIDR",
        ),
        (
            [{"cidr": "10.0.0.0/8", "podSelector": {"a": "b"}, "ports": [{"port": 1}]}],
            "networkPolicy.extraEgress.actions[0].podSelector",
            "only applies with namespace",
        ),
        (
            [{"namespace": "Shop", "ports": [{"port": 1}]}],
            "networkPolicy.extraEgress.actions[0].namespace",
            "DNS-1123 label",
        ),
        ([{"cidr": "10.0.0.0/8"}], "networkPolicy.extraEgress.actions[0].ports", "non-empty list"),
        (
            [{"cidr": "10.0.0.0/8", "ports": [{"port": 70000}]}],
            "networkPolicy.extraEgress.actions[0].ports[0].port",
            "1 to 65535",
        ),
        (
            [{"cidr": "10.0.0.0/8", "ports": [{"port": 1, "protocol": "tcp"}]}],
            "networkPolicy.extraEgress.actions[0].ports[0].protocol",
            "TCP, UDP, SCTP",
        ),
        ({"cidr": "10.0.0.0/8"}, "networkPolicy.extraEgress.actions", "expected a list"),
    ],
)
def test_bad_extra_egress(rules: Any, path: str, hint: str) -> None:
    problem = one_problem(actions=ACTIONS, networkPolicy={"extraEgress": {"actions": rules}})
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem, problem


def test_extra_egress_unknown_service() -> None:
    problem = one_problem(networkPolicy={"extraEgress": {"action": []}})
    assert problem.startswith("botfront:networkPolicy.extraEgress.action: got ") and "actions" in problem


# ---- networkPolicy.ingressNamespace against ingress.className ---------------------------------


def test_other_ingress_class_with_the_default_namespace_is_refused() -> None:
    problem = one_problem(ingress={"className": "traefik", "clusterIssuer": "le"})
    assert problem.startswith("botfront:networkPolicy.ingressNamespace: got None; ")
    assert "'traefik'" in problem and "ingress-nginx" in problem


@pytest.mark.parametrize(
    "values",
    [
        {
            "ingress": {"className": "traefik", "clusterIssuer": "le"},
            "networkPolicy": {"ingressNamespace": "traefik"},
        },
        {"ingress": {"className": "traefik", "enabled": False}},
        {"ingress": {"className": "traefik", "clusterIssuer": "le"}, "networkPolicy": {"enabled": False}},
        {"ingress": {"className": "nginx", "clusterIssuer": "le"}},
        {"ingress": {"className": "traefik"}, "platform": "openshift"},
    ],
)
def test_ingress_class_checks_that_pass(values: dict[str, Any]) -> None:
    settings(**values)


# ---- createNamespace ----------------------------------------------------------------------------


def test_create_namespace() -> None:
    assert settings().create_namespace is True
    assert settings(createNamespace=False).create_namespace is False
    assert settings(createNamespace="false").create_namespace is False  # pulumi config set text
    problem = one_problem(createNamespace="no")
    assert problem.startswith("botfront:createNamespace: got 'no'; expected true or false")


# ---- database.mode external ---------------------------------------------------------------------

EXTERNAL = {"mode": "external", "name": "bots", "urlSecret": {"name": "team-mongo", "key": "url"}}


def test_external_database() -> None:
    db = settings(database=EXTERNAL).database
    assert (db.mode, db.name, db.oplog) == ("external", "bots", False)
    assert db.url_secret == SecretKeyRef("team-mongo", "url") and db.oplog_url_secret is None
    db = settings(
        database={**EXTERNAL, "oplogUrlSecret": {"name": "team-mongo", "key": "oplog-url"}}
    ).database
    assert db.oplog is True and db.oplog_url_secret == SecretKeyRef("team-mongo", "oplog-url")
    # The oplog may still be turned off while the key is given.
    off = {**EXTERNAL, "oplog": False, "oplogUrlSecret": {"name": "team-mongo", "key": "oplog-url"}}
    assert settings(database=off).database.oplog is False


@pytest.mark.parametrize(
    ("database", "extra", "path", "hint"),
    [
        ({"mode": "external"}, {}, "database.urlSecret", "required with database.mode external"),
        (
            {**EXTERNAL, "urlSecret": {"name": "team-mongo"}},
            {},
            "database.urlSecret.key",
            "a key of that Secret",
        ),
        (
            {**EXTERNAL, "urlSecret": {"name": "Team", "key": "url"}},
            {},
            "database.urlSecret.name",
            "Secret name",
        ),
        ({**EXTERNAL, "urlSecret": "mongodb://u:p@h/db"}, {}, "database.urlSecret", "expected an object"),
        ({**EXTERNAL, "oplog": True}, {}, "database.oplog", "needs database.oplogUrlSecret"),
        ({**EXTERNAL, "size": "5Gi"}, {}, "database.size", "nothing is created in external mode"),
        (
            {"mode": "incluster", "urlSecret": {"name": "a", "key": "b"}},
            {},
            "database.urlSecret",
            "only applies to database.mode external",
        ),
        (EXTERNAL, {"backup": {"schedule": "0 3 * * *"}}, "backup", "does not back it up"),
        (EXTERNAL, {"restoreFrom": "bf-20240101T000000Z.archive.gz"}, "restoreFrom", "does not back it up"),
        ({"mode": "external-ish"}, {}, "database.mode", "incluster, atlas, external"),
    ],
)
def test_bad_external_database(database: dict[str, Any], extra: dict[str, Any], path: str, hint: str) -> None:
    problems = problems_of(database=database, **extra)
    assert any(p.startswith(f"botfront:{path}: got ") and hint in p for p in problems), problems


# ---- rotate ---------------------------------------------------------------------------------------


def test_rotate() -> None:
    assert settings().rotate == {}
    assert settings(rotate={"apiKey": 2, "rasaToken": "1"}).rotate == {"apiKey": 2, "rasaToken": 1}
    assert keepers({}, "apiKey") is None and keepers({"apiKey": 0}, "apiKey") is None
    assert keepers({"apiKey": 3}, "apiKey") == {"generation": "3"}


@pytest.mark.parametrize(
    ("rotate", "path", "hint"),
    [
        ({"apiKey": -1}, "rotate.apiKey", "whole number from 0"),
        ({"apiKey": 1.5}, "rotate.apiKey", "whole number from 0"),
        ({"apikey": 1}, "rotate.apikey", "allowed: apiKey, rasaToken (did you mean apiKey?)"),
        ({"mongoPassword": 1}, "rotate.mongoPassword", "postStart hook"),
        ([1], "rotate", "expected an object"),
    ],
)
def test_bad_rotate(rotate: Any, path: str, hint: str) -> None:
    problem = one_problem(rotate=rotate)
    assert problem.startswith(f"botfront:{path}: got ") and hint in problem


# ---- plain-text secrets, unknown namespaces and provider keys --------------------------------------


def config(*keys: str, secret: tuple[str, ...] = ()) -> ConfigKeys:
    return ConfigKeys(frozenset({"botfront:rootUrl", *keys, *secret}), frozenset(secret))


# The provider settings that hold credentials, per their docstrings in pulumi_mongodbatlas 4.18.0
# config/vars.py and mongodb/terraform-provider-mongodbatlas@v2.16.0:
# docs/guides/provider-configuration.md ("Provider Arguments").
CREDENTIALS = [
    "botfront:mailUrl",
    "botfront:chatbaseApiKey",
    "mongodbatlas:privateKey",  # "PAK Private Key"
    "mongodbatlas:clientSecret",  # "SA Client Secret"
    "mongodbatlas:accessToken",  # "SA Access Token"
    "mongodbatlas:awsSecretAccessKey",  # "AWS Secret Access Key"
    "mongodbatlas:awsSessionToken",  # "AWS Session Token"
]
# Every other key of the Atlas provider, reviewed: none is a credential. publicKey, clientId and
# awsAccessKeyId name the key whose secret half is above (as a user name does a password); the rest
# say where Atlas, the AWS secret or the role is. A new SDK key fails the test below until sorted.
ATLAS_NOT_CREDENTIALS = {
    *("publicKey", "clientId", "awsAccessKeyId", "assumeRole", "secretName", "region", "stsEndpoint"),
    *("baseUrl", "realmBaseUrl", "isMongodbgovCloud"),
}


def test_every_atlas_provider_key_is_sorted_into_credential_or_not() -> None:
    atlas = {k.partition(":")[2] for k in CREDENTIALS if k.startswith("mongodbatlas:")}
    assert settings_module.provider_config_keys()["mongodbatlas"] == atlas | ATLAS_NOT_CREDENTIALS


@pytest.mark.parametrize("key", CREDENTIALS)
def test_plain_text_credentials_are_refused_with_the_command_to_use(key: str) -> None:
    (problem,) = problems_of(config(key))
    assert problem.startswith(f"{key}: got '[plain text]'; must be a secret")
    assert f"pulumi config rm {key} && pulumi config set --secret {key} <value>" in problem
    parse_settings(BASE, "test", stack_config=config(secret=(key,)))


@pytest.mark.parametrize("key", sorted(f"mongodbatlas:{k}" for k in ATLAS_NOT_CREDENTIALS))
def test_atlas_keys_that_are_no_credentials_may_be_plain(key: str) -> None:
    parse_settings(BASE, "test", stack_config=config(key))


KUBECONFIG_YAML = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: https://10.0.0.1:6443}
users:
- name: u
  user:
    token: TOKEN-abc123
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
"""
KUBECONFIG_JSON = json.dumps(
    {"apiVersion": "v1", "users": [{"name": "u", "user": {"token": "TOKEN-abc123"}}], "clusters": []}
)


def config_problems(values: dict[str, str], secret: tuple[str, ...] = ()) -> list[str]:
    """The stack config as `pulumi up` hands it to the program (PULUMI_CONFIG and
    PULUMI_CONFIG_SECRET_KEYS), read by the program's own reader."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PULUMI_CONFIG", json.dumps({"botfront:rootUrl": BASE["rootUrl"], **values}))
        env.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(secret))
        pulumi.runtime.set_all_config({}, [])
        try:
            parse_settings(BASE, "test", stack_config=settings_module.read_config_keys())
        except ConfigError as error:
            return error.problems
    return []


@pytest.mark.parametrize(
    "path", ["/home/alice/.kube/config", "~/.kube/config", "C:\\Users\\alice\\.kube\\config", "kubeconfig"]
)
def test_a_kubeconfig_path_may_be_plain(path: str) -> None:
    assert config_problems({"kubernetes:kubeconfig": path}) == []


@pytest.mark.parametrize("contents", [KUBECONFIG_YAML, KUBECONFIG_JSON, KUBECONFIG_YAML.replace("\n", "\r")])
def test_kubeconfig_contents_must_be_a_secret_and_are_never_shown(contents: str) -> None:
    (problem,) = config_problems({"kubernetes:kubeconfig": contents})
    assert problem.startswith("kubernetes:kubeconfig: got '[plain text]'; must be a secret")
    assert "pulumi config set --secret kubernetes:kubeconfig <value>" in problem
    assert "TOKEN" not in problem and "apiVersion" not in problem
    secret = ("kubernetes:kubeconfig",)
    assert config_problems({"kubernetes:kubeconfig": contents}, secret) == []


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("botfrnt:namespace", "unknown config namespace 'botfrnt'"),
        ("kubernets:context", "unknown config namespace 'kubernets'"),
        ("kubernetes:contxt", "the kubernetes provider has no such setting"),
        ("mongodbatlas:publickey", "the mongodbatlas provider has no such setting"),
        ("random:seed", "the random provider has no such setting; it takes no configuration"),
        # The stack's explicit provider reads only kubernetes:context, kubeconfig, clusterIdentifier
        # (components/cluster.py): every other provider field would be silently ignored.
        ("kubernetes:namespace", "no such setting; use botfront:namespace"),
        ("kubernetes:renderYamlToDirectory", "no such setting; use botfront:renderTo"),
        ("kubernetes:cluster", "its keys: clusterIdentifier, context, kubeconfig"),
    ],
)
def test_unknown_namespaces_and_provider_keys_are_refused_naming_the_key(key: str, hint: str) -> None:
    (problem,) = problems_of(config(key))
    assert problem.startswith(f"{key}: ") and hint in problem and f"pulumi config rm {key}" in problem


@pytest.mark.parametrize(
    "key",
    [
        "kubernetes:context",
        "kubernetes:kubeconfig",
        "kubernetes:clusterIdentifier",
        "mongodbatlas:publicKey",
        "mongodbatlas:baseUrl",
        "pulumi:tags",
    ],
)
def test_real_provider_keys_pass(key: str) -> None:
    parse_settings(BASE, "test", stack_config=config(key))


def test_unknown_keys_are_refused_in_the_real_program() -> None:
    from ops.offline import run_program

    for override in ({"kubernetes:contxt": "prod-cluster"}, {"botfrnt:namespace": "elsewhere"}):
        with pytest.raises(ConfigError) as info:
            run_program("dev", override)
        assert any(next(iter(override)) in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        run_program("dev", {"mailUrl": "smtp://u:p@mail.example.com"})
    assert any("pulumi config set --secret botfront:mailUrl" in p for p in info.value.problems)


def test_plain_credentials_are_refused_with_every_other_problem_in_the_real_program() -> None:
    from ops.offline import run_program

    plain = {"mongodbatlas:privateKey": "PRIVATE-0123", "kubernetes:kubeconfig": KUBECONFIG_YAML}
    with pytest.raises(ConfigError) as info:
        run_program("dev", {**plain, "kubernetes:contxt": "c", "replicas": {"rasa": -1}})
    problems = info.value.problems
    for key in (*plain, "kubernetes:contxt", "botfront:replicas.rasa"):
        assert any(p.startswith(f"{key}: ") for p in problems), (key, problems)
    assert not any("PRIVATE-0123" in p or "TOKEN" in p for p in problems)
    run_program("dev", secrets=plain)


def test_the_plan_command_refuses_plain_credentials_in_a_stack_file_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make plan` (ops/plan.py) on a stack file with credentials in plain text, as a user writes it."""
    import ops.plan
    from ops.offline import ROOT

    (tmp_path / "stacks").mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).symlink_to(ROOT / name)
    indented = "".join(f"    {line}\n" for line in KUBECONFIG_YAML.splitlines())
    (tmp_path / "stacks" / "Pulumi.leak.yaml").write_text(
        (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
        + "  mongodbatlas:publicKey: abcdefgh\n  mongodbatlas:privateKey: PRIVATE-0123\n"
        + f"  kubernetes:kubeconfig: |\n{indented}"
    )
    real = ops.plan.run_program
    monkeypatch.setattr(
        ops.plan, "run_program", lambda stack, overrides: real(stack, overrides, root=tmp_path)
    )
    assert ops.plan.main(["--stack", "leak", "--out", str(tmp_path / "build")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "PRIVATE-0123" not in err and "TOKEN" not in err, err
    lines = [line for line in err.splitlines() if "[plain text]" in line]
    assert [line.split(": got")[0] for line in lines] == [
        "error:   - kubernetes:kubeconfig",
        "error:   - mongodbatlas:privateKey",
    ], err


# ---- warnings ------------------------------------------------------------------------------------


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: seen.append(message))
    return seen


def test_https_without_tls_source_warns(warnings: list[str]) -> None:
    parse_settings({"rootUrl": "https://botfront.example.com"}, "test")
    assert any("no TLS source" in w and "ingress.clusterIssuer" in w for w in warnings)


def test_http_with_cert_manager_issuer_warns(warnings: list[str]) -> None:
    parse_settings({"rootUrl": "http://botfront.example.com", "ingress": {"clusterIssuer": "le"}}, "test")
    assert any("cert-manager" in w and "http" in w for w in warnings)


def test_openshift_with_ingress_only_settings_warns(warnings: list[str]) -> None:
    parse_settings(
        {
            "rootUrl": "https://botfront.example.com",
            "platform": "openshift",
            "ingress": {"tlsSecretName": "t", "annotations": {"a": "b"}},
        },
        "test",
    )
    assert any("ingress.tlsSecretName, ingress.annotations has no effect" in w for w in warnings), warnings


@pytest.mark.parametrize(
    "values",
    [
        {"rootUrl": "https://botfront.example.com", "ingress": {"clusterIssuer": "le"}},
        {"rootUrl": "https://botfront.example.com", "ingress": {"tlsSecretName": "wildcard"}},
        {"rootUrl": "https://botfront.example.com", "ingress": {"enabled": False}},
        {"rootUrl": "http://botfront.example.com"},
        {
            "rootUrl": "https://botfront.example.com",
            "platform": "openshift",
            "ingress": {"className": "nginx"},
        },
    ],
)
def test_no_warning_when_consistent(values: dict[str, Any], warnings: list[str]) -> None:
    parse_settings(values, "test")
    assert warnings == []


def test_stack_config_is_read_as_the_language_host_passes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` hands config over in PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS."""
    monkeypatch.setenv(
        "PULUMI_CONFIG", json.dumps({"botfront:mailUrl": "smtp://x", "kubernetes:contxt": "c"})
    )
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["botfront:mailUrl"]))
    pulumi.runtime.set_all_config({}, [])
    try:
        stack_config = settings_module.read_config_keys()
    finally:
        monkeypatch.delenv("PULUMI_CONFIG")
        monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS")
    assert stack_config.keys == {"botfront:mailUrl", "kubernetes:contxt"}
    assert stack_config.secret_keys == {"botfront:mailUrl"}


@pytest.mark.parametrize(
    ("service", "values", "hint"),
    [
        ("actions", {}, "no project has an action server"),
        ("botfrontApi", {}, "no botfront-api"),
        ("duckling", {"duckling": False}, "botfront:duckling is false"),
        (
            "mongo",
            {"database": {"mode": "external", "urlSecret": {"name": "m", "key": "u"}}},
            "runs no MongoDB",
        ),
        ("jobs", {"verify": False}, "no Job runs"),
    ],
)
def test_extra_egress_for_pods_the_stack_does_not_run_is_refused(
    service: str, values: dict[str, Any], hint: str
) -> None:
    rules = [{"cidr": "10.0.0.0/8", "ports": [{"port": 1}]}]
    problem = one_problem(networkPolicy={"extraEgress": {service: rules}}, **values)
    assert problem.startswith(f"botfront:networkPolicy.extraEgress.{service}: got ['10.0.0.0/8']; ")
    assert hint in problem
    settings(networkPolicy={"extraEgress": {"botfront": rules, "rasa": rules, service: []}}, **values)


def test_release_0_27_5_has_no_rasa_token(warnings: list[str]) -> None:
    """0.27.5's Rasa runs without a token (components/releases.py `rasa_token=False`)."""
    problem = one_problem(release="0.27.5", rotate={"rasaToken": 1})
    assert problem.startswith("botfront:rotate.rasaToken: got 1; ") and "takes no token" in problem
    settings(release="0.27.5", rotate={"apiKey": 1})
    settings(release="0.27.5", networkPolicy={"enabled": False})
    assert any("networkPolicy.enabled is false on release 0.27.5" in w for w in warnings), warnings
    warnings.clear()
    settings(networkPolicy={"enabled": False})  # the default release's Rasa checks its token
    assert warnings == []


def test_existing_namespace_with_network_policies_warns(warnings: list[str]) -> None:
    parse_settings({**BASE, "namespace": "team-bots", "createNamespace": False}, "test")
    assert any("default-deny" in w and "'team-bots'" in w for w in warnings)
    warnings.clear()
    parse_settings({**BASE, "createNamespace": False, "networkPolicy": {"enabled": False}}, "test")
    assert warnings == []


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("botfront", "botfront"),
        ("rasa", "rasa"),
        ("rasa-shop-production", "rasa"),
        ("actions", "actions"),
        ("actions-shop", "actions"),
        ("botfront-api", "botfrontApi"),
        ("duckling", "duckling"),
        ("mongo", "mongo"),
        ("mongo-backup", "jobs"),
        ("mongo-restore-1a2b3c4d", "jobs"),
    ],
)
def test_each_object_name_maps_to_its_settings_key(name: str, key: str) -> None:
    from components.pod_options import settings_key

    assert settings_key(name) == key and key in model.SERVICES


@pytest.mark.parametrize(
    ("values", "warned"),
    [
        ({"release": "0.27.5"}, True),
        ({"release": "0.27.5", "platform": "openshift"}, True),  # Routes are public too
        ({"release": "0.27.5", "ingress": {"enabled": False}}, False),  # reached some other way
        ({}, False),  # 1.0.x: Rasa checks its token, there is no botfront-api
    ],
)
def test_a_public_0_27_5_warns_that_any_visitor_reaches_botfront_api_and_rasa(
    values: dict[str, Any], warned: bool, warnings: list[str]
) -> None:
    settings(**values)
    public = [w for w in warnings if "axios.requestWithJsonBody" in w]
    assert bool(public) == warned, warnings
    assert all(
        w.startswith("release 0.27.5 is public at ") and "read or overwrite a project" in w for w in public
    )
