"""InClusterMongo: a single-node replica set whose URLs are secret and well formed."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pulumi
import pytest

from components.mongo import InClusterMongo, InClusterMongoArgs, connection_url
from components.settings import Resources
from ops.offline import run_components

RESOURCES = Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"})


def build(**changes: Any) -> tuple[Any, dict[str, Any]]:
    args: dict[str, Any] = {
        "namespace": "ns",
        "image": "mongo:4.4.29",
        "database_name": "bf",
        "oplog": True,
        "protect": True,
        "resources": RESOURCES,
    }
    args.update(changes)
    seen: dict[str, Any] = {}

    def body() -> None:
        db = InClusterMongo("database", InClusterMongoArgs(**args))
        seen["db"] = db

        def record(values: list[Any]) -> None:
            seen["url"], seen["url_secret"], seen["oplog"], seen["oplog_secret"] = values

        pulumi.Output.all(
            db.mongo_url,
            pulumi.Output.from_input(db.mongo_url.is_secret()),
            db.mongo_oplog_url if db.mongo_oplog_url is not None else None,
            pulumi.Output.from_input(db.mongo_oplog_url.is_secret()) if db.mongo_oplog_url else None,
        ).apply(record)

    plan = run_components(body)
    seen["plan"] = plan
    return plan, seen


def test_urls_are_secret_and_point_at_the_replica_set() -> None:
    plan, seen = build()
    assert seen["url_secret"] is True and seen["oplog_secret"] is True
    url, oplog = urlsplit(seen["url"]), urlsplit(seen["oplog"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("mongodb", "mongo", 27017, "/bf")
    assert url.query == "authSource=admin&replicaSet=rs0"
    assert oplog.path == "/local" and oplog.query == "authSource=admin&replicaSet=rs0"
    app_password = plan.get("random:index/randomPassword:RandomPassword", "database-app-password")
    assert url.username == "botfront"
    assert unquote(url.password or "") in plan.generated_secrets
    assert app_password.inputs["special"] is False


def test_no_oplog_url_when_the_oplog_is_off() -> None:
    _, seen = build(oplog=False)
    assert seen["db"].mongo_oplog_url is None


def test_password_with_reserved_characters_is_url_encoded() -> None:
    raw = "p@ss:w/rd?#%"
    captured: dict[str, str] = {}
    run_components(lambda: connection_url(raw, "bf").apply(lambda u: captured.setdefault("url", u)))
    parts = urlsplit(captured["url"])
    assert parts.hostname == "mongo" and parts.path == "/bf"
    assert unquote(parts.password or "") == raw


def test_server_runs_a_keyfile_replica_set_with_credentials_by_reference() -> None:
    plan, _ = build()
    pod = plan.get("kubernetes:apps/v1:Deployment", "mongo").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "mongo:4.4.29"
    assert container["args"] == ["--replSet", "rs0", "--bind_ip_all", "--keyFile", "/run/mongo/keyfile"]
    env = {e["name"]: e for e in container["env"]}
    # Passwords are read from the mounted Secret, never from the environment.
    assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"]["value"] == "/run/secrets/mongo/root-password"
    assert not any("valueFrom" in e for e in container["env"])
    assert not any(name.endswith("PASSWORD") for name in env)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["credentials"] == {
        "name": "credentials",
        "mountPath": "/run/secrets/mongo",
        "readOnly": True,
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["credentials"]["secret"]["secretName"] == "mongo-credentials"
    assert {i["key"] for i in volumes["credentials"]["secret"]["items"]} == {"root-password", "app-password"}
    assert env["MONGO_APP_DATABASE"]["value"] == "bf" and env["MONGO_APP_OPLOG"]["value"] == "true"
    (init,) = pod["initContainers"]
    assert "chmod 0400 /run/mongo/keyfile" in init["command"][-1]
    assert {"name": "data", "mountPath": "/data/db"} in container["volumeMounts"]
    assert "ismaster" in " ".join(container["readinessProbe"]["exec"]["command"])
    assert "rs.initiate" in container["lifecycle"]["postStart"]["exec"]["command"][-1]
    deployment = plan.get("kubernetes:apps/v1:Deployment", "mongo").inputs
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    service = plan.get("kubernetes:core/v1:Service", "mongo").inputs
    assert service["spec"]["clusterIP"] == "None"
    secret = plan.get("kubernetes:core/v1:Secret", "mongo-credentials")
    data = secret.secret_inputs["stringData"]
    assert set(data) == {"root-password", "app-password", "keyfile", "tools-config.yaml"}
    assert data["tools-config.yaml"] == f"password: {data['app-password']}\n"
    assert set(secret.inputs["stringData"].values()) == {"[secret]"}


def test_init_script_grants_read_on_local_only_with_the_oplog() -> None:
    plan, _ = build()
    script = plan.get("kubernetes:core/v1:ConfigMap", "mongo-init").inputs["data"]["create-app-user.sh"]
    assert 'role: \\"read\\", db: \\"local\\"' in script and '"$MONGO_APP_OPLOG" = "true"' in script
    # Passwords reach the shell from the mounted Secret files, never from the manifest.
    assert (
        "$(< /run/secrets/mongo/app-password)" in script and "$(< /run/secrets/mongo/root-password)" in script
    )


KEPT_WITH_THE_DATA = [
    ("kubernetes:core/v1:PersistentVolumeClaim", "mongo-data"),
    ("kubernetes:core/v1:Secret", "mongo-credentials"),
    ("random:index/randomPassword:RandomPassword", "database-root-password"),
    ("random:index/randomPassword:RandomPassword", "database-app-password"),
    ("random:index/randomPassword:RandomPassword", "database-replica-set-key"),
]


def test_data_and_the_credentials_in_it_are_protected_only_when_asked() -> None:
    protected, _ = build(protect=True)
    ephemeral, _ = build(protect=False)
    for type_, name in KEPT_WITH_THE_DATA:
        kept = protected.get(type_, name)
        assert (kept.protect, kept.retain_on_delete) == (True, True), name
        gone = ephemeral.get(type_, name)
        assert (gone.protect, gone.retain_on_delete) == (False, False), name


# ---- the bootstrap scripts, run for real against a stub `mongo` shell -----------------------------

STUB_MONGO = """#!/bin/bash
printf '%s\\n' "$@" > "$STUB_LOG/args"
cat > "$STUB_LOG/stdin"
echo "${STUB_ANSWER:-}"
"""


def run_bootstrap(tmp_path: Any, script: str, **env: str) -> tuple[str, str]:
    import os
    import stat
    import subprocess

    from components.mongo import SECRETS_DIR

    secrets, bin_dir, log = tmp_path / "secrets", tmp_path / "bin", tmp_path / "log"
    for directory in (secrets, bin_dir, log):
        directory.mkdir()
    (secrets / "root-password").write_text("R00tPw")
    (secrets / "app-password").write_text("AppPw42")
    stub = bin_dir / "mongo"
    stub.write_text(STUB_MONGO)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    # The scripts read the mounted Secret; point them at the test's copy of it.
    local = script.replace(SECRETS_DIR, str(secrets))
    assert subprocess.run(["bash", "-n", "-c", local]).returncode == 0
    result = subprocess.run(
        ["bash", "-c", local],
        env={
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "STUB_LOG": str(log),
            "MONGO_INITDB_ROOT_USERNAME": "root",
            "MONGO_APP_USERNAME": "botfront",
            "MONGO_APP_DATABASE": "bf",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return (log / "args").read_text(), (log / "stdin").read_text()


@pytest.mark.parametrize("oplog", ["true", "false"])
def test_create_app_user_script_grants_the_roles_with_passwords_on_stdin(tmp_path: Any, oplog: str) -> None:
    from components.mongo import CREATE_APP_USER

    args, stdin = run_bootstrap(tmp_path, CREATE_APP_USER, MONGO_APP_OPLOG=oplog)
    assert "R00tPw" not in args and "AppPw42" not in args  # never on a command line
    assert 'db.auth("root", "R00tPw");' in stdin
    roles = '{role: "readWrite", db: "bf"}' + (', {role: "read", db: "local"}' if oplog == "true" else "")
    assert f'db.createUser({{user: "botfront", pwd: "AppPw42", roles: [{roles}]}});' in stdin
    assert "quit(1)" in stdin  # a failed createUser fails the entrypoint


def test_initiate_script_initiates_the_set_with_its_service_host(tmp_path: Any) -> None:
    from components.mongo import INITIATE_REPLICA_SET

    args, stdin = run_bootstrap(tmp_path, INITIATE_REPLICA_SET, STUB_ANSWER="initiated")
    assert "R00tPw" not in args
    assert 'db.auth("root", "R00tPw");' in stdin
    assert 'rs.initiate({_id: "rs0", members: [{_id: 0, host: "mongo:27017"}]})' in stdin
