"""projects[].modelServer: a Rasa that Botfront does not train pulls its model from a model server
(Rasa's `models:` endpoint in its endpoints.yml); refusals name the key, value and what is allowed,
and the plan-time warnings fire exactly when that Rasa cannot get a model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.settings import parse_settings
from components.validation import ConfigError
from ops.bench import changed_resources, is_verification, short
from ops.offline import run_program
from tests.conftest import plan_for

BASE = {"rootUrl": "https://botfront.example.com", "ingress": {"clusterIssuer": "le"}}
SERVER = "https://models.example.com/bf/production.tar.gz"
DEV_AND_PROD: dict[str, Any] = {"id": "bf", "environments": ["development", "production"]}
WITH_SERVER: dict[str, Any] = {
    **DEV_AND_PROD,
    "modelServer": {"production": {"url": SERVER, "waitTimeBetweenPulls": 30}},
}
SUPPORT: dict[str, Any] = {"id": "support", "environments": ["development", "production"]}
RASA_CONFIGS = ("rasa-config", "rasa-config-bf-production", "rasa-config-support-development",
                "rasa-config-support-production")  # fmt: skip


def endpoints_of(plan: Any, secret: str) -> dict[str, Any]:
    data = plan.get("kubernetes:core/v1:Secret", secret).secret_inputs["stringData"]
    return yaml.safe_load(data["endpoints.yml"])


def test_the_production_rasa_gets_exactly_the_given_models_endpoint() -> None:
    without = plan_for("dev", projects=[DEV_AND_PROD, SUPPORT])
    given = plan_for("dev", projects=[WITH_SERVER, SUPPORT])
    production = endpoints_of(given, "rasa-config-bf-production")
    assert production["models"] == {"url": SERVER, "wait_time_between_pulls": 30}
    # Everything else in that file is what it was without a model server.
    assert {k: v for k, v in production.items() if k != "models"} == endpoints_of(
        without, "rasa-config-bf-production"
    )
    for secret in RASA_CONFIGS:
        if secret != "rasa-config-bf-production":
            assert endpoints_of(given, secret) == endpoints_of(without, secret), secret
            assert "models" not in endpoints_of(given, secret)


def test_without_wait_time_rasa_keeps_its_own_default() -> None:
    project = {**DEV_AND_PROD, "modelServer": {"production": {"url": "http://models.bots.svc:8080/bf"}}}
    plan = plan_for("dev", projects=[project])
    assert endpoints_of(plan, "rasa-config-bf-production")["models"] == {
        "url": "http://models.bots.svc:8080/bf"
    }


def test_a_model_server_rolls_only_the_rasa_that_reads_it() -> None:
    before = run_program("dev", {"projects": [DEV_AND_PROD, SUPPORT]})
    after = run_program("dev", {"projects": [WITH_SERVER, SUPPORT]})
    diff = changed_resources(before, after)
    assert diff["added"] == [] and diff["removed"] == []
    touched = {short(u) for u in diff["changed"] if not is_verification(u)}
    assert touched == {
        "kubernetes:core/v1:Secret rasa-config-bf-production",
        "kubernetes:apps/v1:Deployment rasa-bf-production",  # its checksum/rasa-config annotation
    }


@pytest.mark.parametrize(
    ("model_server", "key", "shown", "allowed"),
    [
        (
            {"production": {"url": "ftp://models.example.com/bf.tar.gz"}},
            "modelServer.production.url",
            "'ftp://models.example.com/bf.tar.gz'",
            "expected an absolute http:// or https:// URL",
        ),
        (
            {"production": {"url": "https://models.example.com/bf.tar.gz?token=abc"}},
            "modelServer.production.url",
            "'https://models.example.com/bf.tar.gz?token=abc'",
            "no query or fragment",
        ),
        (
            {"production": {"url": "https://deploy:s3cret@models.example.com:8443/bf.tar.gz"}},
            "modelServer.production.url",
            "'https://[hidden]@models.example.com:8443/bf.tar.gz'",
            "holds credentials (user:password@), which the stack config, the state and the pods' "
            "environment keep in plain text",
        ),
        (
            {"production": {"url": "https://token@models.example.com/bf.tar.gz"}},
            "modelServer.production.url",
            "'https://[hidden]@models.example.com/bf.tar.gz'",
            "give the URL without them",
        ),
        (
            {"staging": {"url": SERVER}},
            "modelServer.staging",
            "{'url': '" + SERVER + "'}",
            "unknown key; allowed: development, production",
        ),
        ({"production": {}}, "modelServer.production.url", "None", "required"),
        (
            {"production": {"url": SERVER, "waitTime": 5}},
            "modelServer.production.waitTime",
            "5",
            "unknown key; allowed: url, waitTimeBetweenPulls",
        ),
        (
            {"production": {"url": SERVER, "waitTimeBetweenPulls": 0}},
            "modelServer.production.waitTimeBetweenPulls",
            "0",
            "expected a whole number from 1 to 86400",
        ),
        (
            {"production": {"url": SERVER, "waitTimeBetweenPulls": 86401}},
            "modelServer.production.waitTimeBetweenPulls",
            "86401",
            "expected a whole number from 1 to 86400",
        ),
        (
            {"production": {"url": SERVER, "waitTimeBetweenPulls": 2.5}},
            "modelServer.production.waitTimeBetweenPulls",
            "2.5",
            "expected a whole number from 1 to 86400",
        ),
    ],
)
def test_bad_model_servers_are_refused_with_key_value_and_rule(
    model_server: dict[str, Any], key: str, shown: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, "projects": [{**DEV_AND_PROD, "modelServer": model_server}]}, "t")
    (problem,) = [p for p in info.value.problems if p.startswith(f"botfront:projects[0].{key}: ")]
    assert problem.startswith(f"botfront:projects[0].{key}: got {shown}; ") and allowed in problem, problem
    assert "s3cret" not in str(info.value)


def test_a_model_server_for_an_environment_the_project_does_not_list_is_refused() -> None:
    project = {"id": "bf", "modelServer": {"production": {"url": "https://models.example.com"}}}
    with pytest.raises(ConfigError) as info:
        parse_settings({**BASE, "projects": [project]}, "t")
    assert info.value.problems == [
        "botfront:projects[0].modelServer.production: got 'https://models.example.com'; "
        "unknown key; allowed: development"
    ]


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: seen.append(message))
    return seen


def model_warnings(warnings: list[str], **values: Any) -> list[str]:
    warnings.clear()
    parse_settings({**BASE, **values}, "t")
    return [w for w in warnings if "modelServer" in w or "extraEgress.rasa" in w]


RASA_EGRESS = {"rasa": [{"cidr": "203.0.113.0/24", "ports": [{"port": 443}]}]}


def test_a_production_rasa_without_a_model_server_warns_once(warnings: list[str]) -> None:
    assert model_warnings(warnings, projects=[DEV_AND_PROD, SUPPORT]) == [
        "rasa-bf-production (project bf, production) has no modelServer: Botfront trains only its "
        "Instance's Rasa, so this one never gets a model; see README.md, Deploying to production",
        "rasa-support-production (project support, production) has no modelServer: Botfront trains only "
        "its Instance's Rasa, so this one never gets a model; see README.md, Deploying to production",
    ]


def test_a_model_server_without_an_egress_rule_warns_with_its_port(warnings: list[str]) -> None:
    project = {**DEV_AND_PROD, "modelServer": {"production": {"url": "http://models.example.com:8080/bf"}}}
    assert model_warnings(warnings, projects=[project]) == [
        "rasa-bf-production (project bf, production) pulls its model from http://models.example.com:8080/bf, "
        "but no network policy lets Rasa reach it: add a networkPolicy.extraEgress.rasa rule with the "
        "server's cidr (or namespace) and port 8080; see README.md, Deploying to production"
    ]
    (warning,) = model_warnings(warnings, projects=[WITH_SERVER])
    assert "port 443;" in warning


def test_a_model_server_on_the_rasa_botfront_trains_warns(warnings: list[str]) -> None:
    project = {**DEV_AND_PROD, "modelServer": {"development": {"url": SERVER}}}
    assert model_warnings(warnings, projects=[project], networkPolicy={"extraEgress": RASA_EGRESS}) == [
        "rasa (project bf, development) is the Rasa Botfront trains, yet it pulls from a modelServer: "
        "each pull replaces the model Botfront trained; set modelServer only on Rasas Botfront does not "
        "train",
        "rasa-bf-production (project bf, production) has no modelServer: Botfront trains only its "
        "Instance's Rasa, so this one never gets a model; see README.md, Deploying to production",
    ]


@pytest.mark.parametrize(
    "values",
    [
        {},  # the single default project
        {"projects": [{"id": "bf"}]},
        # A project with production only: its one Rasa is the one its Instance points at.
        {"projects": [{"id": "bf", "environments": ["production"]}]},
        {"projects": [WITH_SERVER], "networkPolicy": {"extraEgress": RASA_EGRESS}},
        {"projects": [WITH_SERVER], "networkPolicy": {"enabled": False}},
    ],
)
def test_no_model_server_warning_when_every_rasa_can_get_a_model(
    warnings: list[str], values: dict[str, Any]
) -> None:
    assert model_warnings(warnings, **values) == []


def test_the_readme_examples_parse_and_quiet_the_warnings(warnings: list[str]) -> None:
    """README.md's projects and extraEgress examples, as a user would paste them."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    (projects,) = [b["botfront:projects"] for b in blocks if "modelServer" in str(b)]
    (network,) = [b["botfront:networkPolicy"] for b in blocks if "extraEgress" in str(b)]
    assert len(model_warnings(warnings, projects=projects)) == 2  # one egress warning per server
    assert model_warnings(warnings, projects=projects, networkPolicy=network) == []
