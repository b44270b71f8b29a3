"""Short-lived stacks (one per pull request) on any Pulumi backend, through the Automation API.

    python -m ops.ephemeral up --name pr-123 [--ttl 48h] [--set botfront:rootUrl=https://...]
    python -m ops.ephemeral destroy --name pr-123
    python -m ops.ephemeral reap [--dry-run]

(`python ops/ephemeral.py ...` works the same.)

`up` creates (or selects) the stack, marks it ephemeral with an expiry, gives it the config of
the template stack file `<stackConfigDir>/Pulumi.ephemeral.yaml` with its own namespace
(`botfront-<name>`), and runs `pulumi up` with the project's policy pack. Re-running `up` pushes
the expiry forward, so a pull request that keeps moving keeps its stack. `destroy` destroys and
removes one stack (a stack that does not exist is success, and so is one whose cluster is gone).
`reap` destroys and removes every ephemeral stack past its expiry.

The marker: stack tags are the source of truth (`ephemeral=true`, `expires-at=<ISO 8601 UTC>`).
Every backend keeps tags: Pulumi Cloud always has, self-managed backends (file://, s3://, gs://,
azblob://) since CLI v3.211.0. For older CLIs, `up` also writes the marker into stack config
(`botfront-ops:ephemeral`, `botfront-ops:expiresAt`), which the backend records with every update in
the stack's history; the reaper reads tags first, then the last update's config, then the local
stack file. The config namespace is `botfront-ops`, not `botfront`, so the program never sees these
keys (components/settings.py rejects unknown `botfront:` keys). A stack without a marker is never
touched, whatever its name, and dev/staging/prod are refused by name as well.

Everything that decides is a pure function or works against the small `Workspace` protocol below;
`AutomationWorkspace` is the real adapter over `pulumi.automation` (it needs the Pulumi CLI), and
the tests use a fake.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TextIO

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as `python ops/ephemeral.py`
    sys.path.insert(0, str(ROOT))

from ops.stack_config import StackFileError, config_text, load_yaml  # noqa: E402

LONG_LIVED = ("dev", "staging", "prod")
TEMPLATE_STACK = "ephemeral"
RESERVED = (*LONG_LIVED, TEMPLATE_STACK)
NAMESPACE_PREFIX = "botfront-"
MAX_NAME_LEN = 63 - len(NAMESPACE_PREFIX)  # the namespace botfront-<name> is a DNS-1123 label too

# A destroy must succeed when the stack's cluster is already gone (a deleted kind/CI cluster), or
# the reaper fails on that stack at every run forever. With this variable the Kubernetes provider
# drops the objects of an unreachable cluster from the state instead of failing:
# pulumi/pulumi-kubernetes@v4.32.0 provider/pkg/provider/provider.go, Configure
# (`os.LookupEnv("PULUMI_K8S_DELETE_UNREACHABLE")`, read when the provider's own
# `deleteUnreachable` input is unset, which the program never sets) and Delete
# (`if k.deleteUnreachable` on an unreachable cluster). The project pins v4.34.2: ASSUMPTION, same.
DESTROY_ENV = {"PULUMI_K8S_DELETE_UNREACHABLE": "true"}

TAG_EPHEMERAL = "ephemeral"
TAG_EXPIRES = "expires-at"
MARKER_NAMESPACE = "botfront-ops"
CONFIG_EPHEMERAL = f"{MARKER_NAMESPACE}:ephemeral"
CONFIG_EXPIRES = f"{MARKER_NAMESPACE}:expiresAt"

DEFAULT_TTL = "48h"
MAX_TTL = timedelta(days=14)
MAX_TTL_TEXT = "14d"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TTL = re.compile(r"^([0-9]+)([mhd])$")
_TTL_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
# Top-level key names that need no quoting in a property path (resource.ParsePropertyPath).
_PATH_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

Clock = Callable[[], datetime]
Output = Callable[[str], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class UsageError(Exception):
    """A bad argument or missing setting: reported in one line, exit code 2, no traceback."""


class TagsUnsupported(Exception):
    """The backend or CLI cannot store stack tags (self-managed backends before CLI v3.211.0)."""


class StackMissing(Exception):
    """The stack does not exist (any more)."""


class UpdateInProgress(Exception):
    """Another update holds the stack's lock (self-managed backends do not always list this)."""


