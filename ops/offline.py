"""Run the real program in-process on the SDK's mock monitor: the engine of `make plan` and tests.

It reads `Pulumi.yaml` defaults and `stacks/Pulumi.<stack>.yaml` the way the engine does (unit
tests otherwise see neither: pulumi/pulumi#4472), records every resource registration with its
inputs and options, and masks every secret value before anything is printed or written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import string
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import mocks, settings

from ops.stack_config import config_text, read_stack

ROOT = Path(__file__).resolve().parent.parent
SECRET = "[secret]"
# Sentinels of the Pulumi wire format.
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    depends_on: list[str] = field(default_factory=list)
    provider: str | None = None
    # The registration's aliases, as the engine receives them (alias specs or URNs).
    aliases: list[dict[str, Any]] = field(default_factory=list)
    # The options the engine receives besides protect/retainOnDelete: customTimeouts (only the
    # operations given, as the SDK sends them), deleteBeforeReplace, replaceOnChanges, ignoreChanges.
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    # Unmasked inputs, for assertions in tests only: never printed or written.
    secret_inputs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_kubernetes_object(self) -> bool:
        return (
            self.custom and self.type.startswith("kubernetes:") and self.type != "pulumi:providers:kubernetes"
        )

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "inputs": self.inputs,
        }
        if self.aliases:
            entry["aliases"] = self.aliases  # ops/plan_diff.py follows them, as the engine does
        options = self.options()
        if options:
            entry["options"] = options
        if self.inputs != self.secret_inputs:
            # Lets a plan diff say that masked content changed (e.g. Rasa's endpoints.yml in its
            # Secret). Offline plans only ever hold mock or placeholder secrets, never real ones.
            digest = hashlib.sha256(json.dumps(self.secret_inputs, sort_keys=True).encode()).hexdigest()
            entry["secretValues"] = "sha256:" + digest[:16]
        return entry

    def options(self) -> dict[str, Any]:
        """The recorded options that differ from the engine's defaults, as plan.json holds them."""
        options: dict[str, Any] = {
            "customTimeouts": self.custom_timeouts,
            "deleteBeforeReplace": self.delete_before_replace,
            "replaceOnChanges": self.replace_on_changes,
            "ignoreChanges": self.ignore_changes,
        }
        return {k: v for k, v in options.items() if v}


@dataclass
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    # Raw (unmasked) values the mocks generated for secrets, so tests can prove none leaks.
    generated_secrets: list[str]
    # What the CLI would warn about in the stack file (e.g. a key with no value).
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
        }


def mask(value: Any, secret: bool = False) -> Any:
    """Replace every secret leaf of a wire-format value with "[secret]", keeping its shape.

    Numbers come back as integers where they are whole (the wire format only has doubles).
    """
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return mask(value.get("value"), secret=True)
        return {k: mask(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secret) for v in value]
    if value == _UNKNOWN:
        return "[unknown]"
    if secret and value is not None:
        return SECRET
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def reveal(value: Any) -> Any:
    """The wire-format value with secrets unwrapped (for tests)."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return reveal(value.get("value"))
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fake_secret(name: str, length: int, special: bool, override_special: str | None) -> str:
    """A deterministic stand-in for a generated secret: stable plans, realistic characters."""
    alphabet = string.ascii_letters + string.digits
    if special:
        alphabet += override_special if override_special is not None else "!@#$%&*()-_=+[]{}<>:?"
    digest = b""
    counter = 0
    while len(digest) < length:
        digest += hashlib.sha256(f"{name}:{counter}".encode()).digest()
        counter += 1
    text = "".join(alphabet[b % len(alphabet)] for b in digest[:length])
    if special and length >= 4:
        # Always include characters that must be URL-encoded, as real passwords may.
        specials = [c for c in (override_special or "!@#$%&*()-_=+[]{}<>:?") if c in ":/?#[]@%"]
        if specials:
            text = text[: length - 1] + specials[0]
    return text


class OfflineMocks(pulumi.runtime.Mocks):
    """Fabricates what providers would compute: names, ids, generated secrets, Atlas endpoints."""

    def __init__(self) -> None:
        self.generated: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ.startswith("random:index/random"):
            special = state.get("special", True) is not False
            # New keepers make a new value, as the provider's replacement would (botfront:rotate).
            seed = args.name + (json.dumps(state["keepers"], sort_keys=True) if state.get("keepers") else "")
            value = fake_secret(seed, int(state.get("length", 16)), special, state.get("overrideSpecial"))
            self.generated.append(value)
            state["result"] = value
            return f"{args.name}-id", state
        if args.typ.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", args.name)
            state["metadata"] = metadata
            return metadata["name"], state
        if args.typ == "mongodbatlas:index/project:Project":
            return hashlib.sha256(args.name.encode()).hexdigest()[:24], state
        if args.typ == "mongodbatlas:index/advancedCluster:AdvancedCluster":
            cluster = str(state.get("name") or args.name)
            state["connectionStrings"] = {
                "standard": f"mongodb://{cluster}-shard-00-00.mock0.mongodb.net:27017",
                "standardSrv": f"mongodb+srv://{cluster}.mock0.mongodb.net",
            }
            state.setdefault("clusterId", hashlib.sha256(cluster.encode()).hexdigest()[:24])
            return f"{cluster}-id", state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "mongodbatlas:index/getRolesOrgId:getRolesOrgId":
            return {"orgId": "0123456789abcdef01234567"}, []
        return {}, []


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that also keeps each registration's masked inputs and options."""

    def __init__(self, mocks_: OfflineMocks) -> None:
        super().__init__(mocks_)
        self.recorded: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            self.recorded.append(
                PlannedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=mask(raw),
                    protect=bool(request.protect),
                    retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                    depends_on=list(request.dependencies),
                    provider=request.provider or None,
                    aliases=[
                        json_format.MessageToDict(alias, preserving_proto_field_name=True)
                        for alias in request.aliases
                    ],
                    custom_timeouts=_custom_timeouts(request),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=list(request.replaceOnChanges),
                    ignore_changes=list(request.ignoreChanges),
                    secret_inputs=reveal(raw),
                )
            )
        return response


