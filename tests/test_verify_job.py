"""The verification Job in planned stacks: what it checks, that the provider awaits it, that it is
hardened, secret-free and reachable under the network policies, and when it runs again."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi_kubernetes.core.v1 import outputs

from components import verify as verification
from components.releases import CATALOG
from components.settings import parse_settings
from components.validation import ConfigError
from ops.offline import Plan
from tests import netpol
from tests.conftest import container, deployment, env_of, leaked_secrets, plan_for
from tests.loopback import http_service, json_answer, text
from tests.netpol import Pod

ACTIONS = {"image": "ghcr.io/acme/actions:1.0.0"}
JOB = "kubernetes:batch/v1:Job"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAME = "app.kubernetes.io/name"


def job(plan: Plan) -> dict[str, Any]:
    return plan.get(JOB, "verify").inputs


def job_name(plan: Plan) -> str:
    return str(job(plan)["metadata"]["name"])


def check_plan(plan: Plan) -> dict[str, Any]:
    data = plan.get("kubernetes:core/v1:ConfigMap", "verify-checks").inputs["data"]
    return json.loads(data["plan.json"])


def pod(plan: Plan) -> dict[str, Any]:
    return job(plan)["spec"]["template"]["spec"]


def allowed(plan: Plan, source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Kubernetes' rule (tests/netpol.py), both pods in the stack's namespace."""
    namespace = job(plan)["metadata"]["namespace"]
    return netpol.allowed(netpol.planned_policies(plan), Pod(namespace, source), Pod(namespace, target), port)


def pod_labels(plan: Plan, name: str) -> dict[str, str]:
    deployment = plan.get("kubernetes:apps/v1:Deployment", name).inputs
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("release", ["1.0.5", "0.27.5"])
def test_dev_stack_holds_the_job_with_every_check(release: str) -> None:
    plan = plan_for("dev", release=release, actions=ACTIONS)
    checks = check_plan(plan)
    assert checks["botfront"] == {"url": "http://botfront:3000", "apiKeyEnv": "BOTFRONT_API_KEY"}
    (rasa,) = checks["rasa"]
    assert rasa["url"] == "http://rasa:5005" and rasa["name"] == "rasa"
    assert rasa["engineio"] == {"1.0.5": 4, "0.27.5": 3}[release]
    assert checks["duckling"] == "http://duckling:8000"
    assert checks["actions"] == [{"name": "actions", "url": "http://actions:5055"}]
    assert checks["botfrontApi"] == ("http://botfront-api:8080" if release == "0.27.5" else None)
    # The token is checked exactly when Rasa runs with one, from the same key of the Secret.
    rasa_env = env_of(plan, "rasa")
    job_env = {e["name"]: e for e in container_of_job(plan)["env"]}
    if "AUTH_TOKEN" in rasa_env:
        ref = job_env[rasa["tokenEnv"]]["valueFrom"]["secretKeyRef"]
        assert ("secret", ref["name"], ref["key"]) == rasa_env["AUTH_TOKEN"]
    else:
        assert rasa["tokenEnv"] is None
    # The checks file is the module itself, and it runs with the release's own Rasa image.
    data = plan.get("kubernetes:core/v1:ConfigMap", "verify-checks").inputs["data"]
    assert "def socketio_polling" in data["checks.py"]
    assert container_of_job(plan)["image"] == CATALOG[release].rasa == container(plan, "rasa")["image"]
    assert container_of_job(plan)["command"][:4] == ["python", "-B", "/verify/checks.py", "/verify/plan.json"]


def container_of_job(plan: Plan) -> dict[str, Any]:
    (only,) = pod(plan)["containers"]
    return dict(only)


def test_engineio_revision_per_release_follows_the_pinned_python_engineio() -> None:
    # botfront/rasa-for-botfront@<tag>:poetry.lock: engineio 4.0.0 at v2.3.3-bf.3 and
    # v2.3.3-bf.3-rc.2, 3.13.2 at v2.2.5-bf.5, 3.12.1 at v1.10.16-bf.1.
    assert {v: r.engineio for v, r in CATALOG.items()} == {"1.0.5": 4, "1.0.4": 4, "1.0.3": 3, "0.27.5": 3}


