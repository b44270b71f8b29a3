"""Compare two offline plans (`build/<stack>/plan.json` from `make plan`) resource by resource.

    python -m ops.plan_diff BASE_PLAN.json HEAD_PLAN.json [--format text|markdown]

Resources are keyed by URN. Prints what head adds, removes and changes; for a changed resource,
every input path that differs (`spec.template.spec.containers[0].image: a → b`), multi-line text
as a line diff. Ends with `N to add, N to change, N to remove`. This is the review comment of pull
requests that get no secrets (forks): no cloud, no cluster, no Pulumi CLI.

Protected resources: a removal or a replacement of a resource the base plan protects is listed
first, marked "pulumi up will refuse this" (see `refusals`). The engine refuses both:
- a delete of a resource whose state has `protect`, in preview as in update
  (pulumi/pulumi@v3.259.0:pkg/resource/deploy/step.go, `DeleteStep.Apply` and
  `deleteProtectedError`; the check runs before the dry-run branch, and step_executor.go's
  `cancelDueToError` continues past it so that every such delete is reported);
- a replacement when the resource is protected in the state and still in the program
  (step_generator.go, "unable to replace resource ... as it is currently marked for protection":
  `new.Protect && old.Protect`; unprotecting and replacing in one update is allowed).
A real `pulumi preview --json` shows the same through its steps (`op` "delete" or "replace" with
`oldState.protect`; pulumi/pulumi@v3.259.0:pkg/display/json.go `PreviewStep`,
sdk/go/common/apitype/core.go `ResourceV3.Protect`) and an error diagnostic; fork pull requests get
no preview, so this tool predicts it from two offline plans.
A resource the head plan no longer has is a delete whatever the head says (a renamed URN without
an alias too; `follow_aliases` keeps a move to a parent under a `noParent` alias a change); the
state's flag is the base plan's `protect`. Offline plans have no provider diff,
so a replacement is predicted from the inputs that force one (`replacement_paths`). Not predicted:
a protected dependent replaced because a resource it depends on is replaced delete-before-replace
(step_generator.go refuses that too). ASSUMPTION: the engine behaves the same at v3.272.0, the
pinned SDK's version (the mirror stops at v3.259.0).

Secrets: the plan already replaces every secret with "[secret]"; this tool prints that marker and
nothing else for such a value, so a change of secret is only visible as "[secret]" on either side.
Exit code 0 whatever the difference; 2 when a plan cannot be read.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET = "[secret]"
# Fields of a plan entry compared as wholes, besides the inputs (the URN already names the type,
# the name and the parent chain).
# `secretValues` is a digest of the masked values (offline plans hold no real secret): it shows
# that a Secret's content changed without showing the content.
ENTRY_FIELDS = ("protect", "retainOnDelete", "parent", "dependsOn", "provider", "secretValues")
MAX_TEXT_DIFF_LINES = 40
MAX_VALUE_CHARS = 200
DEFAULT_MAX_MARKDOWN = 20000  # three stacks stay under GitHub's 65536-character comment limit

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOKS_TYPED = re.compile(r"^(true|false|null|-?[0-9][0-9.eE+-]*)$")


class PlanError(Exception):
    """A plan file that cannot be read or has the wrong shape."""


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    entry: Mapping[str, Any]

    @property
    def inputs(self) -> Any:
        return self.entry.get("inputs", {})


@dataclass(frozen=True)
class Plan:
    stack: str
    resources: dict[str, Resource]
    outputs: Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ResourceChange:
    resource: Resource
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Refusal:
    """A change to a protected resource that `pulumi up` (and `pulumi preview`) will refuse."""

    resource: Resource  # as in the base plan
    action: str  # "remove" or "replace"
    paths: tuple[str, ...] = ()  # for a replacement: the changed inputs that force it

    def describe(self) -> str:
        if self.action == "remove":
            return "protected, removed by head: pulumi up will refuse this"
        return f"protected, replaced (changes {', '.join(self.paths)}): pulumi up will refuse this"


@dataclass(frozen=True)
class PlanDiff:
    stack: str
    added: tuple[Resource, ...]
    removed: tuple[Resource, ...]
    changed: tuple[ResourceChange, ...]
    outputs: tuple[Change, ...]
    # (type, name) pairs that more than one URN of either plan has: labelled with their URN.
    ambiguous: frozenset[tuple[str, str]] = frozenset()
    refusals: tuple[Refusal, ...] = ()

    @property
    def summary(self) -> str:
        return f"{len(self.added)} to add, {len(self.changed)} to change, {len(self.removed)} to remove"

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.outputs)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def parse_plan(data: Any, source: str = "plan") -> Plan:
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise PlanError(
            f"{source}: expected an object with a 'resources' list (the plan.json of `make plan`)"
        )
    resources: dict[str, Resource] = {}
    for index, entry in enumerate(data["resources"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("urn"), str):
            raise PlanError(f"{source}: resources[{index}] has no 'urn' string")
        urn = entry["urn"]
        if urn in resources:
            raise PlanError(f"{source}: URN {urn} appears twice")
        resources[urn] = Resource(urn, str(entry.get("type", "")), str(entry.get("name", "")), entry)
    outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
    return Plan(str(data.get("stack", "")), resources, outputs or {})


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text()
    except OSError as error:
        raise PlanError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno})") from error
    return parse_plan(data, str(path))


# ---------------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------------


def join(path: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _named(items: Sequence[Any]) -> list[str] | None:
    """The `name` of every item when all are objects with a unique string name (containers, env...)."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return [str(n) for n in names]


