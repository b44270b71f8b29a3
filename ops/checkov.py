"""Run checkov over the offline plan's Kubernetes manifests and enforce the skip rule.

    .venv/bin/python -m ops.checkov --stack dev [--stack ephemeral ...]
    .venv/bin/python -m ops.checkov --all

For each stack: plan it offline (`python -m ops.plan --stack S`, which writes build/S/), scan
build/S/ with checkov's Kubernetes checks, and print passed/failed counts and every failed check.

checkov pins old versions of many libraries, so it lives in its own virtualenv, `.venv-checkov`,
created (or refreshed when ops/checkov-requirements.txt changes) on first use.

Skip rule: a check may be skipped only by an annotation on the object itself,
`checkov.io/skip<N>: CKV_K8S_<id>=<reason>`, with a reason, and at most three distinct check IDs
may be skipped across all the stacks scanned (`--all` scans every stack file). checkov is run with
a clean environment, an empty HOME and working directory, and no --skip-check, so no config file
or CKV_* variable can skip a check behind the rule's back.

Exit status: 0 when every check passed and the skip rule holds; 1 when a check failed or the
skip rule is broken; 2 when the plan, the virtualenv or checkov itself failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-checkov"
REQUIREMENTS = ROOT / "ops" / "checkov-requirements.txt"
BUILD = ROOT / "build"
MAX_SKIPPED_IDS = 3
# Annotation keys checkov reads skips from (checkov/kubernetes/kubernetes_utils.py).
SKIP_ANNOTATION_PREFIXES = ("checkov.io/skip", "bridgecrew.io/skip", "cortex.io/skip")
# checkov splits the value on "=", so a reason may not contain one.
_SKIP_VALUE = re.compile(r"^(?P<id>CKV2?_K8S_\d+)=(?P<reason>[^=]*[^=\s][^=]*)$")
NO_REASON = "No comment provided"  # what checkov records for a skip without "=reason"
# Environment passed to checkov: nothing else, so no CKV_*/BC_* variable changes what runs.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")


class RunnerError(Exception):
    """The plan, the virtualenv or checkov failed: no verdict on the manifests."""


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    file: str  # relative to the repository
    reason: str = ""  # the suppress comment of a skipped check
    guideline: str = ""


@dataclass
class StackResult:
    stack: str
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)
    resource_count: int = 0
    version: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class SkipAnnotation:
    file: str
    obj: str  # Kind/name
    key: str
    value: str
    check_id: str | None  # None when the value is malformed
    problem: str | None  # why the annotation breaks the rule


# ---------------------------------------------------------------------------------------------
# The checkov virtualenv


def requirements_digest(requirements: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_checkov(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> Path:
    """The checkov executable of `venv`, creating or refreshing the virtualenv when needed."""
    checkov = venv / "bin" / "checkov"
    stamp = venv / ".requirements.sha256"
    digest = requirements_digest(requirements)
    if checkov.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return checkov
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            print(f"Creating {_rel(venv)} for checkov ...", file=sys.stderr)
            base = shutil.which("python3") or sys.executable
            subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        print(f"Installing {_rel(requirements)} into {_rel(venv)} ...", file=sys.stderr)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as error:
        raise RunnerError(f"could not set up {_rel(venv)}:\n{error.stdout}{error.stderr}") from error
    if not checkov.exists():
        raise RunnerError(f"{_rel(checkov)} is missing after installing {_rel(requirements)}")
    stamp.write_text(digest + "\n")
    return checkov


# ---------------------------------------------------------------------------------------------
# Plan and scan


def plan(stack: str) -> Path:
    """Write build/<stack>/ with the offline plan; the directory to scan."""
    result = subprocess.run(
        [sys.executable, "-m", "ops.plan", "--stack", stack], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RunnerError(f"offline plan of {stack} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return BUILD / stack


def checkov_env(home: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    env["HOME"] = home
    env["PYTHONWARNINGS"] = "ignore"
    return env


def scan(checkov: Path, directory: Path) -> Any:
    """checkov's JSON report for `directory` (Kubernetes framework, all checks, no skips by flag)."""
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        command = [
            str(checkov),
            "--directory",
            str(directory.resolve()),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            # --quiet would drop passed and skipped checks from the JSON report, which the skip
            # rule needs; --compact drops code blocks.
            "--compact",
            "--skip-download",
        ]
        result = subprocess.run(
            command, cwd=scratch, env=checkov_env(scratch), capture_output=True, text=True
        )
    # 0: all passed, 1: some failed; anything else is checkov failing.
    if result.returncode not in (0, 1):
        raise RunnerError(f"checkov exited {result.returncode}:\n{result.stderr[-3000:]}")
    try:
        return json.loads(result.stdout)
    except ValueError as error:
        raise RunnerError(
            f"checkov printed no JSON report:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        ) from error


def _rel(path: Path) -> str:
    path = path.resolve() if path.is_absolute() else path
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _finding(entry: Mapping[str, Any], directory: Path) -> Finding:
    result = entry.get("check_result") or {}
    file_path = str(entry.get("file_path") or "").lstrip("/")
    return Finding(
        check_id=str(entry.get("check_id", "")),
        check_name=str(entry.get("check_name", "")),
        resource=str(entry.get("resource", "")),
        file=_rel(directory / file_path) if file_path else _rel(directory),
        reason=str(result.get("suppress_comment") or "") if isinstance(result, Mapping) else "",
        guideline=str(entry.get("guideline") or ""),
    )


def parse_report(stack: str, data: Any, directory: Path) -> StackResult:
    """A StackResult from checkov's JSON: one report object, or a list of them (one per framework)."""
    reports = data if isinstance(data, list) else [data]
    outcome = StackResult(stack)
    for report in reports:
        if not isinstance(report, Mapping):
            raise RunnerError(f"unexpected checkov report: {str(report)[:200]}")
        summary = report.get("summary", report)  # with nothing to scan checkov prints a bare summary
        outcome.version = str(summary.get("checkov_version", outcome.version))
        outcome.resource_count += int(summary.get("resource_count", 0) or 0)
        results = report.get("results") or {}
        outcome.passed += len(results.get("passed_checks") or [])
        outcome.failed += [_finding(e, directory) for e in results.get("failed_checks") or []]
        outcome.skipped += [_finding(e, directory) for e in results.get("skipped_checks") or []]
        outcome.parsing_errors += [str(p) for p in results.get("parsing_errors") or []]
    return outcome


# ---------------------------------------------------------------------------------------------
# The skip rule


def _pod_template_metadata(obj: Mapping[str, Any]) -> Any:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return None
    template = spec.get("template")
    if not isinstance(template, Mapping):
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, Mapping) else None
        template = job_spec.get("template") if isinstance(job_spec, Mapping) else None
    return template.get("metadata") if isinstance(template, Mapping) else None