@pytest.mark.parametrize("release", ["1.0.5", "0.27.5"])
def test_the_provider_awaits_the_job_and_it_fails_fast(release: str) -> None:
    plan = plan_for("dev", release=release, actions=ACTIONS)
    spec = job(plan)["spec"]
    annotations = job(plan)["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in annotations
    assert annotations["pulumi.com/replaceUnready"] == "true"
    assert spec["backoffLimit"] == 0
    # Literals on purpose: changing them must be deliberate. The Job's own deadline (image pull
    # included), 600 s, ends it before the provider stops waiting (12 minutes, below); each check
    # retries for up to 120 s inside it.
    assert spec["activeDeadlineSeconds"] == 600
    assert container_of_job(plan)["command"] == [
        "python",
        "-B",
        "/verify/checks.py",
        "/verify/plan.json",
        "--wait",
        "120",
        "--termination-log",
        "/dev/termination-log",
    ]
    assert pod(plan)["restartPolicy"] == "Never"
    resource = plan.get(JOB, "verify")
    # What the engine receives (the registration request's customTimeouts): the provider waits 12
    # minutes for create and update instead of its 10-minute default, longer than the 600 s deadline.
    assert resource.custom_timeouts == {"create": "12m", "update": "12m"}
    assert resource.delete_before_replace is True  # the replacement's name is free first
    assert resource.as_json()["options"] == {
        "customTimeouts": {"create": "12m", "update": "12m"},
        "deleteBeforeReplace": True,
    }
    # It runs after every workload (Deployments are awaited until their rollout is ready).
    deployments = {d.urn for d in plan.of_type("kubernetes:apps/v1:Deployment")}
    assert deployments and deployments <= set(resource.depends_on)
    assert {p.urn for p in plan.of_type(POLICY)} <= set(resource.depends_on)
    # The name is printed as the command that shows why it failed.
    assert plan.outputs["verifyLogs"] == f"kubectl -n botfront-dev logs job/{job_name(plan)}"
    env = {e["name"]: e.get("value") for e in container_of_job(plan)["env"]}
    assert env["VERIFY_JOB"] == job_name(plan) and env["VERIFY_NAMESPACE"] == "botfront-dev"
    assert container_of_job(plan)["terminationMessagePolicy"] == "FallbackToLogsOnError"


@pytest.mark.parametrize("release", ["1.0.5", "0.27.5"])
def test_the_job_is_hardened_like_every_pod_and_holds_no_secret(release: str) -> None:
    plan = plan_for("dev", release=release, actions=ACTIONS)
    duckling_pod = plan.get("kubernetes:apps/v1:Deployment", "duckling").inputs["spec"]["template"]["spec"]
    assert container_of_job(plan)["securityContext"] == duckling_pod["containers"][0]["securityContext"]
    assert pod(plan)["securityContext"] == duckling_pod["securityContext"]
    assert pod(plan)["automountServiceAccountToken"] is False
    assert container_of_job(plan)["securityContext"]["readOnlyRootFilesystem"] is True
    assert container_of_job(plan)["resources"]["limits"]
    secret_keys = set(plan.get("kubernetes:core/v1:Secret", "botfront-secrets").secret_inputs["stringData"])
    for env in container_of_job(plan)["env"]:
        if "valueFrom" in env:
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "botfront-secrets" and ref["key"] in secret_keys
        else:
            assert env["name"] in ("VERIFY_JOB", "VERIFY_NAMESPACE", "HOME")
    text = json.dumps([job(plan), plan.get("kubernetes:core/v1:ConfigMap", "verify-checks").secret_inputs])
    assert plan.generated_secrets
    assert leaked_secrets(plan, text) == []


@pytest.mark.parametrize("release", ["1.0.5", "0.27.5"])
def test_the_network_policies_let_it_reach_exactly_what_it_checks(release: str) -> None:
    plan = plan_for("dev", release=release, actions=ACTIONS)
    verify = dict(job(plan)["spec"]["template"]["metadata"]["labels"])
    checks = check_plan(plan)
    urls = [checks["botfront"]["url"], *(r["url"] for r in checks["rasa"]), checks["duckling"]]
    urls += [a["url"] for a in checks["actions"]] + ([checks["botfrontApi"]] if checks["botfrontApi"] else [])
    targets = {url.split("//")[1].split(":")[0]: int(url.rsplit(":", 1)[1]) for url in urls}
    assert len(targets) == (5 if release == "0.27.5" else 4)
    services = {
        s.name: s.inputs["spec"]["ports"][0]["port"] for s in plan.of_type("kubernetes:core/v1:Service")
    }
    for name, port in targets.items():
        assert services[name] == port
        assert allowed(plan, verify, pod_labels(plan, name), port), name
        assert not allowed(plan, verify, pod_labels(plan, name), port + 1), name
    # Nothing else: not the database, and no other pod gains a way in from the Job.
    assert not allowed(plan, verify, pod_labels(plan, "mongo"), 27017)
    assert not allowed(plan, pod_labels(plan, "duckling"), pod_labels(plan, "botfront"), 3000)


def test_without_network_policies_the_job_has_none_either() -> None:
    plan = plan_for("dev", networkPolicy={"enabled": False})
    assert plan.of_type(JOB) and not plan.of_type(POLICY)


def test_bumping_an_image_runs_the_checks_again_and_nothing_else_does() -> None:
    base = job_name(plan_for("dev"))
    assert base.startswith("verify-") and len(base) <= 63
    assert job_name(plan_for("dev")) == base  # an unchanged stack leaves it alone
    for images in (
        {"rasa": "botfront/rasa-for-botfront:v2.3.3-bf.5"},
        {"botfront": "botfront/botfront:v1.0.6"},
    ):
        assert job_name(plan_for("dev", images=images)) != base, images
    assert job_name(plan_for("dev", replicas={"duckling": 2})) != base
    # The in-cluster MongoDB that Botfront's /health and GraphQL checks read: a new image re-runs them.
    mongo = plan_for("dev", images={"mongo": "mongo:7.0.16"})
    assert container(mongo, "mongo")["image"] == "mongo:7.0.16"
    assert container(mongo, "mongo")["image"] != container(plan_for("dev"), "mongo")["image"]
    assert job_name(mongo) != base
    # What no workload reads (the backup schedule) does not.
    backup = {"schedule": "0 4 * * *", "retention": 7, "size": "2Gi"}
    assert job_name(plan_for("dev", backup=backup)) == base


def test_off_with_verify_false_and_in_render_mode(tmp_path: Any) -> None:
    for plan in (plan_for("dev", verify=False), plan_for("dev", renderTo=str(tmp_path))):
        assert not plan.of_type(JOB)
        assert not [r for r in plan.resources if "verify" in r.name]
        assert "verifyLogs" not in plan.outputs


def test_verify_takes_a_boolean_only() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"rootUrl": "https://botfront.example.com", "verify": "yes"}, "test")
    assert any("verify" in p and "'yes'" in p and "true or false" in p for p in info.value.problems)
    settings = parse_settings({"rootUrl": "https://botfront.example.com", "renderTo": "out"}, "test")
    assert settings.verify is False