def diff_values(before: Any, after: Any, path: str = "") -> Iterator[Change]:
    """Every leaf path where `before` and `after` differ."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            yield from diff_values(before.get(key, MISSING), after.get(key, MISSING), join(path, str(key)))
        return
    if isinstance(before, list) and isinstance(after, list):
        old_names, new_names = _named(before), _named(after)
        if old_names is not None and new_names is not None:
            # Kubernetes merges these lists by name: match items by name, not position.
            common = [n for n in old_names if n in new_names]
            if common != [n for n in new_names if n in old_names]:
                yield Change(f"{path} (order)", old_names, new_names)
            for index, name in enumerate(new_names):
                old = before[old_names.index(name)] if name in old_names else MISSING
                yield from diff_values(old, after[index], f"{path}[{index}]")
            for index, name in enumerate(old_names):
                if name not in new_names:
                    yield Change(f"{path}[{index}]", before[index], MISSING)
            return
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else MISSING
            new = after[index] if index < len(after) else MISSING
            yield from diff_values(old, new, f"{path}[{index}]")
        return
    yield Change(path, before, after)


def diff_resource(base: Resource, head: Resource) -> tuple[Change, ...]:
    changes = list(diff_values(base.inputs, head.inputs))
    for name in ENTRY_FIELDS:
        old, new = base.entry.get(name, MISSING), head.entry.get(name, MISSING)
        if old != new:
            changes.append(Change(f"({name})", old, new))
    return tuple(changes)


# ---------------------------------------------------------------------------------------------
# Protected resources
# ---------------------------------------------------------------------------------------------

# Inputs whose change makes pulumi-kubernetes replace the object instead of patching it, for the
# kinds this program creates (pulumi/pulumi-kubernetes@v4.32.0:provider/pkg/provider/diff.go,
# `forceNew` and `forceNewProperties`; provider.go `Diff` adds `.metadata.name` and
# `.metadata.namespace` for every kind). A change at or below one of these paths replaces.
# ASSUMPTION: unchanged in v4.34.2, the version pinned here (the mirror stops at v4.32.0).
_K8S_FORCE_NEW_ALL = ("metadata.name", "metadata.namespace")
_K8S_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "core/v1:PersistentVolumeClaim": (
        "spec.accessModes",
        "spec.selector",
        "spec.storageClassName",
        "spec.volumeName",
    ),
    "core/v1:Secret": ("type",),
    "core/v1:Service": ("spec.clusterIP",),
    "apps/v1:Deployment": ("spec.selector",),
    "apps/v1:StatefulSet": (
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "apps/v1:DaemonSet": ("spec.selector",),
    "batch/v1:Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}
# An immutable Secret or ConfigMap is replaced when its content changes (forceNewProperties:
# `IsImmutable`); a mutable one is updated in place because cluster.py's provider sets
# enableSecretMutable and enableConfigMapMutable.
_K8S_IMMUTABLE_CONTENT = {
    "core/v1:Secret": ("type", "stringData", "data"),
    "core/v1:ConfigMap": ("binaryData", "data"),
}


def _under(path: str, prefixes: Sequence[str]) -> bool:
    bare = path.removesuffix(" (order)")
    return any(bare == p or bare.startswith((p + ".", p + "[")) for p in prefixes)


def replacement_paths(base: Resource, head: Resource) -> tuple[str, ...]:
    """The changed input paths that make the provider replace the resource (empty: in place)."""
    changed = [c.path for c in diff_values(base.inputs, head.inputs)]
    if base.type.startswith("kubernetes:"):
        kind = base.type.removeprefix("kubernetes:")
        force = _K8S_FORCE_NEW_ALL + _K8S_FORCE_NEW.get(kind, ())
        immutable = any(
            isinstance(r.inputs, dict) and r.inputs.get("immutable") is True for r in (base, head)
        )
        if immutable:
            force += _K8S_IMMUTABLE_CONTENT.get(kind, ())
        return tuple(p for p in changed if _under(p, force))
    if base.type.startswith("random:"):
        # `keepers` RequiresReplaceIfValuesNotNull (hashicorp/terraform-provider-random,
        # internal/provider/resource_password.go `passwordSchemaV3`): what the `rotate` generations
        # feed. ASSUMPTION: every other input of a random resource (length, special...) also
        # requires replacement, as the provider has no Update that regenerates a value.
        return tuple(changed)
    # ASSUMPTION: other providers (Atlas...) are not predicted; their removals still are.
    return ()


def refusals(base: Plan, head: Plan) -> tuple[Refusal, ...]:
    """Removals and replacements of resources the base protects, in URN order."""
    found: list[Refusal] = []
    for urn in sorted(base.resources):
        old = base.resources[urn]
        if old.entry.get("protect") is not True:
            continue
        new = head.resources.get(urn)
        if new is None:
            found.append(Refusal(old, "remove"))
            continue
        # Unprotecting and replacing in one update is allowed (new.Protect && old.Protect).
        if new.entry.get("protect") is not True:
            continue
        paths = replacement_paths(old, new)
        if paths:
            found.append(Refusal(old, "replace", paths))
    return tuple(found)


def _root_level(resource: Resource) -> bool:
    """Parented by the stack itself: no parent, or a parent URN whose type is the Stack
    (`urn:pulumi:<stack>::<project>::pulumi:pulumi:Stack::<name>`)."""
    parent = resource.entry.get("parent")
    if not parent:
        return True
    parts = str(parent).split("::")
    return len(parts) == 4 and parts[2].split("$")[-1] == "pulumi:pulumi:Stack"


def follow_aliases(base: Plan, head: Plan) -> Plan:
    """`base` with each resource that a head resource names by an alias filed under the head
    URN, so a move is a change, not a removal and an addition: the engine looks the old URN up
    through the aliases (pulumi 3.272.0 pulumi/resource.py `Alias`). Only the alias offline
    plans carry is followed: `noParent` (the resource used to be parented by the stack)."""
    moved: dict[str, str] = {}
    for urn, new in head.resources.items():
        if urn in base.resources:
            continue
        for alias in new.entry.get("aliases", []):
            if not alias.get("spec", {}).get("noParent"):
                continue
            for old_urn, old in base.resources.items():
                if (
                    old_urn not in head.resources
                    and (old.type, old.name) == (new.type, new.name)
                    and _root_level(old)
                ):
                    moved[old_urn] = urn
    if not moved:
        return base
    resources = {moved.get(urn, urn): resource for urn, resource in base.resources.items()}
    return Plan(base.stack, resources, base.outputs)


def diff_plans(base: Plan, head: Plan) -> PlanDiff:
    base = follow_aliases(base, head)
    added = tuple(head.resources[u] for u in sorted(set(head.resources) - set(base.resources)))
    removed = tuple(base.resources[u] for u in sorted(set(base.resources) - set(head.resources)))
    changed = []
    for urn in sorted(set(base.resources) & set(head.resources)):
        changes = diff_resource(base.resources[urn], head.resources[urn])
        if changes:
            changed.append(ResourceChange(head.resources[urn], changes))
    outputs = tuple(diff_values(dict(base.outputs), dict(head.outputs)))
    counts: dict[tuple[str, str], int] = {}
    for resource in {**base.resources, **head.resources}.values():
        counts[(resource.type, resource.name)] = counts.get((resource.type, resource.name), 0) + 1
    ambiguous = frozenset(key for key, count in counts.items() if count > 1)
    return PlanDiff(
        head.stack or base.stack, added, removed, tuple(changed), outputs, ambiguous, refusals(base, head)
    )


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_value(value: Any) -> str:
    """One-line rendering; "[secret]" stays exactly the marker."""
    if value is MISSING:
        return "(absent)"
    if value == SECRET:
        return SECRET
    if isinstance(value, str):
        if (
            not value
            or value != value.strip()
            or _LOOKS_TYPED.match(value)
            or "\n" in value
            or " → " in value
        ):
            return _shorten(json.dumps(value))
        return _shorten(value)
    return _shorten(json.dumps(value, sort_keys=True, ensure_ascii=False))


def is_text_change(change: Change) -> bool:
    """Multi-line text on either side (and no secret marker: that is shown as a plain value)."""
    sides = (change.before, change.after)
    return SECRET not in sides and any(isinstance(v, str) and "\n" in v for v in sides)


def text_diff(change: Change) -> list[str]:
    """A unified line diff of multi-line text (absent or non-text sides count as empty)."""
    old = change.before if isinstance(change.before, str) else ""
    new = change.after if isinstance(change.after, str) else ""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
    if len(lines) > MAX_TEXT_DIFF_LINES:
        lines = [*lines[:MAX_TEXT_DIFF_LINES], f"… {len(lines) - MAX_TEXT_DIFF_LINES} more lines"]
    return lines


def _labels(diff: PlanDiff) -> dict[str, str]:
    """`type name` for every resource in the diff, with the URN where that is ambiguous."""
    resources = [
        *diff.added,
        *diff.removed,
        *(c.resource for c in diff.changed),
        *(r.resource for r in diff.refusals),
    ]
    return {
        r.urn: f"{r.type} {r.name}" + (f" ({r.urn})" if (r.type, r.name) in diff.ambiguous else "")
        for r in resources
    }


def render_text(diff: PlanDiff) -> str:
    labels = _labels(diff)
    lines = [f"Plan diff for stack {diff.stack or '(unnamed)'} (base → head)"]
    if diff.empty:
        lines.append("No changes.")
    for refusal in diff.refusals:
        lines.append(f"! REFUSED {labels[refusal.resource.urn]}: {refusal.describe()}")
    for resource in diff.added:
        lines.append(f"+ add     {labels[resource.urn]}")
    for resource in diff.removed:
        lines.append(f"- remove  {labels[resource.urn]}")
    for item in diff.changed:
        lines.append(f"~ change  {labels[item.resource.urn]}")
        for change in item.changes:
            if is_text_change(change):
                lines.append(f"      {change.path}: (text changed)")
                lines.extend(f"        {line}" for line in text_diff(change))
            else:
                lines.append(
                    f"      {change.path}: {render_value(change.before)} → {render_value(change.after)}"
                )
    if diff.outputs:
        lines.append("Outputs:")
        for change in diff.outputs:
            lines.append(f"      {change.path}: {render_value(change.before)} → {render_value(change.after)}")
    lines.append(diff.summary)
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    """An inline code span that survives backticks and newlines in `text`."""
    text = text.replace("\n", " ")
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(lines: list[str], info: str = "") -> list[str]:
    runs = [len(m) for line in lines for m in re.findall(r"`{3,}", line)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{fence}{info}", *lines, fence]


def render_markdown(diff: PlanDiff, max_chars: int = DEFAULT_MAX_MARKDOWN) -> str:
    labels = _labels(diff)
    head = [f"#### Stack {_code(diff.stack or '(unnamed)')}: {diff.summary}", ""]
    if diff.refusals:
        # Before the body: truncation must never hide it.
        head += [
            "**:warning: pulumi up will refuse this**",
            *(f"- {_code(labels[r.resource.urn])}: {r.describe()}" for r in diff.refusals),
            "",
        ]
    if diff.empty:
        return "\n".join([*head, "No changes.", ""])
    body: list[str] = []
    if diff.added:
        body += ["**To add**", *(f"- {_code(labels[r.urn])}" for r in diff.added), ""]
    if diff.removed:
        body += ["**To remove**", *(f"- {_code(labels[r.urn])}" for r in diff.removed), ""]
    if diff.changed:
        body.append("**To change**")
        for item in diff.changed:
            body.append(f"- {_code(labels[item.resource.urn])}")
            for change in item.changes:
                if is_text_change(change):
                    body.append(f"  - {_code(change.path)}: text changed")
                    body += [f"    {line}" for line in _fenced(text_diff(change), "diff")]
                else:
                    before, after = render_value(change.before), render_value(change.after)
                    body.append(f"  - {_code(change.path)}: {_code(before)} → {_code(after)}")
        body.append("")
    if diff.outputs:
        body.append("**Outputs**")
        for change in diff.outputs:
            before, after = render_value(change.before), render_value(change.after)
            body.append(f"- {_code(change.path)}: {_code(before)} → {_code(after)}")
        body.append("")
    text = "\n".join([*head, *body])
    if len(text) > max_chars:
        note = "\n\n… truncated; the job log has the full diff.\n"
        cut = text.rfind("\n", 0, max_chars - len(note))
        text = text[: max(cut, 0)]
        if text.count("```") % 2:  # do not leave a code block open
            text += "\n```"
        text += note
    return text


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.plan_diff",
        description="Compare two plan.json files from `make plan`: resources added, removed and changed.",
    )
    parser.add_argument("base", type=Path, help="plan.json of the base (e.g. main)")
    parser.add_argument("head", type=Path, help="plan.json of the head (the pull request)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_MARKDOWN,
        help=f"truncate markdown beyond this many characters (default {DEFAULT_MAX_MARKDOWN})",
    )
    args = parser.parse_args(argv)
    try:
        diff = diff_plans(load_plan(args.base), load_plan(args.head))
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "markdown":
        sys.stdout.write(render_markdown(diff, args.max_chars))
    else:
        sys.stdout.write(render_text(diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
