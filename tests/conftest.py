"""Shared helpers: run the real program offline for a stack file, with optional overrides."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def leaked_secrets(plan: Plan, text: str, given: Iterable[str] = ()) -> list[str]:
    """Generated secrets and the `given` secret values found in `text`: as they are, URL-encoded
    (as inside a Mongo URL) or by their first 16 characters (a value cut short, or with an encoded
    character near its end)."""
    return [
        value
        for value in [*plan.generated_secrets, *given]
        if value in text or quote(value, safe="") in text or value[:16] in text
    ]


# A distinctive value for every user secret (components/model.py SECRET_KEYS, set with
# `pulumi config set --secret`); tests/test_program.py checks the keys are exactly SECRET_KEYS.
USER_SECRETS = {
    "mailUrl": "smtp://sentinel-mail-user:sentinel-mail-pass-5d2e@sentinel-mail-host.example.com:587",
    "chatbaseApiKey": "sentinel-chatbase-key-8c41f0",
}
# What must not show either: each part of a secret URL that is a credential.
USER_SECRET_PARTS = ("sentinel-mail-user", "sentinel-mail-pass-5d2e")


def user_secret_values() -> list[str]:
    return [*USER_SECRETS.values(), *USER_SECRET_PARTS]


@dataclass
class LoggedPlan:
    plan: Plan
    # Every message the program logged through pulumi.log (the SDK's mock engine hands them to the
    # root logger: pulumi/runtime/mocks.py MockEngine.Log), any severity.
    logs: list[str]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.messages
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


_logged: dict[str, LoggedPlan] = {}


def plan_with_user_secrets(stack: str) -> LoggedPlan:
    """The offline plan of `stack` with every SECRET_KEYS key set (as a secret) to its sentinel in
    USER_SECRETS, and what it logged (cached)."""
    if stack not in _logged:
        with captured_logs() as logs:
            plan = run_program(stack, secrets=USER_SECRETS)
        _logged[stack] = LoggedPlan(plan, list(logs))
    return _logged[stack]
