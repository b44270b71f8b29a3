"""The generated artifacts: stale files fail, shipped stacks validate, typed mistakes are refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.model import PULUMI_TYPES, StackConfig
from components.settings import parse_settings
from ops import schema

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(json.loads((ROOT / schema.SCHEMA).read_text()))


def test_generated_files_are_up_to_date() -> None:
    stale = [str(p) for p, text in schema.rendered().items() if p.read_text() != text]
    assert not stale, f"run `make schema`: stale {stale}"


@pytest.mark.parametrize("stack", STACKS, ids=[p.name for p in STACKS])
def test_every_shipped_stack_names_and_passes_the_schema(stack: Path) -> None:
    text = stack.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schema/stack.schema.json"
    assert (stack.parent / "../schema/stack.schema.json").resolve() == (ROOT / schema.SCHEMA).resolve()
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))) == []


DEV = yaml.safe_load((ROOT / "stacks/Pulumi.dev.yaml").read_text())


def edited(path: list[str], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEV)
    node = doc["config"]
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["botfront:tracker", "maxEvents"], "many"),  # a string where a number belongs
        (["botfront:replicas", "botfront"], 21),  # out of range
        (["botfront:platform"], "eks"),  # outside the enum
        (["botfront:protect"], "yes"),  # YAML 1.2: a string, not a boolean
        (["botfront:database", "nmae"], "bf"),  # misspelt nested key
        (["botfront:namespce"], "x"),  # misspelt top-level key
        (["namespce"], "x"),  # misspelt key without namespace (the CLI reads it as botfront:namespce)
        (["botfront:atlas", "accessList"], "203.0.113.0/24"),  # not a list
        (["botfront:mailUrl"], "smtp://plain"),  # a secret in plain text
        (["kubernetes:namespace"], "team-x"),  # the stack's provider does not read it
        (["botfront:networkPolicy", "extraEgress"], {"action": []}),  # misspelt service
        (["botfront:actions"], {"image": "a/b:1", "env": {"MY-VAR": "x"}}),  # not an env name
        (["botfront:placement", "rasa"], {"nodeSelector": {"bad key!": "x"}}),  # not a label key
        (["botfront:placement", "rasa"], {"affinity": {"nodeAfinity": {}}}),  # misspelt nested key
        (["botfront:placement", "worker"], {}),  # not a service
        (["botfront:rotate", "apikey"], 1),  # misspelt generation
        (["botfront:database", "urlSecret"], "mongodb://u:p@h/db"),  # an object belongs here
    ],
)
def test_schema_rejects_typed_mistakes(path: list[str], value: Any) -> None:
    assert list(VALIDATOR.iter_errors(edited(path, value))), (path, value)


def test_schema_allows_other_namespaces_and_secure_values() -> None:
    doc = edited(["kubernetes:context"], "prod")
    doc["config"]["mongodbatlas:clientId"] = "id"
    doc["config"]["botfront:mailUrl"] = {"secure": "v1:abc"}
    assert list(VALIDATOR.iter_errors(doc)) == []


def test_a_key_without_namespace_is_the_projects_as_the_cli_reads_it() -> None:
    # pulumi/pulumi@v3.259.0: sdk/go/common/workspace/loaders.go:61-86 (stackConfigNamespacedWithProject)
    # rewrites `rootUrl` to `botfront:rootUrl`; the schema must judge it as that key.
    doc = copy.deepcopy(DEV)
    doc["config"] = {k.removeprefix("botfront:"): v for k, v in doc["config"].items()}
    assert list(VALIDATOR.iter_errors(doc)) == []
    for key, value in [("replicas", {"rasa": 2}), ("protect", "yes"), ("rootUrl", 5), ("nmespace", "x")]:
        bad = copy.deepcopy(doc)
        bad["config"][key] = value
        assert list(VALIDATOR.iter_errors(bad)), (key, value)
    del doc["config"]["rootUrl"]
    assert list(VALIDATOR.iter_errors(doc)), "rootUrl is required in either form"


def test_pulumi_types_agree_with_the_json_schema() -> None:
    for key, prop in StackConfig.model_json_schema()["properties"].items():
        kinds = {s.get("type", "object") for s in prop.get("anyOf", [prop]) if s.get("type") != "null"}
        kinds = {
            "string" if "enum" in prop or "enum" in s or k == "number" else k for s in [prop] for k in kinds
        }
        assert kinds == {PULUMI_TYPES[key]}, key


def test_every_pulumi_yaml_key_is_typed_and_defaults_validate() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(config) == {f.alias or n for n, f in StackConfig.model_fields.items()}
    defaults = {}
    for key, declaration in config.items():
        assert declaration["type"] in ("string", "integer", "boolean", "object", "array"), key
        assert declaration["type"] == PULUMI_TYPES[key]
        if declaration["type"] == "array":  # the CLI requires items for arrays, and checks them
            assert declaration["items"] == {"type": {"projects": "object"}.get(key, "string")}, key
        if "default" in declaration:
            defaults[key] = declaration["default"]
        else:
            assert key == "rootUrl"  # the only required key
    # Pulumi.yaml's defaults alone (plus the required key) are a valid configuration.
    settings = parse_settings({**defaults, "rootUrl": "https://bf.example.com"}, "t")
    assert settings.verify and settings.backup is None and settings.atlas is None


def test_verify_is_off_in_render_mode() -> None:
    base = {"rootUrl": "https://bf.example.com"}
    assert parse_settings(base, "t").verify is True
    assert parse_settings({**base, "verify": False}, "t").verify is False
    assert parse_settings({**base, "renderTo": "out"}, "t").verify is False


DAY2 = {
    "imagePullSecrets": ["regcred"],
    "actions": {"image": "a/b:1", "env": {"TIMEOUT": 30}, "envFrom": [{"secretRef": {"name": "s"}}]},
    "placement": {
        "default": {"nodeSelector": {"kubernetes.io/os": "linux"}, "tolerations": [{"operator": "Exists"}]},
        "botfrontApi": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}},
    },
    "networkPolicy": {"extraEgress": {"actions": [{"namespace": "shop", "ports": [{"port": 443}]}]}},
    "createNamespace": False,
    "rotate": {"apiKey": 2},
    "database": {"mode": "external", "urlSecret": {"name": "m", "key": "url"}},
    "verify": True,
}  # fmt: skip


def test_the_day2_keys_pass_the_schema_and_the_model_alike() -> None:
    doc = copy.deepcopy(DEV)
    doc["config"].update({f"botfront:{k}": v for k, v in DAY2.items()})
    for key in ("botfront:backup", "botfront:restoreFrom"):
        doc["config"].pop(key, None)
    assert list(VALIDATOR.iter_errors(doc)) == []
    settings = parse_settings({**DAY2, "rootUrl": "https://bf.example.com"}, "t")
    assert settings.placement_for("botfrontApi").affinity is not None and settings.rotate == {"apiKey": 2}


def test_the_cli_accepts_the_day2_keys_as_pulumi_yaml_declares_them(tmp_path: Path) -> None:
    """The CLI checks each value against Pulumi.yaml's type before the program runs
    (ops/stack_config.py): imagePullSecrets is an array of strings, not of objects."""
    from ops.stack_config import read_stack

    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    stack = {
        "config": {"botfront:rootUrl": "https://bf.example.com"}
        | {f"botfront:{k}": v for k, v in DAY2.items()}
    }
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump(stack))
    values = read_stack("t", tmp_path).values
    assert json.loads(values["botfront:imagePullSecrets"]) == ["regcred"]
