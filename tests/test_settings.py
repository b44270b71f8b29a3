"""Validation of every config key: each problem names the key, the value and what is allowed,
all problems are reported at once, and the rules are general (property tests), not a list."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import ops.offline
from components import settings as settings_module
from components.settings import derive_rasa_url, parse_settings
from components.validation import ConfigError, parse_quantity, show

BASE: dict[str, Any] = {"rootUrl": "https://botfront.example.com"}


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, "test")
    return info.value.problems


def with_base(**values: Any) -> dict[str, Any]:
    return {**BASE, **values}


# (raw config, key path it must name, offending value it must quote, hint of what is allowed)
BAD_CONFIGS: list[tuple[dict[str, Any], str, Any, str]] = [
    (with_base(release="2.0.0"), "release", "2.0.0", "1.0.5, 1.0.4, 1.0.3, 0.27.5"),
    (with_base(namespace="Botfront"), "namespace", "Botfront", "DNS-1123 label"),
    (with_base(namespace="b" * 64), "namespace", "b" * 64, "1-63"),
    (with_base(projectId="my project"), "projectId", "my project", "letters, digits"),
    ({}, "rootUrl", None, "required"),
    (with_base(rootUrl="ftp://botfront.example.com"), "rootUrl", "ftp://botfront.example.com", "http"),
    (with_base(rootUrl="botfront.example.com"), "rootUrl", "botfront.example.com", "absolute"),
    (with_base(rootUrl="https://bf.example.com/?x=1"), "rootUrl", "https://bf.example.com/?x=1", "no query"),
    (with_base(rootUrl="https://Bf_App.example.com"), "rootUrl", "https://Bf_App.example.com", "DNS name"),
    (
        with_base(rasaUrl="https://botfront.example.com"),
        "rasaUrl",
        "https://botfront.example.com",
        "different host",
    ),
    (with_base(rasaUrl="https://rasa.example.com/bot"), "rasaUrl", "https://rasa.example.com/bot", "path"),
    ({"rootUrl": "http://10.0.0.7:8888"}, "rasaUrl", None, "IP address"),
    (with_base(platform="eks"), "platform", "eks", "kubernetes, openshift"),
    (with_base(protect="yes"), "protect", "yes", "true or false"),
    (with_base(database="incluster"), "database", "incluster", "an object"),
    (with_base(database={"mode": "postgres"}), "database.mode", "postgres", "incluster, atlas"),
    (with_base(database={"name": "botfront_production"}), "database.name", "botfront_production", "1-16"),
    (with_base(database={"name": "b.f"}), "database.name", "b.f", "letters, digits"),
    (with_base(database={"oplog": "sometimes"}), "database.oplog", "sometimes", "true or false"),
    (with_base(database={"mode": "incluster", "nmae": "bf"}), "database.nmae", "bf", "unknown key"),
    (with_base(database={"size": "10 GB"}), "database.size", "10 GB", "quantity"),
    (with_base(database={"storageClass": "NFS"}), "database.storageClass", "NFS", "StorageClass"),
    (with_base(security={"mongo": {"runAsUser": 999}}), "security.mongo", {"runAsUser": 999}, "unknown key"),
    (with_base(security={"rasa": {"runAsUser": 0}}), "security.rasa.runAsUser", 0, "1 to 2147483647"),
    (
        with_base(images={"rasa": "botfront/rasa-for-botfront:latest"}),
        "images.rasa",
        "botfront/rasa-for-botfront:latest",
        "latest",
    ),
    (with_base(images={"botfront": "botfront/botfront"}), "images.botfront", "botfront/botfront", "no tag"),
    (with_base(images={"nginx": "nginx:1.27"}), "images.nginx", "nginx:1.27", "unknown key"),
    (
        with_base(images={"botfrontApi": "botfront/botfront-api:v0.27.5"}),
        "images.botfrontApi",
        "botfront/botfront-api:v0.27.5",
        "no botfront-api",
    ),
    (with_base(actions={"imgae": "acme/actions:1.0"}), "actions.imgae", "acme/actions:1.0", "unknown key"),
    (with_base(actions={"image": "acme/actions:latest"}), "actions.image", "acme/actions:latest", "latest"),
    (with_base(duckling="no"), "duckling", "no", "true or false"),
    (with_base(models={"size": "5GB"}), "models.size", "5GB", "Kubernetes quantity"),
    (with_base(models={"size": "512m"}), "models.size", "512m", "Kubernetes quantity"),
    (
        with_base(models={"accessMode": "ReadWriteOncePod"}),
        "models.accessMode",
        "ReadWriteOncePod",
        "ReadWriteMany",
    ),
    (with_base(models={"storageClass": "Fast_SSD"}), "models.storageClass", "Fast_SSD", "StorageClass name"),
    (with_base(tracker={"maxEvents": -1}), "tracker.maxEvents", -1, "0 to 100000"),
    (with_base(tracker={"persistTime": "1h"}), "tracker.persistTime", "1h", "whole number"),
    (with_base(ingress={"className": "Nginx Ingress"}), "ingress.className", "Nginx Ingress", "IngressClass"),
    (with_base(ingress={"annotations": {"a/b": 1}}), "ingress.annotations.a/b", 1, "strings"),
    (with_base(ingress={"tls": True}), "ingress.tls", True, "unknown key"),
    (
        with_base(ingress={"tlsSecretName": "wild", "clusterIssuer": "le"}),
        "ingress.tlsSecretName",
        "wild",
        "one certificate per host",
    ),
    (
        with_base(resources={"rasa": {"limits": {"memory": "lots"}}}),
        "resources.rasa.limits.memory",
        "lots",
        "quantity",
    ),
    (
        with_base(resources={"rasa": {"requests": {"cpu": "8"}}}),
        "resources.rasa.requests.cpu",
        "8",
        "limit (4)",
    ),
    (with_base(resources={"postgres": {}}), "resources.postgres", {}, "unknown key"),
    (with_base(replicas={"rasa": 2}), "replicas.rasa", 2, "exactly one replica"),
    (with_base(replicas={"botfront": 0}), "replicas.botfront", 0, "1 to 20"),
    (with_base(release="1.0.3", replicas={"botfront": 3}), "replicas.botfront", 3, "ReadWriteMany"),
    (with_base(database={"name": "admin"}), "database.name", "admin", "system database"),
    (with_base(namespace="kube-system"), "namespace", "kube-system", "of the stack's own"),
    (
        with_base(rasaUrl="http://chat.example.com"),
        "rasaUrl",
        "http://chat.example.com",
        "https like rootUrl",
    ),
    (with_base(rootURL="https://x.example.com"), "rootURL", "https://x.example.com", "unknown key"),
    # The model's own cases: suggestions for misspelt keys and values, the new key, list items.
    (with_base(rootURL="https://x.example.com"), "rootURL", "https://x.example.com", "did you mean rootUrl?"),
    (with_base(platfrom="openshift"), "platfrom", "openshift", "did you mean platform?"),
    (
        with_base(models={"accesMode": "ReadWriteMany"}),
        "models.accesMode",
        "ReadWriteMany",
        "did you mean accessMode?",
    ),
    (
        with_base(models={"accessMode": "ReadWriteMny"}),
        "models.accessMode",
        "ReadWriteMny",
        "did you mean ReadWriteMany?",
    ),
    (with_base(release="1.05"), "release", "1.05", "did you mean 1.0.5?"),
    (with_base(verify="yes"), "verify", "yes", "true or false"),
    (with_base(replicas={"duckling": 2.5}), "replicas.duckling", 2.5, "whole number"),
    (
        with_base(projects=[{"id": "bf", "enviroments": ["production"]}]),
        "projects[0].enviroments",
        ["production"],
        "did you mean environments?",
    ),
    (
        with_base(database={"mode": "atlas", "size": "10Gi"}),
        "database.size",
        "10Gi",
        "only applies to database.mode incluster",
    ),
    (with_base(restoreFrom="bf.archive.gz"), "restoreFrom", "bf.archive.gz", "<database>-<UTC timestamp"),
]


@pytest.mark.parametrize(("raw", "key", "value", "hint"), BAD_CONFIGS, ids=[c[1] for c in BAD_CONFIGS])
def test_bad_config_names_key_value_and_what_is_allowed(
    raw: dict[str, Any], key: str, value: Any, hint: str
) -> None:
    problems = problems_of(raw)
    matching = [p for p in problems if p.startswith(f"botfront:{key}: ")]
    assert matching, f"no problem for botfront:{key} in {problems}"
    assert show(value) in matching[0]
    assert hint in matching[0]


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "release": "9",
        "namespace": "UPPER",
        "database": {"name": "x" * 17},
        "images": {"duckling": "botfront/duckling:latest"},
        "tracker": {"maxEvents": "many"},
    }
    problems = problems_of(raw)
    keys = {p.split(": ", 1)[0] for p in problems}
    assert keys == {
        "botfront:release",
        "botfront:namespace",
        "botfront:rootUrl",
        "botfront:database.name",
        "botfront:images.duckling",
        "botfront:tracker.maxEvents",
    }


def test_a_first_round_of_key_problems_says_the_checks_across_keys_follow() -> None:
    # replicas.botfront 2 on 1.0.3 with a ReadWriteOnce models volume breaks a rule across keys,
    # which runs only once every key's own value is valid.
    across = with_base(release="1.0.3", replicas={"botfront": 2})
    with pytest.raises(ConfigError) as first:
        parse_settings({**across, "tracker": {"maxEvents": -1}}, "dev")
    assert [p.split(": ", 1)[0] for p in first.value.problems] == ["botfront:tracker.maxEvents"]
    assert "(1 problem; the checks across keys run once these are fixed)" in str(first.value)
    with pytest.raises(ConfigError) as second:
        parse_settings(across, "dev")
    assert [p.split(": ", 1)[0] for p in second.value.problems] == ["botfront:replicas.botfront"]
    assert "(1 problem); nothing was deployed" in str(second.value)


def test_config_error_is_a_clean_run_error_naming_the_stack() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"platform": "eks"}, "staging")
    assert isinstance(info.value, pulumi.RunError)  # printed without a traceback by the host
    assert "stack 'staging'" in str(info.value) and "2 problems" in str(info.value)


def test_bad_config_registers_no_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monitors: list[ops.offline.RecordingMonitor] = []

    class Spy(ops.offline.RecordingMonitor):
        def __init__(self, mocks: ops.offline.OfflineMocks) -> None:
            super().__init__(mocks)
            monitors.append(self)

    monkeypatch.setattr(ops.offline, "RecordingMonitor", Spy)
    with pytest.raises(ConfigError):
        ops.offline.run_program("dev", {"namespace": "Not_Valid", "release": "0.1"})
    assert len(monitors) == 1 and monitors[0].recorded == []


def test_defaults_match_the_config_contract() -> None:
    s = parse_settings(BASE, "test")
    assert s.release.version == "1.0.5"
    assert (s.namespace, s.project_id, s.platform, s.protect) == ("botfront", "bf", "kubernetes", True)
    assert (s.database.mode, s.database.name, s.database.oplog) == ("incluster", "bf", True)
    assert s.actions_image is None and s.duckling is True
    assert (s.models.size, s.models.access_mode, s.models.storage_class) == ("5Gi", "ReadWriteOnce", None)
    assert (s.tracker.max_events, s.tracker.persist_time) == (100, 3600)
    assert (s.ingress.enabled, s.ingress.class_name) == (True, "nginx")
    # The installation document's minimums are the default requests.
    assert dict(s.resources["botfront"].requests) == {"cpu": "1", "memory": "1Gi"}
    assert dict(s.resources["rasa"].requests) == {"cpu": "1", "memory": "1Gi"}
    assert dict(s.resources["duckling"].requests) == {"cpu": "500m", "memory": "512Mi"}
    assert dict(s.resources["botfrontApi"].requests) == {"cpu": "500m", "memory": "128Mi"}


def test_partial_resource_override_keeps_the_other_defaults() -> None:
    s = parse_settings(with_base(resources={"rasa": {"limits": {"memory": "8Gi"}}}), "test")
    assert dict(s.resources["rasa"].limits) == {"cpu": "4", "memory": "8Gi"}
    assert dict(s.resources["rasa"].requests) == {"cpu": "1", "memory": "1Gi"}


def test_rasa_url_is_derived_from_root_url_unless_given() -> None:
    assert parse_settings(BASE, "t").rasa_url == "https://rasa.botfront.example.com"
    assert derive_rasa_url("http://bf.example.com:8888/app") == "http://rasa.bf.example.com:8888"
    given_url = parse_settings(with_base(rasaUrl="https://chat.example.com/"), "t")
    assert (given_url.rasa_url, given_url.rasa_url_derived) == ("https://chat.example.com", False)


def test_config_strings_from_the_cli_are_accepted() -> None:
    # `pulumi config set botfront:protect false` stores the string "false".
    s = parse_settings(with_base(protect="false", duckling="true", replicas={"duckling": "3"}), "t")
    assert (s.protect, s.duckling, s.replicas["duckling"]) == (False, True, 3)


def is_dns_label(text: str) -> bool:
    """Independent statement of RFC 1123 label rules."""
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 0 < len(text) <= 63 and set(text) <= allowed and text[0] != "-" and text[-1] != "-"


@given(st.text(alphabet="abcXYZ019-_.", min_size=0, max_size=70))
def test_namespace_rule_is_the_dns_label_rule(name: str) -> None:
    raw = with_base(namespace=name)
    if is_dns_label(name):
        assert parse_settings(raw, "t").namespace == name
    else:
        assert any(p.startswith("botfront:namespace:") for p in problems_of(raw))


@given(st.text(alphabet="ab_-.$/ 9", min_size=0, max_size=20))
def test_database_name_rule(name: str) -> None:
    ok = 1 <= len(name) <= 16 and all(c.isalnum() or c in "_-" for c in name)
    raw = with_base(database={"name": name})
    if ok:
        assert parse_settings(raw, "t").database.name == name
    else:
        assert any(p.startswith("botfront:database.name:") for p in problems_of(raw))


@given(
    number=st.integers(min_value=1, max_value=4096),
    suffix=st.sampled_from(["", "Ki", "Mi", "Gi", "k", "M", "G", "KB", "mb", "gig"]),
)
def test_volume_size_accepts_exactly_kubernetes_quantities(number: int, suffix: str) -> None:
    raw = with_base(models={"size": f"{number}{suffix}"})
    if suffix in ("", "Ki", "Mi", "Gi", "k", "M", "G"):
        assert parse_settings(raw, "t").models.size == f"{number}{suffix}"
    else:
        assert any(p.startswith("botfront:models.size:") for p in problems_of(raw))


def test_quantities_compare_across_units() -> None:
    assert parse_quantity("1536Mi") == parse_quantity("1.5Gi")
    assert parse_quantity("500m") == parse_quantity("0.5")
    assert parse_quantity("2k") == 2000
    assert parse_quantity("ten") is None


@given(st.from_regex(re.compile(r"[a-z]{1,8}(\.[a-z]{1,8}){1,3}"), fullmatch=True))
def test_any_dns_host_makes_a_valid_root_url(host: str) -> None:
    s = parse_settings({"rootUrl": f"https://{host}"}, "t")
    assert s.root_url == f"https://{host}" and s.rasa_url == f"https://rasa.{host}"


# --- placeholders of the shipped stack files, secrets where plain values belong ----------------

PROD = {
    key.split(":", 1)[1]: value
    for key, value in yaml.safe_load((Path(__file__).parent.parent / "stacks/Pulumi.prod.yaml").read_text())[
        "config"
    ].items()
    if key.startswith("botfront:")
}


def test_placeholders_are_refused_by_an_update_naming_each_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(PROD, "prod", deploying=True)
    keys = [p.split(": got", 1)[0] for p in info.value.problems]
    assert keys == ["botfront:atlas.orgId", "botfront:atlas.accessList[0]", "botfront:atlas.accessList[1]"]
    assert all("placeholder" in p for p in info.value.problems)


def test_placeholders_only_warn_in_a_preview_or_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    assert parse_settings(PROD, "prod").atlas is not None
    assert [w.split(":", 2)[1] for w in warnings] == [
        "atlas.orgId",
        "atlas.accessList[0]",
        "atlas.accessList[1]",
    ]
    own = {
        **PROD,
        "atlas": {**PROD["atlas"], "orgId": "5f1e2d3c4b5a697887766554", "accessList": ["100.64.0.0/16"]},
    }
    assert parse_settings(own, "prod", deploying=True).atlas is not None


def test_only_a_real_update_is_deploying(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.runtime import mocks
    from pulumi.runtime import settings as runtime_settings

    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)
    monkeypatch.setattr(runtime_settings, "get_monitor", lambda: object())  # the engine's monitor
    assert settings_module.deploying()
    monkeypatch.setattr(
        runtime_settings, "get_monitor", lambda: mocks.MockMonitor(ops.offline.OfflineMocks())
    )
    assert not settings_module.deploying()
    monkeypatch.setattr(runtime_settings, "get_monitor", lambda: object())
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)  # a preview
    assert not settings_module.deploying()


@pytest.mark.parametrize("how", ["automation", "environment"])
def test_a_secret_structured_key_is_refused_not_read_as_plain_text(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `pulumi config set --secret --path botfront:database.name x` encrypts the whole key.
    if how == "environment":  # the language host lists secret keys in PULUMI_CONFIG_SECRET_KEYS
        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["botfront:database"]))
        overrides, secrets = {"database": {"mode": "incluster", "name": "x"}}, None
    else:
        overrides, secrets = {}, {"database": json.dumps({"mode": "incluster", "name": "x"})}
    with pytest.raises(ConfigError) as info:
        ops.offline.run_program("dev", overrides, secrets=secrets)
    (problem,) = info.value.problems
    assert (
        problem.startswith("botfront:database: got '[secret]'; stored as a secret") and "'x'" not in problem
    )


def test_secret_keys_stay_secret() -> None:
    plan = ops.offline.run_program("dev", secrets={"mailUrl": "smtp://u:p@mail.example.com"})
    assert "smtp://u:p@mail.example.com" not in json.dumps(plan.as_json())


@pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss", "p@ss", "S3cretPw"])
def test_no_part_of_a_url_password_is_echoed(password: str) -> None:
    url = f"https://admin:{password}-S3cretPw@botfront.example.com"
    with pytest.raises(ConfigError) as info:
        parse_settings(with_base(rootUrl=url), "t")
    assert "S3cretPw" not in str(info.value) and password not in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "raw",
    [
        with_base(rootUrl="https://admin:S3cretPw@botfront.example.com"),
        with_base(rasaUrl="https://ghp_S3cretPw@rasa.example.com"),
        with_base(projects=[{"id": "bf", "rasaUrl": {"development": "https://u:S3cretPw@r.example.com"}}]),
        with_base(ingress={"tlsSecretName": "https://u:S3cretPw@x.example.com"}),  # a misplaced URL
        with_base(unknownKey={"url": "smtp://mail:S3cretPw@smtp.example.com:587"}),
    ],
)
def test_urls_with_credentials_are_refused_and_never_echoed(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, "t")
    assert "S3cretPw" not in str(info.value)
    assert "[hidden]@" in str(info.value)
