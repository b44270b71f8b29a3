"""Shared helpers: run the real program offline for a stack file, with optional overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ops.offline import ROOT, Plan, PlannedResource, run_program

STACKS = sorted(
    name
    for name in (p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    if not name.startswith("pr-")  # local files of ops/ephemeral.py's short-lived stacks
)

_cache: dict[str, Plan] = {}


def plan_for(stack: str, **overrides: Any) -> Plan:
    """The offline plan of `stack`, with `botfront:*` keys replaced by `overrides` (cached)."""
    key = stack + json.dumps(overrides, sort_keys=True)
    if key not in _cache:
        _cache[key] = run_program(stack, overrides)
    return _cache[key]


def deployment(plan: Plan, name: str) -> dict[str, Any]:
    return plan.get("kubernetes:apps/v1:Deployment", name).inputs


def container(plan: Plan, name: str) -> dict[str, Any]:
    containers = deployment(plan, name)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(plan: Plan, name: str) -> dict[str, Any]:
    """Container env as {NAME: literal value, or ("secret", secret name, key)}."""
    result: dict[str, Any] = {}
    for item in container(plan, name).get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            result[item["name"]] = ("secret", ref["name"], ref["key"])
        else:
            result[item["name"]] = item["value"]
    return result


def kubernetes_objects(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.resources if r.is_kubernetes_object]


@pytest.fixture(params=STACKS)
def stack_plan(request: pytest.FixtureRequest) -> Plan:
    return plan_for(request.param)


def project_root() -> Path:
    return ROOT


def leaked_secrets(plan: Plan, text: str) -> list[str]:
    """Generated secrets found in `text`: as generated, URL-encoded (as inside a Mongo URL) or by
    their first 16 characters (a value cut short, or with an encoded character near its end)."""
    return [
        value
        for value in plan.generated_secrets
        if value in text or quote(value, safe="") in text or value[:16] in text
    ]