def _skip_annotations(metadata: Any) -> Iterable[tuple[str, str]]:
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return []
    return [
        (str(k), str(v)) for k, v in annotations.items() if any(p in str(k) for p in SKIP_ANNOTATION_PREFIXES)
    ]


def skip_annotations(directory: Path) -> list[SkipAnnotation]:
    """Every skip annotation in the manifests of `directory`, each with the problem it has, if any."""
    found = []
    for path in sorted(directory.glob("*.y*ml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if not isinstance(obj, Mapping):
                continue
            metadata = obj.get("metadata")
            name = metadata.get("name") if isinstance(metadata, Mapping) else None
            label = f"{obj.get('kind')}/{name}"
            for key, value in _skip_annotations(metadata):
                match = _SKIP_VALUE.match(value.strip())
                problem = None
                if not match:
                    problem = (
                        "must read CKV_K8S_<n>=<reason> (one check, a reason, no other '=' — checkov "
                        "splits on '=')"
                    )
                found.append(
                    SkipAnnotation(
                        _rel(path), label, key, value, match.group("id") if match else None, problem
                    )
                )
            for key, value in _skip_annotations(_pod_template_metadata(obj)):
                found.append(
                    SkipAnnotation(
                        _rel(path),
                        label,
                        key,
                        value,
                        None,
                        "is on the pod template, where checkov ignores it: annotate the object itself",
                    )
                )
    return found


def skip_rule_problems(
    results: Sequence[StackResult], annotations: Sequence[SkipAnnotation], limit: int = MAX_SKIPPED_IDS
) -> list[str]:
    problems = []
    for a in annotations:
        if a.problem:
            problems.append(f"{a.file}: {a.obj} annotation {a.key}: {a.value!r} {a.problem}")
    for result in results:
        for s in result.skipped:
            if not s.reason.strip() or s.reason == NO_REASON:
                problems.append(
                    f"{result.stack}: {s.check_id} skipped on {s.resource} ({s.file}) without a reason"
                )
    ids = sorted(
        {s.check_id for r in results for s in r.skipped} | {a.check_id for a in annotations if a.check_id}
    )
    if len(ids) > limit:
        problems.append(
            f"{len(ids)} distinct checks are skipped ({', '.join(ids)}); at most {limit} may be: "
            "fix the objects instead of skipping more checks"
        )
    return problems


# ---------------------------------------------------------------------------------------------
# Report


def render(
    results: Sequence[StackResult], annotations: Sequence[SkipAnnotation], problems: Sequence[str]
) -> str:
    lines = []
    for r in results:
        lines.append(
            f"== {r.stack}: {r.passed} passed, {len(r.failed)} failed, {len(r.skipped)} skipped, "
            f"{r.resource_count} resources (checkov {r.version or '?'}, {r.seconds:.1f}s)"
        )
        for f in sorted(r.failed, key=lambda f: (f.check_id, f.resource)):
            lines.append(f"  FAILED  {f.check_id:<11} {f.check_name}")
            lines.append(f"          {f.resource}  {f.file}")
        for s in sorted(r.skipped, key=lambda s: (s.check_id, s.resource)):
            lines.append(f"  skipped {s.check_id:<11} {s.resource}: {s.reason}")
        for p in r.parsing_errors:
            lines.append(f"  PARSE ERROR {p}")
    ids = sorted(
        {s.check_id for r in results for s in r.skipped} | {a.check_id for a in annotations if a.check_id}
    )
    lines.append(
        f"== skipped check IDs: {len(ids)} of at most {MAX_SKIPPED_IDS}{': ' + ', '.join(ids) if ids else ''}"
    )
    for p in problems:
        lines.append(f"  SKIP RULE: {p}")
    return "\n".join(lines)


def verdict(results: Sequence[StackResult], problems: Sequence[str]) -> int:
    failed = any(r.failed or r.parsing_errors for r in results)
    empty = [r.stack for r in results if r.resource_count == 0]
    if empty:
        print(f"checkov scanned no Kubernetes objects in: {', '.join(empty)}", file=sys.stderr)
    return 1 if failed or problems or empty else 0


def all_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", default=[], help="stack to scan (repeatable)")
    parser.add_argument("--all", action="store_true", help="scan every stacks/Pulumi.<stack>.yaml")
    parser.add_argument(
        "--no-plan", action="store_true", help="scan the existing build/<stack>/ without planning"
    )
    args = parser.parse_args(argv)
    stacks = all_stacks() if args.all else list(dict.fromkeys(args.stack))
    if not stacks:
        parser.error("give --stack STACK (repeatable) or --all")

    started = time.monotonic()
    results: list[StackResult] = []
    annotations: list[SkipAnnotation] = []
    try:
        checkov = ensure_checkov()
        for stack in stacks:
            begun = time.monotonic()
            directory = BUILD / stack if args.no_plan else plan(stack)
            if not directory.is_dir():
                raise RunnerError(f"{_rel(directory)} does not exist: run without --no-plan")
            declared = skip_annotations(directory)
            annotations += declared
            try:
                data = scan(checkov, directory)
            except RunnerError as error:
                malformed = [
                    f"{a.file}: {a.obj} {a.key}: {a.value!r} {a.problem}" for a in declared if a.problem
                ]
                raise RunnerError("\n".join([str(error), *malformed])) from error
            result = parse_report(stack, data, directory)
            result.seconds = time.monotonic() - begun
            results.append(result)
    except RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    problems = skip_rule_problems(results, annotations)
    print(render(results, annotations, problems))
    status = verdict(results, problems)
    failed = sum(len(r.failed) for r in results)
    print(
        f"\n{'FAILED' if status else 'OK'}: {failed} failed checks, {len(problems)} skip-rule problems "
        f"over {len(results)} stacks in {time.monotonic() - started:.1f}s"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
