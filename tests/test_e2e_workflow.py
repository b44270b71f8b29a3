"""The e2e workflow: its generated stack plans cleanly offline, it triggers on the label and
nightly, and `pulumi destroy` runs whatever happened."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

from ops.offline import load_stack_config, run_program
from ops.plan import schema_errors
from tests.conftest import project_root

WORKFLOW = project_root() / ".github" / "workflows" / "e2e.yml"
MIRRORS = Path("/work/.mirror")


def workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def steps() -> dict[str, dict[str, Any]]:
    return {step.get("name", step.get("uses")): step for step in workflow()["jobs"]["e2e"]["steps"]}


def e2e_config() -> dict[str, Any]:
    """The stack file the workflow writes, with the workflow's env substituted."""
    script = steps()["Create the e2e stack on a local backend"]["run"]
    match = re.search(r'cat > "stacks/Pulumi\.\$STACK\.yaml" <<EOF\n(.*?)\nEOF\n', script, re.S)
    assert match, "the stack file heredoc moved"
    text = Template(match.group(1)).substitute(workflow()["env"])
    config = yaml.safe_load(text)["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items()}


def test_the_generated_e2e_stack_plans_with_the_verification_job() -> None:
    config = e2e_config()
    dev_keys = {k.split(":", 1)[1] for k in load_stack_config("dev")[0] if k.startswith("botfront:")}
    # Plan it on its own: every key of the dev file that the e2e file does not set is removed.
    overrides: dict[str, Any] = {key: None for key in dev_keys - set(config)} | config
    plan = run_program("dev", overrides)
    objects = [r for r in plan.resources if r.is_kubernetes_object]
    assert {r.name: schema_errors(r.inputs) for r in objects if schema_errors(r.inputs)} == {}
    assert plan.of_type("kubernetes:batch/v1:Job")
    assert not [r.name for r in plan.resources if r.protect]  # destroy removes everything
    assert plan.outputs["botfrontUrl"] == "https://botfront.e2e.test"
    ingresses = plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert {i.inputs["spec"]["tls"][0]["secretName"] for i in ingresses} == {"botfront-e2e-tls"}
    hosts = {i.inputs["spec"]["rules"][0]["host"] for i in ingresses}
    script = steps()["Hosts and a certificate authority for this run"]["run"]
    assert hosts == {"botfront.e2e.test", "rasa.botfront.e2e.test"}
    assert "$BOTFRONT_HOST $RASA_HOST" in script and "DNS:%s,DNS:%s" in script


def test_it_runs_on_the_label_and_nightly_and_always_destroys() -> None:
    on = workflow()[True]  # YAML 1.1 reads the key `on` as a boolean
    assert "schedule" in on and "labeled" in on["pull_request"]["types"]
    assert "'e2e'" in workflow()["jobs"]["e2e"]["if"]
    named = steps()
    assert named["pulumi up (runs the verification Job)"]["run"].startswith("pulumi up --yes")
    assert "python -m ops.verify --stack" in named["python -m ops.verify (outside in)"]["run"]
    destroy = named["pulumi destroy (always)"]
    assert destroy["if"].startswith("always()") and "pulumi destroy --yes" in destroy["run"]
    order = list(named)
    assert order.index("pulumi up (runs the verification Job)") < order.index("pulumi destroy (always)")
    # Every action is pinned to a commit, as in the other workflows (its release tag in the trailing
    # comment: tests/test_workflows.py checks both).
    for step in named.values():
        if "uses" in step:
            assert re.search(r"@[0-9a-f]{40}$", step["uses"]), step["uses"]
    # So is kind itself (kindnet enforces NetworkPolicy since kind v0.24.0; the Job's policies
    # are under test), not left to kind-action's default.
    kind = named["Create the kind cluster"]
    version = re.fullmatch(r"v0\.(\d+)\.(\d+)", kind["with"]["version"])
    assert version and int(version.group(1)) >= 24, kind["with"]


def test_kubectl_is_pinned_within_one_minor_of_the_kind_node() -> None:
    # kind-action's kubectl default follows its own kind default (helm/kind-action@v1.14.0:kind.sh
    # DEFAULT_KUBECTL_VERSION=v1.35.0), not the kind version pinned here; kubectl is supported
    # within one minor of the API server (ASSUMPTION: Kubernetes' version-skew policy).
    given = steps()["Create the kind cluster"]["with"]
    kubectl = re.fullmatch(r"v1\.(\d+)\.\d+", given.get("kubectl_version", ""))
    assert kubectl, given
    git_dir = MIRRORS / "kubernetes-sigs+kind" / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no mirror of kubernetes-sigs/kind at {git_dir} (CI has none): node image unchecked")
    spec = f"{given['version']}:pkg/apis/config/defaults/image.go"
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", spec], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    node = re.search(r'Image = "kindest/node:v1\.(\d+)\.\d+', shown.stdout)
    assert node, shown.stdout
    assert abs(int(kubectl.group(1)) - int(node.group(1))) <= 1, (given, node.group(0))
