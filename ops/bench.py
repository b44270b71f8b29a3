"""Performance figures: plan time against the SDK import floor, blast radius of canonical
one-line changes, resource footprint per stack, and the cost of each additional service.

    python -m ops.bench            (or: make bench)

Every timing is the median of several runs, each in a fresh interpreter where it says so.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from components.validation import parse_quantity
from ops.offline import ROOT, Plan, run_program

STACKS = ("dev", "ephemeral", "staging", "prod")
# The installation document's "Indicative technical requirements" (minimums).
DOCUMENT_MINIMUMS = {
    "botfront": (Decimal(1), Decimal(2**30)),
    "botfront-api": (Decimal("0.5"), Decimal(128 * 2**20)),
    "duckling": (Decimal("0.5"), Decimal(512 * 2**20)),
    "rasa": (Decimal(1), Decimal(2**30)),
}

# name -> (stack, overrides): each changes one line of a stack file.
CANONICAL_CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "bump the rasa image": ("dev", {"images": {"rasa": "botfront/rasa-for-botfront:v2.3.3-bf.5"}}),
    "tracker.maxEvents 100 -> 50": ("dev", {"tracker": {"maxEvents": 50, "persistTime": 3600}}),
    "rootUrl (rasaUrl derived)": ("dev", {"rootUrl": "https://bots.dev.example.com"}),
    "rootUrl (rasaUrl explicit)": ("prod", {"rootUrl": "https://bots.example.com"}),
    "botfront replicas 2 -> 3": ("prod", {"replicas": {"botfront": 3, "duckling": 2}}),
    "add a project": ("dev", {"projects": [{"id": "bf"}, {"id": "shop", "environments": ["production"]}]}),
    "set mailUrl": ("dev", {}),
}
# Changes made with `pulumi config set --secret` (plain text is refused for these keys).
CANONICAL_SECRETS: dict[str, dict[str, str]] = {
    "set mailUrl": {"mailUrl": "smtp://bot:password@mail.example.com:587"},
}
# Kinds whose change or removal would lose data or interrupt traffic (adding one is harmless).
MUST_NOT_CHANGE = (
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "mongodbatlas:index/advancedCluster:AdvancedCluster",
)


# ---- blast radius -----------------------------------------------------------------------------


def changed_resources(before: Plan, after: Plan) -> dict[str, list[str]]:
    """Resources whose inputs differ, by URN, and those added or removed."""
    old = {r.urn: r.secret_inputs for r in before.resources}
    new = {r.urn: r.secret_inputs for r in after.resources}
    return {
        "changed": sorted(u for u in old.keys() & new.keys() if old[u] != new[u]),
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
    }


def short(urn: str) -> str:
    """`kubernetes:apps/v1:Deployment rasa` from a URN."""
    qualified_type, name = urn.split("::")[2:4]
    return f"{qualified_type.split('$')[-1]} {name}"


# The verification Job (components/verify.py) re-runs on every change to a workload by design:
# it and its ConfigMap and policies are reported apart, never counted in the blast radius.
VERIFICATION = "botfront:verify:Verification"


def is_verification(urn: str) -> bool:
    """The component itself or anything under it (its type is in the URN's type chain)."""
    return VERIFICATION in urn.split("::")[2].split("$")


def blast_radius(name: str) -> dict[str, Any]:
    stack, overrides = CANONICAL_CHANGES[name]
    after = run_program(stack, overrides, secrets=CANONICAL_SECRETS.get(name))
    diff = changed_resources(run_program(stack), after)
    every = diff["changed"] + diff["added"] + diff["removed"]
    touched = [u for u in every if not is_verification(u)]
    dangerous = [
        short(u)
        for u in diff["changed"] + diff["removed"]
        if any(f"${kind}::" in u or f"::{kind}::" in u for kind in MUST_NOT_CHANGE)
    ]
    return {
        "change": name,
        "stack": stack,
        "count": len(touched),
        "resources": [short(u) for u in touched],
        "data_or_service_touched": dangerous,
        "verification_reruns": any(is_verification(u) for u in every),
    }


# ---- footprint --------------------------------------------------------------------------------


def footprint(plan: Plan) -> dict[str, Any]:
    """Sum of CPU and memory requests (x replicas) of every pod the stack runs."""
    cpu = memory = Decimal(0)
    minimum_cpu = minimum_memory = Decimal(0)
    for deployment in plan.of_type("kubernetes:apps/v1:Deployment"):
        spec = deployment.inputs["spec"]
        replicas = int(spec.get("replicas", 1))
        for container in spec["template"]["spec"]["containers"]:
            requests = container["resources"]["requests"]
            cpu += replicas * (parse_quantity(str(requests["cpu"])) or 0)
            memory += replicas * (parse_quantity(str(requests["memory"])) or 0)
        kind = "rasa" if deployment.name.startswith("rasa") else deployment.name
        if kind in DOCUMENT_MINIMUMS:
            minimum_cpu += replicas * DOCUMENT_MINIMUMS[kind][0]
            minimum_memory += replicas * DOCUMENT_MINIMUMS[kind][1]
    atlas = bool(plan.of_type("mongodbatlas:index/advancedCluster:AdvancedCluster"))
    return {
        "stack": plan.stack,
        "cpu": float(cpu),
        "memory_gib": float(memory / 2**30),
        "document_cpu": float(minimum_cpu),
        "document_memory_gib": float(minimum_memory / 2**30),
        "atlas_cluster": atlas,
    }


# ---- timing -----------------------------------------------------------------------------------


def sdk_packages_used() -> list[str]:
    """The Pulumi SDK packages and the validation library (pydantic) the project's own code imports
    (scanned, not guessed): importing them is the libraries' cost, not the program's."""
    found: set[str] = set()
    for path in [
        ROOT / "__main__.py",
        ROOT / "ops" / "offline.py",
        *sorted((ROOT / "components").glob("*.py")),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found.update(
                n.split(".")[0]
                for n in names
                if n == "pulumi" or n.startswith(("pulumi.", "pulumi_", "pydantic"))
            )
    # pydantic's compiled core is loaded through pydantic, never imported by name here.
    return sorted(found | ({"pydantic_core"} if "pydantic" in found else set()))


# Plans the stack, then names every module of those SDK packages the run loaded: the floor
# imports exactly these (the SDKs load many modules lazily, on first use).
_PLAN_CODE = """
import sys
sys.path.insert(0, {root!r})
from ops.offline import run_program
run_program({stack!r})
packages = {packages!r}
print(",".join(sorted(m for m in list(sys.modules) if m.split(".")[0] in packages)))
"""


def fresh_process(code: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return time.perf_counter() - start, result.stdout.strip()


def plan_vs_floor(stack: str, runs: int) -> dict[str, Any]:
    """Median wall time of a fresh interpreter planning `stack`, and of one that only imports
    the SDK modules that plan actually loaded (the floor), interleaved so drift hits both."""
    packages = sdk_packages_used()
    plan_times, floor_times = [], []
    used = ""
    for _ in range(runs):
        elapsed, used = fresh_process(_PLAN_CODE.format(root=str(ROOT), stack=stack, packages=packages))
        plan_times.append(elapsed)
        floor_code = "\n".join(f"import {m}" for m in used.split(",") if m)
        floor_times.append(fresh_process(floor_code)[0])
    plan_s, floor_s = statistics.median(plan_times), statistics.median(floor_times)
    modules = used.split(",")
    return {
        "stack": stack,
        "plan_s": plan_s,
        "floor_s": floor_s,
        "ratio": plan_s / floor_s,
        "floor_modules": len(modules),
    }


CONFIG_MODULES = ("components.validation", "components.backup_settings", "components.atlas_settings",
                  "components.model", "components.settings")  # fmt: skip


def config_cost(runs: int) -> dict[str, float]:
    """The config layer's own cost: importing its modules (their self time, pydantic's own import
    excluded: it is the library's, in the floor) and validating the dev stack's values."""
    import_ms = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import components.settings"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        rows = [line.split("|") for line in result.stderr.splitlines() if line.startswith("import time:")]
        import_ms.append(sum(int(r[0].split(":")[1]) for r in rows if r[2].strip() in CONFIG_MODULES) / 1000)
    from components.model import PULUMI_TYPES
    from components.settings import parse_settings
    from ops.offline import load_stack_config

    values, _ = load_stack_config("dev")
    keys = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("botfront:")}
    raw = {k: v if PULUMI_TYPES.get(k, "string") == "string" else json.loads(v) for k, v in keys.items()}
    validate_s = warm_median(lambda: parse_settings(raw, "dev"), runs)
    return {"import_ms": statistics.median(import_ms), "validate_ms": validate_s * 1000}


def warm_median(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm: imports and caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scaling(runs: int) -> dict[str, Any]:
    """In-process plan time as Rasa instances (each a Deployment, Service, PVC, Secret,
    Ingress and network policy) are added, and with every optional service on."""
    points = []
    for pairs in (1, 2, 4, 8, 16):
        ids = ["bf", *(f"p{i}" for i in range(1, pairs // 2))]
        projects = [{"id": pid, "environments": ["development", "production"]} for pid in ids][: pairs // 2]
        overrides: Mapping[str, Any] = {"projects": projects} if projects else {}
        resources = len(run_program("dev", overrides).resources)
        seconds = warm_median(partial(run_program, "dev", overrides), runs)
        points.append({"pairs": pairs, "resources": resources, "seconds": seconds})
    first, last = points[0], points[-1]
    per_pair = (last["seconds"] - first["seconds"]) / (last["pairs"] - first["pairs"])
    per_resource = (last["seconds"] - first["seconds"]) / (last["resources"] - first["resources"])
    everything = {
        "release": "0.27.5",
        "actions": {"image": "ghcr.io/acme/actions:1.0.0"},
        "replicas": {"duckling": 2},
    }
    all_on = warm_median(lambda: run_program("dev", everything), runs)
    return {
        "points": points,
        "per_pair_ms": per_pair * 1000,
        "per_resource_ms": per_resource * 1000,
        "all_optional_services_s": all_on,
        "all_optional_resources": len(run_program("dev", everything).resources),
    }


# ---- report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def report(runs: int) -> tuple[str, dict[str, Any]]:
    timings = [plan_vs_floor(stack, runs) for stack in STACKS]
    config = config_cost(runs)
    blasts = [blast_radius(name) for name in CANONICAL_CHANGES]
    prints = [footprint(run_program(stack)) for stack in STACKS]
    scale = scaling(runs)
    lines = [f"Machine: {machine()}; median of {runs} runs", ""]
    lines += [
        "Plan time vs floor (fresh interpreter each; floor = importing every module of the Pulumi",
        "SDK packages and of pydantic that the plan loaded, and nothing else)",
        "",
    ]
    lines += ["| stack | plan (s) | floor (s) | ratio |", "|---|---:|---:|---:|"]
    lines += [
        f"| {t['stack']} | {t['plan_s']:.2f} | {t['floor_s']:.2f} | {t['ratio']:.2f} |" for t in timings
    ]
    lines += [
        "",
        f"Config layer (components/model.py and its validators): importing it {config['import_ms']:.0f} ms "
        f"beyond pydantic's own import; validating the dev stack {config['validate_ms']:.1f} ms.",
        "",
        "Blast radius (resources whose inputs change; the verification Job and its objects are not",
        "counted: a new Job re-runs the checks after every change by design, shown in the last column)",
        "",
    ]
    lines += [
        "| change | stack | resources | which | data or Service touched | verification re-runs |",
        "|---|---|---:|---|---|---|",
    ]
    lines += [
        f"| {b['change']} | {b['stack']} | {b['count']} | {', '.join(b['resources'])} | "
        f"{', '.join(b['data_or_service_touched']) or 'none'} | "
        f"{'yes' if b['verification_reruns'] else 'no'} |"
        for b in blasts
    ]
    lines += ["", "Footprint (sum of requests x replicas; document = installation document minimums)", ""]
    lines += ["| stack | CPU | memory (GiB) | document CPU | document memory (GiB) | Atlas cluster |"]
    lines += ["|---|---:|---:|---:|---:|---|"]
    lines += [
        f"| {f['stack']} | {f['cpu']:.2f} | {f['memory_gib']:.2f} | {f['document_cpu']:.2f} | "
        f"{f['document_memory_gib']:.2f} | {'yes' if f['atlas_cluster'] else 'no'} |"
        for f in prints
    ]
    prod = next(f for f in prints if f["stack"] == "prod")
    ephemeral = next(f for f in prints if f["stack"] == "ephemeral")
    lines += [
        "",
        f"ephemeral / prod: CPU {ephemeral['cpu'] / prod['cpu']:.2f}, memory "
        f"{ephemeral['memory_gib'] / prod['memory_gib']:.2f} (target <= 0.5 each)",
    ]
    lines += ["", "Scale (in-process plan of dev with more Rasa instances)", ""]
    lines += ["| Rasa instances | resources | plan (ms) |", "|---:|---:|---:|"]
    lines += [f"| {p['pairs']} | {p['resources']} | {p['seconds'] * 1000:.0f} |" for p in scale["points"]]
    lines += [
        "",
        f"Per additional (project, environment) pair: {scale['per_pair_ms']:.1f} ms; "
        f"per resource: {scale['per_resource_ms']:.2f} ms. All optional services on "
        f"(0.27.5 with botfront-api, actions, 2 duckling replicas): {scale['all_optional_resources']} "
        f"resources in {scale['all_optional_services_s'] * 1000:.0f} ms.",
    ]
    data = {
        "timings": timings,
        "config": config,
        "blast_radius": blasts,
        "footprint": prints,
        "scale": scale,
        "machine": machine(),
    }
    return "\n".join(lines), data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per timing (median)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    text, data = report(args.runs)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
