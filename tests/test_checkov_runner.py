"""ops/checkov.py: report parsing, the skip rule and the exit status, on synthetic reports and
manifests; and, when .venv-checkov exists, against the real checkov."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ops import checkov as runner


def entry(
    check_id: str, resource: str, file: str = "/009-deployment-rasa.yaml", **result: Any
) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "check_name": f"name of {check_id}",
        "resource": resource,
        "file_path": file,
        "check_result": {"result": "FAILED", **result},
        "guideline": "https://docs.example/" + check_id,
    }


def report(failed=(), skipped=(), passed: int = 3, resources: int = 2) -> dict[str, Any]:
    return {
        "check_type": "kubernetes",
        "results": {
            "passed_checks": [entry("CKV_K8S_8", "Deployment.ns.rasa")] * passed,
            "failed_checks": list(failed),
            "skipped_checks": list(skipped),
            "parsing_errors": [],
        },
        "summary": {"passed": passed, "resource_count": resources, "checkov_version": "3.3.30"},
    }


def test_parse_report_counts_and_locates_findings(tmp_path: Path) -> None:
    data = report(
        failed=[entry("CKV_K8S_43", "Deployment.ns.rasa")],
        skipped=[entry("CKV_K8S_35", "Deployment.ns.botfront", suppress_comment="Meteor reads env only")],
    )
    result = runner.parse_report("dev", data, tmp_path / "dev")
    assert (result.passed, result.resource_count, result.version) == (3, 2, "3.3.30")
    assert [(f.check_id, f.resource, f.file) for f in result.failed] == [
        ("CKV_K8S_43", "Deployment.ns.rasa", str(tmp_path / "dev" / "009-deployment-rasa.yaml"))
    ]
    assert result.skipped[0].reason == "Meteor reads env only"


def test_parse_report_accepts_a_list_of_reports_and_a_bare_summary(tmp_path: Path) -> None:
    result = runner.parse_report("dev", [report(passed=2), report(passed=1)], tmp_path)
    assert (result.passed, result.resource_count) == (3, 4)
    empty = runner.parse_report("dev", {"passed": 0, "failed": 0, "resource_count": 0}, tmp_path)
    assert empty.resource_count == 0
    assert runner.verdict([empty], []) == 1  # scanning nothing is a failure, not a pass


def test_verdict() -> None:
    ok = runner.parse_report("dev", report(), Path("/x"))
    bad = runner.parse_report("dev", report(failed=[entry("CKV_K8S_43", "Deployment.ns.rasa")]), Path("/x"))
    assert runner.verdict([ok], []) == 0
    assert runner.verdict([ok, bad], []) == 1
    assert runner.verdict([ok], ["too many skips"]) == 1


def write(directory: Path, name: str, obj: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump(obj))


def deployment(name: str, annotations: dict[str, str] | None = None, template: dict[str, str] | None = None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "bf", "annotations": annotations or {}},
        "spec": {
            "template": {
                "metadata": {"annotations": template or {"checksum/x": "1"}},
                "spec": {"containers": [{"name": name, "image": "x:1"}]},
            }
        },
    }


def test_skip_annotations_are_read_and_judged(tmp_path: Path) -> None:
    write(
        tmp_path,
        "1.yaml",
        deployment(
            "botfront",
            {
                "checkov.io/skip1": "CKV_K8S_35=Meteor reads MONGO_URL from env only",
                "checkov.io/skip2": "CKV_K8S_40",
                "checkov.io/skip3": "CKV_K8S_43=a=b",
                "other": "CKV_K8S_1=x",
            },
        ),
    )
    write(tmp_path, "2.yaml", deployment("rasa", template={"bridgecrew.io/skip1": "CKV_K8S_40=uid"}))
    found = {(a.obj, a.key): a for a in runner.skip_annotations(tmp_path)}
    assert set(found) == {
        ("Deployment/botfront", "checkov.io/skip1"),
        ("Deployment/botfront", "checkov.io/skip2"),
        ("Deployment/botfront", "checkov.io/skip3"),
        ("Deployment/rasa", "bridgecrew.io/skip1"),
    }
    ok = found[("Deployment/botfront", "checkov.io/skip1")]
    assert (ok.check_id, ok.problem) == ("CKV_K8S_35", None)
    assert "a reason" in (found[("Deployment/botfront", "checkov.io/skip2")].problem or "")
    assert "no other '='" in (found[("Deployment/botfront", "checkov.io/skip3")].problem or "")
    assert "pod template" in (found[("Deployment/rasa", "bridgecrew.io/skip1")].problem or "")


def skipped(check_id: str, reason: str = "because") -> dict[str, Any]:
    return entry(check_id, "Deployment.ns.x", suppress_comment=reason)


def test_at_most_three_distinct_check_ids_may_be_skipped(tmp_path: Path) -> None:
    three = [
        runner.parse_report("dev", report(skipped=[skipped("CKV_K8S_35"), skipped("CKV_K8S_40")]), tmp_path),
        runner.parse_report("prod", report(skipped=[skipped("CKV_K8S_35"), skipped("CKV_K8S_43")]), tmp_path),
    ]
    assert runner.skip_rule_problems(three, []) == []
    four = [*three, runner.parse_report("staging", report(skipped=[skipped("CKV_K8S_15")]), tmp_path)]
    (problem,) = runner.skip_rule_problems(four, [])
    assert problem.startswith(
        "4 distinct checks are skipped (CKV_K8S_15, CKV_K8S_35, CKV_K8S_40, CKV_K8S_43)"
    )


def test_declared_skips_count_even_when_the_check_would_pass(tmp_path: Path) -> None:
    write(
        tmp_path,
        "1.yaml",
        deployment("a", {f"checkov.io/skip{i}": f"CKV_K8S_{i}=reason {i}" for i in (8, 9, 10, 11)}),
    )
    (problem,) = runner.skip_rule_problems([], runner.skip_annotations(tmp_path))
    assert "4 distinct checks" in problem


def test_a_skip_without_a_reason_breaks_the_rule(tmp_path: Path) -> None:
    results = [
        runner.parse_report("dev", report(skipped=[skipped("CKV_K8S_40", runner.NO_REASON)]), tmp_path)
    ]
    (problem,) = runner.skip_rule_problems(results, [])
    assert "CKV_K8S_40 skipped on Deployment.ns.x" in problem and "without a reason" in problem


def test_render_lists_failures_and_skips(tmp_path: Path) -> None:
    result = runner.parse_report(
        "dev",
        report(
            failed=[entry("CKV_K8S_43", "Deployment.ns.rasa")], skipped=[skipped("CKV_K8S_35", "env only")]
        ),
        tmp_path,
    )
    text = runner.render([result], [], [])
    assert "== dev: 3 passed, 1 failed, 1 skipped, 2 resources" in text
    assert "FAILED  CKV_K8S_43  name of CKV_K8S_43" in text
    assert "skipped CKV_K8S_35  Deployment.ns.x: env only" in text
    assert "== skipped check IDs: 1 of at most 3: CKV_K8S_35" in text


def test_checkov_env_keeps_no_checkov_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKV_SKIP_CHECK", "CKV_K8S_43")
    monkeypatch.setenv("BC_API_KEY", "x")
    env = runner.checkov_env("/tmp/home")
    assert env["HOME"] == "/tmp/home"
    assert not any(key.startswith(("CKV_", "BC_")) for key in env)


def test_requirements_pin_checkov() -> None:
    lines = [
        line for line in runner.REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert lines == ["checkov==3.3.30"]


@pytest.mark.skipif(not (runner.VENV / "bin" / "checkov").exists(), reason=".venv-checkov not set up")
def test_real_checkov_honours_object_annotations_only(tmp_path: Path) -> None:
    """checkov 3.3.30 skips on `checkov.io/skipN: ID=reason` on the object, not on its pod template."""
    write(tmp_path, "a.yaml", deployment("a", {"checkov.io/skip1": "CKV_K8S_43=digests come later"}))
    write(tmp_path, "b.yaml", deployment("b", template={"checkov.io/skip1": "CKV_K8S_43=ignored here"}))
    result = runner.parse_report("t", runner.scan(runner.VENV / "bin" / "checkov", tmp_path), tmp_path)
    assert [(s.check_id, s.resource, s.reason) for s in result.skipped] == [
        ("CKV_K8S_43", "Deployment.bf.a", "digests come later")
    ]
    assert ("CKV_K8S_43", "Deployment.bf.b") in {(f.check_id, f.resource) for f in result.failed}
