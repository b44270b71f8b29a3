"""Each catalog release, with an action server, as its images need it: checked on the planned
objects and, where a script ships in a pod spec, by running that script.

The expected values here are written out from the upstream sources (cited in
components/releases.py), not computed by the code under test.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.offline import Plan
from tests.conftest import container, deployment, env_of, leaked_secrets, plan_for

RELEASES = ("1.0.5", "1.0.4", "1.0.3", "0.27.5")
ACTIONS = {"image": "ghcr.io/acme/bot-actions:2.1.0"}


def plan_of(release: str, **overrides: Any) -> Plan:
    return plan_for("dev", release=release, actions=ACTIONS, **overrides)


def pod_templates(plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment, Job and CronJob."""
    for r in plan.resources:
        if r.type == "kubernetes:apps/v1:Deployment" or r.type == "kubernetes:batch/v1:Job":
            yield r.name, r.inputs["spec"]["template"]["spec"]
        elif r.type == "kubernetes:batch/v1:CronJob":
            yield r.name, r.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]


# ---- botfront becomes Ready with the API key set ----------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_botfront_readiness_authenticates_where_health_needs_the_key(release: str) -> None:
    plan = plan_of(release)
    readiness = container(plan, "botfront")["readinessProbe"]
    assert env_of(plan, "botfront")["API_KEY"] == ("secret", "botfront-secrets", "api-key")
    if release == "1.0.5":
        # Only v1.0.5 exempts the healthCheck query from API_KEY (`isHealthcheck`).
        assert readiness["httpGet"] == {"path": "/health", "port": "http"}
        return
    command = readiness["exec"]["command"]
    assert command[:2] == ["node", "-e"] and "httpGet" not in readiness
    # The key is read from the container's environment: no value in the pod spec.
    assert "process.env.API_KEY" in command[2] and "authorization" in command[2]
    text = json.dumps(deployment(plan, "botfront"))
    assert leaked_secrets(plan, text) == []