def _custom_timeouts(request: Any) -> dict[str, str]:
    """The request's customTimeouts, the operations set (an unset one is "" on the wire)."""
    if not request.HasField("customTimeouts"):
        return {}
    timeouts = request.customTimeouts
    given = {op: getattr(timeouts, op) for op in ("create", "update", "delete", "read")}
    return {op: value for op, value in given.items() if value}


def _config_value(value: Any) -> str:
    return config_text(value)[0]


def load_stack_config(stack: str, root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """Project defaults overlaid with the stack file, as `pulumi config` would hand them over.

    Read and checked as the CLI does (ops/stack_config.py): StackFileError where `pulumi up`
    would refuse the stack before the program runs. Encrypted (`secure:`) values cannot be read
    offline: they become placeholders that are marked secret, so the program still takes the
    same code paths.
    """
    loaded = read_stack(stack, root)
    return loaded.values, loaded.secret_keys


@contextmanager
def _program_path(root: Path) -> Iterator[None]:
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    root: Path = ROOT,
    config: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Plan:
    """Run `__main__.py` for `stack` under mocks; `overrides` replace `botfront:*` keys.

    `config` replaces the stack file altogether (a complete `project:key -> text` map);
    `secrets` sets keys as `pulumi config set --secret` would.
    """
    warnings: list[str] = []
    if config is None:
        loaded = read_stack(stack, root)
        values, secret_keys, warnings = loaded.values, loaded.secret_keys, loaded.warnings
    else:
        values, secret_keys = dict(config), []
    for key, value in (overrides or {}).items():
        qualified = key if ":" in key else f"botfront:{key}"
        if value is None:
            values.pop(qualified, None)
        else:
            values[qualified] = _config_value(value)
    for key, text in (secrets or {}).items():
        qualified = key if ":" in key else f"botfront:{key}"
        values[qualified] = text
        secret_keys.append(qualified)

    def program() -> None:
        with _program_path(root):
            runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    plan = run_components(program, stack, values, secret_keys)
    plan.warnings = warnings
    return plan


def run_components(
    body: Callable[[], Any],
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
) -> Plan:
    """Run `body` (which registers resources) under the recording mocks and return the plan."""
    offline_mocks = OfflineMocks()
    monitor = RecordingMonitor(offline_mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config or {}), secret_keys or [])
    pulumi.runtime.set_mocks(offline_mocks, project="botfront", stack=stack, preview=False, monitor=monitor)
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        body()
        stack_resource = settings.get_root_resource()
        exported: dict[str, Any] = dict(getattr(stack_resource, "outputs", {}) or {})

        async def resolve(name: str, value: Any) -> None:
            out = pulumi.Output.from_input(value)
            secret = bool(await out.is_secret())
            outputs[name] = SECRET if secret else await out.future()
            if secret:
                secret_outputs.add(name)

        pending = [asyncio.ensure_future(resolve(name, value)) for name, value in exported.items()]
        return pulumi.Output.from_input(asyncio.gather(*pending))

    run()
    return Plan(
        stack=stack,
        resources=sorted(monitor.recorded, key=lambda r: r.urn),
        outputs=outputs,
        secret_outputs=secret_outputs,
        generated_secrets=offline_mocks.generated,
    )