# ---------------------------------------------------------------------------------------------
# Pure helpers: names, TTLs, expiry, backend, markers
# ---------------------------------------------------------------------------------------------


def validate_name(name: str) -> str:
    """A stack name usable as a DNS-1123 label inside `botfront-<name>`; never a long-lived one."""
    if name in RESERVED:
        raise UsageError(
            f"stack name '{name}' is reserved: ephemeral commands never touch "
            f"{', '.join(LONG_LIVED)} or '{TEMPLATE_STACK}' (the template); use e.g. pr-123"
        )
    if not _NAME.match(name) or len(name) > MAX_NAME_LEN:
        raise UsageError(
            f"invalid stack name '{name}': expected 1-{MAX_NAME_LEN} lower-case letters, digits or '-', "
            "starting and ending with a letter or digit (a DNS-1123 label once prefixed with "
            f"'{NAMESPACE_PREFIX}'), e.g. pr-123"
        )
    return name


def parse_ttl(text: str) -> timedelta:
    """`90m`, `48h`, `3d`: a positive whole number and a unit (m, h, d), at most 14d."""
    match = _TTL.match(text.strip())
    allowed = (
        "expected a positive whole number followed by m (minutes), h (hours) or d (days), "
        f"e.g. 90m, 48h or 3d, at most {MAX_TTL_TEXT}"
    )
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"invalid TTL '{text}': {allowed}")
    amount = int(match.group(1))
    # Compare in the unit given before multiplying, so a huge number cannot overflow timedelta.
    if amount * _TTL_UNITS[match.group(2)].total_seconds() > MAX_TTL.total_seconds():
        raise UsageError(f"invalid TTL '{text}': longer than the maximum {MAX_TTL_TEXT}; {allowed}")
    return amount * _TTL_UNITS[match.group(2)]


def expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a stack brought up at `now` with `ttl` expires (UTC, whole seconds)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return (now + ttl).astimezone(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a Z suffix: 2025-01-31T12:00:00Z."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Read an ISO 8601 timestamp; one without a zone is taken as UTC. ValueError if unreadable."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def describe_delta(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return "".join(parts)


def check_backend(env: Mapping[str, str], *, needs_secrets: bool, secrets_provider: str | None) -> str:
    """Which backend the Pulumi CLI will use, or UsageError naming the variables to set."""
    url = env.get("PULUMI_BACKEND_URL", "").strip()
    token = env.get("PULUMI_ACCESS_TOKEN", "").strip()
    if not url and not token:
        raise UsageError(
            "no Pulumi backend: set PULUMI_BACKEND_URL (a self-managed backend such as "
            "s3://bucket, gs://bucket, azblob://container or file://~/.pulumi-state, together with "
            "PULUMI_CONFIG_PASSPHRASE) or PULUMI_ACCESS_TOKEN (Pulumi Cloud)"
        )
    if not url or url.startswith(("https://", "http://")):
        return f"Pulumi Cloud ({url or 'https://api.pulumi.com'})"
    if url.startswith("file://") and env.get("CI", "").lower() == "true":
        raise UsageError(
            f"PULUMI_BACKEND_URL is file:// state ({url}) on a CI runner: it is gone after the job, so "
            "this stack's up, its destroy and the reaper would never meet; use s3://, gs://, azblob:// "
            "or Pulumi Cloud"
        )
    has_passphrase = bool(env.get("PULUMI_CONFIG_PASSPHRASE") or env.get("PULUMI_CONFIG_PASSPHRASE_FILE"))
    if needs_secrets and not has_passphrase and not secrets_provider:
        raise UsageError(
            f"PULUMI_BACKEND_URL is a self-managed backend ({url}) but neither PULUMI_CONFIG_PASSPHRASE "
            "nor PULUMI_CONFIG_PASSPHRASE_FILE is set: set one of them, or pass --secrets-provider "
            "(awskms://..., gcpkms://..., azurekeyvault://..., hashivault://...)"
        )
    return f"self-managed ({url})"


def short_name(stack: str) -> str:
    """`org/botfront/pr-1` or `org/pr-1` -> `pr-1` (listings may fully qualify names)."""
    return stack.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Marker:
    ephemeral: bool
    expires_at: datetime | None
    source: str  # "tags", "history", "config" or "none"
    raw_expiry: str | None = None


NO_MARKER = Marker(ephemeral=False, expires_at=None, source="none")


def marker_from(values: Mapping[str, str], flag_key: str, expiry_key: str, source: str) -> Marker | None:
    """The marker held in `values` (tags or config), or None when they carry none."""
    flag = values.get(flag_key)
    if flag is None:
        return None
    raw = values.get(expiry_key)
    expires: datetime | None = None
    if raw:
        try:
            expires = parse_time(raw)
        except ValueError:
            expires = None
    return Marker(str(flag).strip().lower() == "true", expires, source, raw)


@dataclass(frozen=True)
class Decision:
    action: str  # "keep", "skip", "destroy" or "error"
    reason: str


def decide(name: str, update_in_progress: bool, marker: Marker, now: datetime) -> Decision:
    """What the reaper does with one stack."""
    if short_name(name) in RESERVED:
        return Decision("keep", "long-lived stack, never reaped")
    if not marker.ephemeral:
        return Decision("keep", "not marked ephemeral")
    if marker.expires_at is None:
        return Decision(
            "error",
            f"marked ephemeral (by {marker.source}) but its expiry is missing or unreadable "
            f"({marker.raw_expiry!r}); fix the '{TAG_EXPIRES}' tag or destroy it by hand",
        )
    if marker.expires_at > now:
        left = describe_delta(marker.expires_at - now)
        return Decision("keep", f"expires {format_time(marker.expires_at)} (in {left})")
    expired = f"expired {format_time(marker.expires_at)} ({describe_delta(now - marker.expires_at)} ago)"
    if update_in_progress:
        return Decision("skip", f"{expired}, but an update is in progress; next run")
    return Decision("destroy", expired)


# ---------------------------------------------------------------------------------------------
# The template stack file -> config the Automation API can set
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    name: str
    root: Path
    stack_config_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"


def load_project(root: Path) -> Project:
    project_file = root / "Pulumi.yaml"
    if not project_file.is_file():
        raise UsageError(f"no Pulumi.yaml in {root}: pass --work-dir <project directory>")
    try:
        data = load_yaml(project_file) or {}
    except StackFileError as error:
        raise UsageError(str(error)) from error
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise UsageError(f"{project_file}: no project name")
    config_dir = data.get("stackConfigDir")
    if config_dir is None and isinstance(data.get("config"), str):  # the pre-3.27 spelling
        config_dir = data["config"]
    return Project(data["name"], root, root / (config_dir or "."))


def load_template(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The `config:` mapping of the template stack file, and warnings about what cannot be copied."""
    if not path.is_file():
        raise UsageError(
            f"template stack file {path} does not exist: every ephemeral stack starts from its config"
        )
    try:
        data = load_yaml(path) or {}
    except StackFileError as error:
        raise UsageError(str(error)) from error
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with a 'config:' key")
    warnings = []
    if data.get("environment"):
        warnings.append(f"{path.name}: 'environment' (Pulumi ESC imports) is not copied to ephemeral stacks")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise UsageError(f"{path}: 'config' must be a mapping of <namespace>:<key> to values")
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            raise UsageError(
                f"{path}: config key {key!r} is not of the form <namespace>:<key>, e.g. botfront:rootUrl"
            )
    return dict(config), warnings


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack's local settings file ({} if it has none or is unreadable).

    Read directly because the Automation API looks for Pulumi.<stack>.yaml in the project root and
    ignores stackConfigDir, and `pulumi config --json` would mix in the project's defaults.
    """
    try:
        data = load_yaml(path) if path.is_file() else None
    except StackFileError:
        return {}
    config = data.get("config") if isinstance(data, dict) else None
    return dict(config) if isinstance(config, dict) else {}


def is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def strip_secure(value: Any, path: str, warnings: list[str]) -> Any:
    """`value` without its `{secure: ...}` parts (encrypted for another stack), one warning for each."""
    if is_secure(value):
        warnings.append(f"skipped the secure value at {path}: it is encrypted for the template stack")
        return None
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if is_secure(item):
                strip_secure(item, f"{path}.{key}", warnings)
                continue
            kept[key] = strip_secure(item, f"{path}.{key}", warnings)
        return kept
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            if is_secure(item):
                strip_secure(item, f"{path}[{index}]", warnings)
                continue
            items.append(strip_secure(item, f"{path}[{index}]", warnings))
        return items
    return value


@dataclass
class ConfigPlan:
    """How to set the template's config through the CLI.

    `plain` holds the scalars, as the text the CLI would hand the program; `objects` the maps and
    lists, set whole as JSON objects (not JSON text) so the stack file holds the same nested YAML as
    the template and keys typed `object`/`array` in Pulumi.yaml still type-check.
    """

    plain: dict[str, str] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def keys(self) -> set[str]:
        return set(self.plain) | set(self.objects)


def plan_config(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> ConfigPlan:
    """Turn a stack file's `config:` mapping into values for the CLI.

    Scalars are set as the text the CLI reads from the template (ops/stack_config.py: an empty
    value is "", 1.0 is "1"). Objects and lists go whole through `pulumi config set-all --json`
    with an `objectValue`, which stores them as objects (pulumi/pulumi@v3.259.0:
    pkg/cmd/pulumi/config/config.go, newConfigSetAllCmd: `config.NewObjectValue`), unlike
    `--path` leaf by leaf, which re-types strings such as "true" or "042" and cannot write empty
    containers. Secure values are skipped with a warning: they are encrypted with another stack's
    key. `overrides` (plain strings) win.
    """
    plan = ConfigPlan()
    overrides = overrides or {}
    for key, value in template.items():
        if key in overrides:
            continue
        if is_secure(value):
            plan.warnings.append(
                f"{key}: skipped: a secure value is encrypted for the template stack and cannot be copied; "
                f"set it with `pulumi config set --secret {key} ...` or give the program a default"
            )
            continue
        if isinstance(value, dict | list):
            plan.objects[key] = strip_secure(value, key, plan.warnings)
            continue
        try:
            plan.plain[key] = config_text(value)[0]
        except ValueError as error:  # .inf/.nan: the CLI cannot encode them either
            plan.warnings.append(f"{key}: skipped: {error}")
    plan.plain.update(overrides)
    return plan


def objects_json(objects: Mapping[str, Any]) -> str:
    """The `--json` argument of `pulumi config set-all` for `objects`.

    The shape `pulumi config --json` prints (config.go, configValueJSON): `value` is the object's
    JSON text, which the CLI stores; `objectValue` marks it as an object.
    """
    return json.dumps(
        {
            key: {"value": config_text(value)[0], "objectValue": value, "secret": False}
            for key, value in objects.items()
        }
    )


def parse_set(items: Sequence[str]) -> dict[str, str]:
    """`--set ns:key=value` overrides (plain strings, top-level keys)."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        namespace, colon, name = key.partition(":")
        if not sep or not colon or not namespace or not _PATH_NAME.match(name):
            raise UsageError(
                f"invalid --set '{item}': expected <namespace>:<key>=<value> with a top-level key, "
                "e.g. botfront:rootUrl=https://pr-1.preview.example.com"
            )
        result[key] = value
    return result


# ---------------------------------------------------------------------------------------------
# The workspace protocol and its Automation API adapter
# ---------------------------------------------------------------------------------------------


class StackInfo(NamedTuple):
    name: str
    update_in_progress: bool = False


class Workspace(Protocol):
    """What ops/ephemeral.py needs from Pulumi; `AutomationWorkspace` or a test fake."""

    def list_stacks(self) -> list[StackInfo]: ...

    def create_or_select(self, stack: str) -> None: ...

    def set_config(self, stack: str, values: Mapping[str, str]) -> None: ...

    def set_objects(self, stack: str, objects: Mapping[str, Any]) -> None: ...

    def remove_config(self, stack: str, keys: Sequence[str]) -> None: ...

    def get_tags(self, stack: str) -> dict[str, str]: ...

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None: ...

    def last_update_config(self, stack: str) -> dict[str, str]: ...

    def up(self, stack: str, on_output: Output, policy_packs: Sequence[str] = ()) -> dict[str, Any]: ...

    def destroy(self, stack: str, on_output: Output) -> None: ...

    def remove(self, stack: str) -> None: ...


# The CLI's own words for a backend without stack tags (DIY backends before v3.211.0), not any
# error that happens to say "not supported".
_TAGS_UNSUPPORTED = re.compile(
    r"(stack )?tags? (are |is )?not supported|does not support (stack )?tags|"
    r"unsupported[^\n]{0,40}tag|tag[^\n]{0,40}unsupported",
    re.IGNORECASE,
)


class AutomationWorkspace:
    """`Workspace` over pulumi.automation's LocalWorkspace (needs the Pulumi CLI on PATH).

    The LocalWorkspace is built WITHOUT project_settings: the Automation API does not know
    `stackConfigDir` and would rewrite Pulumi.yaml without it (pulumi/pulumi#10305). The CLI
    commands it runs (config set, up, stack rm) do honour stackConfigDir.
    """

    def __init__(self, work_dir: Path, secrets_provider: str | None = None) -> None:
        from pulumi import automation as auto

        self._auto = auto
        self._ws = auto.LocalWorkspace(work_dir=str(work_dir), secrets_provider=secrets_provider)
        self._stacks: dict[str, auto.Stack] = {}

    def _stack(self, name: str) -> Any:
        if name not in self._stacks:
            try:
                self._stacks[name] = self._auto.Stack.select(name, self._ws)
            except self._auto.StackNotFoundError as error:
                raise StackMissing(name) from error
        return self._stacks[name]

    def list_stacks(self) -> list[StackInfo]:
        return [StackInfo(s.name, bool(s.update_in_progress)) for s in self._ws.list_stacks()]

    def create_or_select(self, stack: str) -> None:
        self._stacks[stack] = self._auto.Stack.create_or_select(stack, self._ws)

    def set_config(self, stack: str, values: Mapping[str, str]) -> None:
        config = {k: self._auto.ConfigValue(v, secret=False) for k, v in values.items()}
        self._stack(stack).set_all_config(config)

    def set_objects(self, stack: str, objects: Mapping[str, Any]) -> None:
        # `pulumi config set-all --json` (CLI v3.203.0+; pulumi.automation Stack.set_all_config_json).
        self._stack(stack).set_all_config_json(objects_json(objects))

    def remove_config(self, stack: str, keys: Sequence[str]) -> None:
        self._stack(stack).remove_all_config(list(keys))

    def get_tags(self, stack: str) -> dict[str, str]:
        try:
            return dict(self._stack(stack).list_tags())
        except self._auto.CommandError as error:
            if _TAGS_UNSUPPORTED.search(str(error)):
                raise TagsUnsupported(short_error(error)) from error
            raise

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        handle = self._stack(stack)
        for key, value in tags.items():
            try:
                handle.set_tag(key, value)
            except self._auto.CommandError as error:
                if _TAGS_UNSUPPORTED.search(str(error)):
                    raise TagsUnsupported(short_error(error)) from error
                raise

    def last_update_config(self, stack: str) -> dict[str, str]:
        history = self._stack(stack).history(page_size=1, show_secrets=False)
        if not history:
            return {}
        return {k: v.value for k, v in history[0].config.items()}

    def up(self, stack: str, on_output: Output, policy_packs: Sequence[str] = ()) -> dict[str, Any]:
        # `--policy-pack` for each (pulumi.automation Stack.up, policy_packs).
        result = self._stack(stack).up(
            on_output=on_output, color="never", policy_packs=list(policy_packs) or None
        )
        return {k: v.value for k, v in result.outputs.items() if not v.secret}

    def destroy(self, stack: str, on_output: Output) -> None:
        # Only for the destroy: `up` runs the program, and the SDK would copy the variable into
        # the provider's inputs (pulumi_kubernetes provider.py reads PULUMI_K8S_DELETE_UNREACHABLE
        # when delete_unreachable is unset), keeping it in the state.
        saved = self._ws.env_vars
        self._ws.env_vars = {**saved, **DESTROY_ENV}
        try:
            # Never the program (components/cluster.py refuses to run with the variable set),
            # even where PULUMI_RUN_PROGRAM=true would make the CLI run it.
            self._stack(stack).destroy(on_output=on_output, color="never", run_program=False)
        except self._auto.StackNotFoundError as error:
            raise StackMissing(stack) from error
        except self._auto.ConcurrentUpdateError as error:
            raise UpdateInProgress(short_error(error)) from error
        finally:
            self._ws.env_vars = saved

    def remove(self, stack: str) -> None:
        try:
            self._ws.remove_stack(stack)
        except self._auto.StackNotFoundError as error:
            raise StackMissing(stack) from error
        self._stacks.pop(stack, None)


def short_error(error: BaseException) -> str:
    """The useful line(s) of an error: the CLI's `error:` lines, else the last non-empty line."""
    text = str(error)
    if " stderr: " in text:
        text = text.split(" stderr: ", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error:")]
    chosen = "; ".join(errors) if errors else (lines[-1] if lines else type(error).__name__)
    return chosen if len(chosen) <= 400 else chosen[:397] + "..."


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def read_marker(ws: Workspace, stack: str, stack_file: Path | None = None) -> Marker:
    """Tags first (the source of truth); then the last update's config; then the local stack file.

    A tag `ephemeral` with any value other than "true" means not ephemeral, with no fallback. The
    fallbacks are best effort: if one cannot be read the stack counts as unmarked, and unmarked
    stacks are left alone.
    """
    try:
        tags = ws.get_tags(stack)
    except TagsUnsupported:
        tags = {}
    found = marker_from(tags, TAG_EPHEMERAL, TAG_EXPIRES, "tags")
    if found is not None:
        return found
    sources: tuple[tuple[str, Callable[[], Mapping[str, str]]], ...] = (
        ("history", lambda: ws.last_update_config(stack)),
        ("config", lambda: {k: str(v) for k, v in read_stack_file(stack_file).items()} if stack_file else {}),
    )
    for source, read in sources:
        try:
            values = read()
        except Exception:  # best effort; unreadable means unmarked, the safe side
            continue
        found = marker_from(values, CONFIG_EPHEMERAL, CONFIG_EXPIRES, source)
        if found is not None:
            return found
    return NO_MARKER


def _find(ws: Workspace, name: str) -> StackInfo | None:
    for info in ws.list_stacks():
        if info.name == name or short_name(info.name) == name:
            return info
    return None


@dataclass
class Streams:
    out: TextIO
    err: TextIO

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def warn(self, line: str) -> None:
        print(f"warning: {line}", file=self.err, flush=True)

    def engine(self, line: str) -> None:
        print(line, file=self.err, flush=True)


def cmd_up(
    ws: Workspace,
    project: Project,
    name: str,
    ttl: timedelta,
    now: datetime,
    io: Streams,
    overrides: Mapping[str, str] | None = None,
    policy_packs: Sequence[str] = (),
) -> int:
    template_file = project.stack_file(TEMPLATE_STACK)
    template, warnings = load_template(template_file)
    expires = expiry(now, ttl)
    namespace_key = f"{project.name}:namespace"
    markers = {CONFIG_EPHEMERAL: "true", CONFIG_EXPIRES: format_time(expires)}
    plan = plan_config(template, {**(overrides or {}), namespace_key: NAMESPACE_PREFIX + name, **markers})
    for warning in warnings + [f"{template_file.name}: {w}" for w in plan.warnings]:
        io.warn(warning)
    for note in plan.notes:
        print(f"note: {note}", file=io.err)

    existing = _find(ws, name)
    if existing is not None:
        marker = read_marker(ws, existing.name, project.stack_file(name))
        if not marker.ephemeral:
            io.say(
                f"FAILED up {name}: the stack exists and is not marked ephemeral; refusing to adopt it "
                "(the reaper would later destroy it). Pick another name."
            )
            return EXIT_FAILED
    ws.create_or_select(name)
    # Mark first: from here on, whatever fails, the reaper knows when this stack may go.
    ws.set_config(name, markers)
    try:
        ws.set_tags(name, {TAG_EPHEMERAL: "true", TAG_EXPIRES: format_time(expires)})
    except TagsUnsupported as error:
        io.warn(
            f"stack tags are not supported here ({error}); the ephemeral marker is kept in config "
            f"{CONFIG_EPHEMERAL}/{CONFIG_EXPIRES} (upgrade the Pulumi CLI to v3.211.0+ for tags)"
        )
    except Exception:
        # A stack this run created, left without its marker, would be refused by destroy and
        # skipped by reap forever: take it away again (it has no resources yet).
        if existing is None:
            ws.remove(name)
        raise

    # Config lives in the local stack file: drop what an earlier `up` left there and the template
    # no longer has (project keys only; secrets set by hand stay). Objects are set whole.
    prefix = f"{project.name}:"
    current = read_stack_file(project.stack_file(name))
    stale = sorted(
        key
        for key, value in current.items()
        if key.startswith(prefix) and key not in plan.keys and not is_secure(value)
    )
    if stale:
        ws.remove_config(name, stale)
    plain = {k: v for k, v in plan.plain.items() if k not in markers}
    if plain:
        ws.set_config(name, plain)
    if plan.objects:
        ws.set_objects(name, plan.objects)

    io.say(f"up {name}: namespace {NAMESPACE_PREFIX}{name}, expires {format_time(expires)}")
    if policy_packs:
        io.say(f"  policy packs: {', '.join(policy_packs)}")
    outputs = ws.up(name, io.engine, policy_packs)
    for key in sorted(outputs):
        io.say(f"  {key}: {outputs[key] if isinstance(outputs[key], str) else json.dumps(outputs[key])}")
    io.say(f"done up {name}")
    return EXIT_OK


def destroy_and_remove(ws: Workspace, name: str, io: Streams) -> None:
    try:
        ws.destroy(name, io.engine)
    except StackMissing:
        return
    try:
        ws.remove(name)
    except StackMissing:
        return


def cmd_destroy(ws: Workspace, project: Project, name: str, io: Streams) -> int:
    info = _find(ws, name)
    if info is None:
        io.say(f"nothing to destroy: stack {name} does not exist")
        return EXIT_OK
    marker = read_marker(ws, info.name, project.stack_file(name))
    if not marker.ephemeral:
        io.say(
            f"FAILED destroy {name}: not marked ephemeral (no tag {TAG_EPHEMERAL}=true); refusing. "
            f"Destroy it by hand with `pulumi destroy --remove --stack {name}` if that is really meant."
        )
        return EXIT_FAILED
    try:
        destroy_and_remove(ws, info.name, io)
    except Exception as error:  # reported, exit code says it failed
        io.say(f"FAILED destroy {name}: {short_error(error)}")
        return EXIT_FAILED
    io.say(f"destroyed {name} (and removed the stack)")
    return EXIT_OK


def cmd_reap(ws: Workspace, project: Project, now: datetime, io: Streams, dry_run: bool = False) -> int:
    try:
        stacks = sorted(ws.list_stacks())
    except Exception as error:
        io.say(f"FAILED reap: cannot list stacks: {short_error(error)}")
        return EXIT_FAILED
    counts = {"destroyed": 0, "kept": 0, "skipped": 0, "failed": 0}
    for info in stacks:
        name = info.name
        if short_name(name) in RESERVED:
            io.say(f"keep {name}: long-lived stack, never reaped")
            counts["kept"] += 1
            continue
        try:
            marker = read_marker(ws, name, project.stack_file(short_name(name)))
        except Exception as error:  # one bad stack must not stop the others
            io.say(f"FAILED {name}: cannot read its marker: {short_error(error)}")
            counts["failed"] += 1
            continue
        decision = decide(name, info.update_in_progress, marker, now)
        if decision.action == "keep":
            io.say(f"keep {name}: {decision.reason}")
            counts["kept"] += 1
        elif decision.action == "skip":
            io.say(f"skip {name}: {decision.reason}")
            counts["skipped"] += 1
        elif decision.action == "error":
            io.say(f"FAILED {name}: {decision.reason}")
            counts["failed"] += 1
        elif dry_run:
            io.say(f"would destroy {name}: {decision.reason}")
            counts["destroyed"] += 1
        else:
            try:
                destroy_and_remove(ws, name, io)
            except UpdateInProgress:
                io.say(f"skip {name}: {decision.reason}, but another update holds its lock; next run")
                counts["skipped"] += 1
                continue
            except Exception as error:  # one failure does not stop the others
                io.say(f"FAILED {name}: destroy failed: {short_error(error)}")
                counts["failed"] += 1
                continue
            io.say(f"destroyed {name}: {decision.reason}")
            counts["destroyed"] += 1
    verb = "would destroy" if dry_run else "destroyed"
    io.say(
        f"reap{' (dry run)' if dry_run else ''}: {counts['destroyed']} {verb}, {counts['kept']} kept, "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    )
    return EXIT_FAILED if counts["failed"] else EXIT_OK


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

POLICY_DIR = "policy"


def resolve_policy_packs(root: Path, given: Sequence[str]) -> list[str]:
    """The policy pack directories `up` enforces: those given, else the project's own pack.

    A pull-request stack is deployed, so it runs the same mandatory policies as the previews
    (.github/workflows/preview.yml, `policyPacks: policy`).
    """
    chosen = [Path(p) if Path(p).is_absolute() else root / p for p in given] or [root / POLICY_DIR]
    for pack in chosen:
        if not (pack / "PulumiPolicy.yaml").is_file():
            raise UsageError(
                f"no policy pack at {pack} (no PulumiPolicy.yaml): pass --policy-pack <directory of a pack>"
            )
    return [str(pack) for pack in chosen]


WorkspaceFactory = Callable[[Path, str | None], Workspace]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.ephemeral",
        description="Short-lived (per pull request) stacks: up, destroy, reap.",
    )
    parser.add_argument("--work-dir", type=Path, default=ROOT, help="project directory (with Pulumi.yaml)")
    parser.add_argument(
        "--secrets-provider",
        default=None,
        help="secrets provider for new stacks (default: the backend's; passphrase on self-managed backends)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="create or update an ephemeral stack")
    up.add_argument("--name", required=True, help="stack name, e.g. pr-123")
    up.add_argument(
        "--ttl", default=DEFAULT_TTL, help=f"time to live from now: 90m, 48h, 3d (default {DEFAULT_TTL})"
    )
    up.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NS:KEY=VALUE",
        help="override one top-level config value of the template (repeatable)",
    )
    up.add_argument(
        "--policy-pack",
        action="append",
        default=[],
        metavar="DIR",
        help=f"policy pack to enforce, as previews do (repeatable; default: <work-dir>/{POLICY_DIR})",
    )
    destroy = sub.add_parser("destroy", help="destroy and remove an ephemeral stack")
    destroy.add_argument("--name", required=True, help="stack name, e.g. pr-123")
    reap = sub.add_parser("reap", help="destroy every ephemeral stack past its expiry")
    reap.add_argument("--dry-run", action="store_true", help="report what would be destroyed; change nothing")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
    workspace_factory: WorkspaceFactory | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    io = Streams(out or sys.stdout, err or sys.stderr)
    args = _parser().parse_args(argv)
    env = os.environ if env is None else env
    try:
        name = validate_name(args.name) if args.command in ("up", "destroy") else ""
        ttl = parse_ttl(args.ttl) if args.command == "up" else None
        overrides = parse_set(args.set) if args.command == "up" else {}
        # destroy and reap decrypt the stacks' config too: all need the passphrase on a DIY backend.
        backend = check_backend(env, needs_secrets=True, secrets_provider=args.secrets_provider)
        project = load_project(args.work_dir.resolve())
        policy_packs: list[str] = []
        if args.command == "up":
            load_template(project.stack_file(TEMPLATE_STACK))  # fail before touching the backend
            policy_packs = resolve_policy_packs(project.root, args.policy_pack)
    except UsageError as error:
        print(f"error: {error}", file=io.err)
        return EXIT_USAGE
    print(f"backend: {backend}", file=io.err)

    factory: WorkspaceFactory = workspace_factory or AutomationWorkspace
    try:
        ws = factory(project.root, args.secrets_provider)
    except FileNotFoundError:
        print(
            "error: the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/, "
            "or in GitHub Actions pulumi/actions with no command) and retry",
            file=io.err,
        )
        return EXIT_USAGE
    except Exception as error:  # e.g. pulumi.automation's InvalidVersionError for an old CLI
        if type(error).__name__ != "InvalidVersionError":
            raise
        print(f"error: this Pulumi CLI is too old for the Automation API: {error}", file=io.err)
        return EXIT_USAGE
    try:
        if args.command == "up":
            assert ttl is not None
            return cmd_up(ws, project, name, ttl, clock(), io, overrides, policy_packs)
        if args.command == "destroy":
            return cmd_destroy(ws, project, name, io)
        return cmd_reap(ws, project, clock(), io, dry_run=args.dry_run)
    except UsageError as error:
        print(f"error: {error}", file=io.err)
        return EXIT_USAGE
    except Exception as error:  # one line, not a traceback
        io.say(f"FAILED {args.command}{' ' + name if name else ''}: {short_error(error)}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