class _Health(http.server.BaseHTTPRequestHandler):
    """Botfront's /health as apollo.js@v1.0.4 answers it: 200 only with the right key."""

    key = "the-api-key"

    def do_GET(self) -> None:
        ok = self.path == "/health" and self.headers.get("authorization") == self.key
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.skipif(subprocess.run(["which", "node"], capture_output=True).returncode != 0, reason="no node")
def test_botfront_exec_probe_passes_only_with_the_key_from_its_environment() -> None:
    script = container(plan_of("1.0.4"), "botfront")["readinessProbe"]["exec"]["command"][2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = str(server.server_address[1])

    def probe(env: dict[str, str]) -> int:
        return subprocess.run(["node", "-e", script], env=env, timeout=20, capture_output=True).returncode

    try:
        assert probe({"PORT": port, "API_KEY": "the-api-key"}) == 0
        assert probe({"PORT": port, "API_KEY": "wrong"}) == 1
        assert probe({"PORT": port}) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert probe({"PORT": port, "API_KEY": "the-api-key"}) == 1  # nothing listening


# ---- Rasa starts from its mounted files; 0.27.5 runs without a token --------------------------


def run_launcher(launcher: str, env: dict[str, str]) -> list[str]:
    """Run the planned launcher against a stand-in `rasa` package that prints its argv."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rasa").mkdir()
        (Path(tmp) / "rasa" / "__init__.py").write_text("")
        (Path(tmp) / "rasa" / "__main__.py").write_text(
            "import sys, json\ndef main():\n    print(json.dumps(sys.argv))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", launcher],
            env={"PYTHONPATH": tmp, **env},
            capture_output=True,
            text=True,
            check=True,
        )
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("release", RELEASES)
def test_rasa_starts_from_the_mounted_files(release: str) -> None:
    plan = plan_of(release)
    rasa = container(plan, "rasa")
    env = {"MODEL_PATH": "/app/models", "AUTH_TOKEN": "t0k3n"}
    argv = run_launcher(rasa["command"][2], env)
    expected = ["rasa", "run", "--enable-api", "--endpoints", "/app/endpoints.yml"]
    expected += ["--credentials", "/app/credentials.yml", "--model", "/app/models"]
    if release != "0.27.5":
        expected += ["--auth-token", "t0k3n"]
    assert argv == expected
    # Both files are there, from the stack's Rasa config Secret.
    mounts = {m["mountPath"]: m for m in rasa["volumeMounts"]}
    assert mounts["/app/endpoints.yml"] == {
        "name": "rasa-config",
        "mountPath": "/app/endpoints.yml",
        "subPath": "endpoints.yml",
        "readOnly": True,
    }
    assert mounts["/app/credentials.yml"]["subPath"] == "credentials.yml"
    volumes = {v["name"]: v for v in deployment(plan, "rasa")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["rasa-config"]["secret"]["secretName"] == "rasa-config"


def test_0_27_5_rasa_takes_no_token_so_botfront_can_train() -> None:
    # Botfront 0.27.5 sends no token on train, PUT /model and the status poll.
    plan = plan_of("0.27.5")
    assert "AUTH_TOKEN" not in env_of(plan, "rasa")
    assert "--auth-token" not in container(plan, "rasa")["command"][2]
    (instance,) = plan.outputs["rasaInstances"]
    assert instance["authTokenKey"] is None
    # And the call itself is allowed.
    assert ("botfront", 5005) in allowed(plan)[1]["rasa"]


@pytest.mark.parametrize("release", RELEASES)
def test_a_rasa_token_is_generated_and_exported_only_where_rasa_takes_one(release: str) -> None:
    plan = plan_of(release)
    passwords = {r.name for r in plan.of_type("random:index/randomPassword:RandomPassword")}
    secret = plan.get("kubernetes:core/v1:Secret", "botfront-secrets").inputs["stringData"]
    (job,) = [j for j in plan.of_type("kubernetes:batch/v1:Job") if j.name.startswith("verify")]
    (check,) = job.inputs["spec"]["template"]["spec"]["containers"]
    verify_env = {e["name"] for e in check.get("env", [])}
    if release == "0.27.5":
        # Rasa 1.10.16-bf.1 runs without --auth-token: no token anywhere, outputs absent.
        assert "secrets-rasa-auth-token" not in passwords
        assert "rasa-auth-token" not in secret
        assert "rasaAuthToken" not in plan.outputs and "rasaAuthTokens" not in plan.outputs
        assert not [name for name in verify_env if name.startswith("RASA_TOKEN")]
    else:
        assert "secrets-rasa-auth-token" in passwords
        assert secret["rasa-auth-token"] == "[secret]"
        assert {"rasaAuthToken", "rasaAuthTokens"} <= plan.secret_outputs
        assert "RASA_TOKEN_RASA" in verify_env


# ---- the smaller corrections -------------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_botfront_env_has_no_orchestrator(release: str) -> None:
    # 1.0.x reads it only as `=== 'gke'`; 0.27.5 not at all.
    assert "ORCHESTRATOR" not in env_of(plan_of(release), "botfront")


def test_0_27_5_botfront_api_runs_node_with_a_writable_home() -> None:
    plan = plan_of("0.27.5")
    api = container(plan, "botfront-api")
    assert api["command"] == ["node", "app.js"] and "args" not in api
    assert env_of(plan, "botfront-api")["HOME"] == "/tmp"
    assert {"name": "tmp", "mountPath": "/tmp"} in api["volumeMounts"]
    assert api["securityContext"]["readOnlyRootFilesystem"] is True


# ---- Rasa's API is not routed from outside -----------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_only_rasa_channel_paths_are_public(release: str) -> None:
    ingress = plan_of(release).get("kubernetes:networking.k8s.io/v1:Ingress", "rasa").inputs
    (rule,) = ingress["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/socket.io/", "/webhooks/"]
    routes = plan_of(release, platform="openshift").of_type("kubernetes:route.openshift.io/v1:Route")
    rasa_paths = sorted(r.inputs["spec"]["path"] for r in routes if r.inputs["spec"]["to"]["name"] == "rasa")
    assert rasa_paths == ["/socket.io/", "/webhooks/"]


# ---- every call the release makes is allowed, and nothing else --------------------------------


def allowed(plan: Plan) -> tuple[set[tuple[str, str, int]], dict[str, set[tuple[str, int]]]]:
    """(pod-to-pod egress (source, target, port), ingress sources per target) from the policies."""
    egress: set[tuple[str, str, int]] = set()
    ingress: dict[str, set[tuple[str, int]]] = {}
    for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        spec = r.inputs["spec"]
        labels = spec["podSelector"].get("matchLabels", {})
        # cert-manager's HTTP-01 solver pods carry no name label (components/network.py).
        selected = labels.get("app.kubernetes.io/name") or (
            "acme-solver" if "acme.cert-manager.io/http01-solver" in labels else None
        )
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                label = (peer.get("podSelector") or peer.get("namespaceSelector"))["matchLabels"]
                for port in rule["ports"]:
                    ingress.setdefault(selected, set()).add((next(iter(label.values())), port["port"]))
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                if "podSelector" in peer:
                    target = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    egress |= {(selected, target, port["port"]) for port in rule["ports"]}
    return egress, ingress


# Written out from the sources: botfront -> rasa (status, train, parse), rasa -> botfront (GraphQL
# NLG, tracker store), rasa -> actions, rasa -> duckling, actions -> botfront (BF_URL),
# botfront -> mongo; and in the cluster, the member and the backup/restore jobs -> mongo.
CALLS_1_0 = {
    ("botfront", "rasa", 5005),
    ("rasa", "botfront", 3000),
    ("rasa", "actions", 5055),
    ("rasa", "duckling", 8000),
    ("actions", "botfront", 3000),
    ("botfront", "mongo", 27017),
    ("mongo", "mongo", 27017),
    ("mongo-backup", "mongo", 27017),
    ("mongo-restore", "mongo", 27017),
}
# The verification Job (components/verify.py) calls every service it checks, on its port.
VERIFY_1_0 = {
    ("verify", "botfront", 3000),
    ("verify", "rasa", 5005),
    ("verify", "duckling", 8000),
    ("verify", "actions", 5055),
}
CALLS_1_0 |= VERIFY_1_0
# 0.27.5 adds botfront -> botfront-api (import/export) and botfront-api -> mongo.
CALLS_0_27 = CALLS_1_0 | {
    ("botfront", "botfront-api", 8080),
    ("botfront-api", "mongo", 27017),
    ("verify", "botfront-api", 8080),
}


@pytest.mark.parametrize("release", RELEASES)
def test_policies_allow_exactly_the_release_call_graph(release: str) -> None:
    expected = CALLS_0_27 if release == "0.27.5" else CALLS_1_0
    egress, ingress = allowed(plan_of(release))
    assert egress == expected
    from_pods = {
        (source, target, port)
        for target, sources in ingress.items()
        for source, port in sources
        if source != "ingress-nginx"
    }
    assert from_pods == expected
    # From outside, only the UI and Rasa (whose Ingress carries only the channel paths), and
    # cert-manager's HTTP-01 solver: dev's Ingresses name a ClusterIssuer.
    public = {
        (target, port) for target, sources in ingress.items() for s, port in sources if s == "ingress-nginx"
    }
    assert public == {("botfront", 3000), ("rasa", 5005), ("acme-solver", 8089)}


# ---- MongoDB is the fixed patch; every emptyDir is bounded -------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_mongo_is_the_fixed_patch_and_every_empty_dir_is_bounded(release: str) -> None:
    plan = plan_of(release)
    assert container(plan, "mongo")["image"] == "mongo:4.4.30"
    pods = dict(pod_templates(plan))
    assert {"botfront", "rasa", "duckling", "actions", "mongo"} <= set(pods)
    seen = 0
    for name, pod in pods.items():
        for volume in pod.get("volumes", []):
            if "emptyDir" in volume:
                seen += 1
                assert volume["emptyDir"].get("sizeLimit"), (name, volume)
    assert seen >= len(pods)


def external(plan: Plan) -> dict[str, set[int]]:
    """Ports each pod may open outside the cluster (egress rules to an ipBlock), from the policies."""
    ports: dict[str, set[int]] = {}
    for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        spec = r.inputs["spec"]
        selected = spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in spec.get("egress", []):
            if any("ipBlock" in peer for peer in rule.get("to", [])):
                ports.setdefault(selected, set()).update(p["port"] for p in rule["ports"])
    return ports


@pytest.mark.parametrize("release", RELEASES)
def test_botfront_reaches_git_over_ssh_only_where_the_release_pushes_projects_to_git(release: str) -> None:
    # Botfront 1.0.3-1.0.5 push and pull projects with nodegit, over SSH for git@host:repo URLs
    # (export.methods.js `getConnectionOpts` -> `sshKeyMemoryNew` at each tag); 0.27.5 has no git
    # integration. Webhooks (and HTTPS remotes) use 80/443. The dev stack sets no mailUrl.
    expected = {80, 443} if release == "0.27.5" else {22, 80, 443}
    ports = external(plan_of(release))
    assert ports["botfront"] == expected
    # Nobody else gets SSH: the action server keeps HTTP(S) only.
    assert ports["actions"] == {80, 443}
    assert not [pod for pod, open_ports in ports.items() if 22 in open_ports and pod != "botfront"]


def test_every_rasa_instance_is_public_on_its_channel_paths_only_and_calls_its_own_actions() -> None:
    projects = [
        {"id": "bf", "environments": ["development", "production"], "actions": ACTIONS},
        {"id": "support", "environments": ["production"], "actions": {"image": "acme/support:1.0"}},
    ]
    plan = plan_for("dev", projects=projects)
    ingresses = plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    rasa = {r.name: r.inputs["spec"]["rules"][0]["http"]["paths"] for r in ingresses if r.name != "botfront"}
    assert set(rasa) == {"rasa", "rasa-bf-production", "rasa-support-production"}
    for name, paths in rasa.items():
        assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [
            ("/socket.io/", name),
            ("/webhooks/", name),
        ]
    egress, _ = allowed(plan)
    to_actions = {(s, t) for s, t, port in egress if port == 5055}
    assert to_actions == {
        ("rasa", "actions"),
        ("rasa-bf-production", "actions"),
        ("rasa-support-production", "actions-support"),
        # The verification Job checks every action server's /health.
        ("verify", "actions"),
        ("verify", "actions-support"),
    }