def test_every_rasa_instance_is_checked_with_its_own_token_and_reachable() -> None:
    projects = [{"id": "bf", "environments": ["development", "production"]}]
    plan = plan_for("dev", projects=projects)
    checks = check_plan(plan)
    assert [r["name"] for r in checks["rasa"]] == ["rasa", "rasa-bf-production"]
    job_env = {e["name"]: e for e in container_of_job(plan)["env"]}
    verify = dict(job(plan)["spec"]["template"]["metadata"]["labels"])
    for rasa in checks["rasa"]:
        ref = job_env[rasa["tokenEnv"]]["valueFrom"]["secretKeyRef"]
        assert ("secret", ref["name"], ref["key"]) == env_of(plan, rasa["name"])["AUTH_TOKEN"]
        assert allowed(plan, verify, pod_labels(plan, rasa["name"]), 5005)


def _run_the_jobs_command(
    plan: Plan, tmp_path: Path, services: dict[str, str], secrets: dict[str, str]
) -> Any:
    """The Job's own command on the ConfigMap's own files, with its env (secrets from `secrets`,
    keyed by the Secret's keys) and its in-cluster URLs pointed at loopback servers."""
    data = plan.get("kubernetes:core/v1:ConfigMap", "verify-checks").inputs["data"]
    (tmp_path / "checks.py").write_text(data["checks.py"])
    plan_json = data["plan.json"]
    for name, url in services.items():
        plan_json = re.sub(rf"http://{re.escape(name)}:\d+", url, plan_json)
    (tmp_path / "plan.json").write_text(plan_json)
    spec = container_of_job(plan)
    env = {"PATH": os.environ["PATH"]}
    for item in spec["env"]:
        if "valueFrom" in item:
            env[item["name"]] = secrets[item["valueFrom"]["secretKeyRef"]["key"]]
        else:
            env[item["name"]] = item["value"]
    command = [sys.executable if part == "python" else part for part in spec["command"]]
    command = [
        part.replace("/verify/", f"{tmp_path}/").replace("/dev/termination-log", f"{tmp_path}/log")
        for part in command
    ]
    return subprocess.run([*command, "--wait", "0"], env=env, capture_output=True, text=True, timeout=60)


