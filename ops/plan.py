"""Offline plan: run the program for one stack with no cloud, no cluster and no Pulumi CLI.

    python -m ops.plan --stack dev            (or: make plan STACK=dev)

Prints the resources the stack would have, writes every Kubernetes manifest (secrets masked)
and `plan.json` under build/<stack>/, checks each manifest against the Kubernetes OpenAPI schema
(kubernetes-validate, strict) and exits non-zero on a configuration or schema error.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from ops.offline import ROOT, Plan, PlannedResource, run_program
from ops.stack_config import StackFileError

DEFAULT_KUBE_VERSION = "1.30.0"


SCHEMAS = Path(__file__).resolve().parent / "schemas"


def schema_errors(manifest: dict[str, Any], kube_version: str = DEFAULT_KUBE_VERSION) -> list[str]:
    """Every way `manifest` breaks the Kubernetes OpenAPI schema (strict: no unknown fields).

    Kinds that are not Kubernetes' own (OpenShift's Route) are checked against a schema of ours.
    """
    import kubernetes_validate

    group, _, version = str(manifest.get("apiVersion", "")).rpartition("/")
    extra = SCHEMAS / f"{group}-{version}-{manifest.get('kind')}.json"
    if extra.exists():
        import jsonschema

        validator = jsonschema.Draft202012Validator(json.loads(extra.read_text()))
        return [
            f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in validator.iter_errors(manifest)
        ]

    try:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return [f"{path or '<root>'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"no schema for {manifest.get('apiVersion')}/{manifest.get('kind')}: {error}"]
    return []


def manifest_filename(index: int, resource: PlannedResource) -> str:
    kind = str(resource.inputs.get("kind", resource.type.rsplit(":", 1)[-1]))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", resource.name)
    return f"{index:03d}-{kind.lower()}-{name}.yaml"


def write_outputs(plan: Plan, out_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    written = []
    for index, resource in enumerate(r for r in plan.resources if r.is_kubernetes_object):
        filename = manifest_filename(index, resource)
        (out_dir / filename).write_text(yaml.safe_dump(resource.inputs, sort_keys=True))
        written.append((filename, resource.inputs))
    (out_dir / "plan.json").write_text(json.dumps(plan.as_json(), indent=2, sort_keys=True) + "\n")
    return written


def render_table(plan: Plan) -> str:
    rows = [("TYPE", "NAME", "DATA SAFETY")]
    for r in plan.resources:
        flags = ", ".join(f for f, on in (("protect", r.protect), ("retain", r.retain_on_delete)) if on)
        rows.append((r.type, r.name, flags))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack name: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory (default build/)")
    parser.add_argument("--kube-version", default=DEFAULT_KUBE_VERSION, help="Kubernetes schema version")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a botfront:* key for this plan only, e.g. --set release='\"0.27.5\"'",
    )
    args = parser.parse_args(argv)

    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, text = item.partition("=")
        try:
            overrides[key] = json.loads(text)
        except ValueError:
            overrides[key] = text

    from components.validation import ConfigError

    try:
        plan = run_program(args.stack, overrides)
    except (ConfigError, StackFileError) as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)

    out_dir = Path(args.out) / args.stack
    written = write_outputs(plan, out_dir)
    print(f"Stack {plan.stack}: {len(plan.resources)} resources, {len(written)} Kubernetes objects\n")
    print(render_table(plan))
    print("\nOutputs:")
    for name in sorted(plan.outputs):
        print(f"  {name}: {json.dumps(plan.outputs[name])}")

    failures = 0
    for filename, manifest in written:
        for problem in schema_errors(manifest, args.kube_version):
            failures += 1
            print(f"schema error in {filename}: {problem}", file=sys.stderr)
    print(
        f"\nManifests: {out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir}/ "
        f"({len(written)} files, schema v{args.kube_version} strict: {failures} errors)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