def _routes(status: Any, open_packet: str) -> dict[tuple[str, str], Any]:
    return {
        ("GET", "/health"): lambda r: (
            json_answer(200, '{"status": "ok"}')
            if r.headers.get("Authorization") in ("key", None)
            else text(500, "")
        ),
        ("POST", "/graphql"): lambda r: json_answer(200, '{"data":{"healthCheck":true}}'),
        ("GET", "/"): lambda r: text(200, "Hello from Rasa"),
        ("GET", "/status"): status,
        ("GET", "/socket.io/"): lambda r: text(200, open_packet),
        ("POST", "/parse"): lambda r: json_answer(200, '[{"dim": "time"}]'),
        ("GET", "/health-check"): lambda r: json_answer(200, '{"healthy": true, "version": "0.27.5"}'),
    }


# Engine.IO's polling open packet: EIO=3 frames it with its length, EIO=4 does not.
EIO3_OPEN, EIO4_OPEN = '31:0{"sid":"s","upgrades":["websocket"]}', '0{"sid":"s","upgrades":["websocket"]}'
NAMES = ("botfront", "rasa", "duckling", "actions", "botfront-api")


def test_the_jobs_command_runs_the_shipped_checks_without_a_token_on_0_27_5(tmp_path: Path) -> None:
    plan = plan_for("dev", release="0.27.5", actions=ACTIONS)
    # Rasa 1.10 started without --auth-token answers /status with 409 until a model is loaded
    # (rasa/server.py `ensure_loaded_agent`); a token in the query would mean the Job sends one.
    status = lambda r: json_answer(401 if "token=" in r.path else 409, '{"message": "No agent loaded"}')  # noqa: E731
    with http_service(_routes(status, EIO3_OPEN)) as fake:
        ok = _run_the_jobs_command(
            plan, tmp_path, dict.fromkeys(NAMES, fake.url), {"api-key": "key", "rasa-auth-token": "tok"}
        )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all 8 checks passed" in ok.stdout


def test_the_jobs_command_names_a_stale_rasa_token_without_showing_it(tmp_path: Path) -> None:
    plan = plan_for("dev", release="1.0.5", actions=ACTIONS)
    status = lambda r: json_answer(200 if "token=tok" in r.path else 401, '{"model_file": null}')  # noqa: E731
    with http_service(_routes(status, EIO4_OPEN)) as fake:
        ok = _run_the_jobs_command(
            plan, tmp_path, dict.fromkeys(NAMES, fake.url), {"api-key": "key", "rasa-auth-token": "tok"}
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "all 7 checks passed" in ok.stdout
        bad = _run_the_jobs_command(
            plan,
            tmp_path,
            dict.fromkeys(NAMES, fake.url),
            {"api-key": "key", "rasa-auth-token": "stale-token-value"},
        )
    assert bad.returncode == 1
    assert "FAIL rasa: /status" in bad.stdout and "stale-token-value" not in bad.stdout + summary_text(
        tmp_path
    )
    summary = (tmp_path / "log").read_text()
    assert summary.startswith("1 of 7 checks failed:")
    assert summary.endswith(f"Every check's result: kubectl -n botfront-dev logs job/{job_name(plan)}")


def summary_text(directory: Path) -> str:
    return (directory / "log").read_text()


def test_the_job_name_digest_is_that_of_the_json_list_of_its_parts() -> None:
    """Each spec is serialised on its own (components/verify.py digest); the name must stay the
    digest of the whole JSON list, so a stack planned before that change keeps its Job."""
    # An output type whose `items` property shadows dict.items, as the provider's specs hold.
    volume = outputs.ConfigMapVolumeSource(items=[outputs.KeyToPath(key="a", path="b")], name="n")
    parts: list[Any] = [{"b": [1, (2, 3)], "a": {"z": None, "y": 1.5}}, volume, "rasa:1", "text"]
    # Golden, computed once: the first 10 hex digits of the SHA-256 of this text (the JSON list of
    # the parts, keys sorted, json.dumps's separators). Changing it renames every stack's Job.
    whole = (
        '[{"a": {"y": 1.5, "z": null}, "b": [1, [2, 3]]}, '
        '{"items": [{"key": "a", "path": "b"}], "name": "n"}, "rasa:1", "text"]'
    )
    assert hashlib.sha256(whole.encode()).hexdigest()[:10] == "2da3dbb47f"
    assert verification.digest([verification.as_json(p) for p in parts]) == "2da3dbb47f"


def test_a_placement_with_match_expressions_still_names_the_job() -> None:
    """A Deployment spec holding `values` (a selector requirement's property, which shadows
    dict.values on the SDK's output types) used to crash the digest: TypeError at plan time."""
    terms = [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["bots"]}]}]
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
    }
    plan = plan_for("dev", placement={"default": {"affinity": affinity}})
    node = deployment(plan, "botfront")["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == terms
    assert job_name(plan).startswith("verify-") and job_name(plan) != job_name(plan_for("dev"))
