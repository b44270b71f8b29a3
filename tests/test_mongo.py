"""InClusterMongo: a single-node replica set whose URLs are secret and well formed."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pulumi
import pytest

from components.mongo import InClusterMongo, InClusterMongoArgs, connection_url
from components.releases import MONGO_IMAGE
from components.settings import Resources
from ops.offline import run_components

RESOURCES = Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"})


def build(**changes: Any) -> tuple[Any, dict[str, Any]]:
    args: dict[str, Any] = {
        "namespace": "ns",
        "image": MONGO_IMAGE,
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
    assert container["image"] == "mongo:4.4.30"  # CVE-2025-14847 is fixed in 4.4.30
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
    assert init["command"][:2] == ["sh", "-c"] and "mv -f" in init["command"][2]
    # Every emptyDir is bounded; the key file's holds one small file.
    empty_dirs = {v["name"]: v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v}
    assert empty_dirs == {
        "keyfile": {"sizeLimit": "1Mi"},
        "tmp": {"sizeLimit": "64Mi"},
        "writable-data-configdb": {"sizeLimit": "64Mi"},
    }
    assert {"name": "data", "mountPath": "/data/db"} in container["volumeMounts"]
    assert "ismaster" in " ".join(container["readinessProbe"]["exec"]["command"])
    post_start = container["lifecycle"]["postStart"]["exec"]["command"][-1]
    assert "rs.initiate" in post_start and "db.createUser" in post_start
    # Nothing left for the image's first-start hook: the user is ensured on every start.
    assert not plan.of_type("kubernetes:core/v1:ConfigMap")
    assert not any(m["mountPath"] == "/docker-entrypoint-initdb.d" for m in container["volumeMounts"])
    assert not any(e["name"].startswith("MONGO_BOOTSTRAP") for e in container["env"])  # defaults apply
    deployment = plan.get("kubernetes:apps/v1:Deployment", "mongo").inputs
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    service = plan.get("kubernetes:core/v1:Service", "mongo").inputs
    assert service["spec"]["clusterIP"] == "None"
    secret = plan.get("kubernetes:core/v1:Secret", "mongo-credentials")
    data = secret.secret_inputs["stringData"]
    assert set(data) == {"root-password", "app-password", "keyfile", "tools-config.yaml"}
    assert data["tools-config.yaml"] == f"password: {data['app-password']}\n"
    assert set(secret.inputs["stringData"].values()) == {"[secret]"}


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


# ---- the bootstrap scripts, run for real --------------------------------------------------------

# A stand-in `mongo` shell: records its arguments and stdin, and answers the next of STUB_ANSWERS
# (the last one again once they run out), as the real shell prints what the script prints.
STUB_MONGO = """#!/bin/bash
printf '%s\\n' "$@" > "$STUB_LOG/args"
cat >> "$STUB_LOG/stdin"
count=$(( $(cat "$STUB_LOG/calls" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$STUB_LOG/calls"
[ "$STUB_ANSWERS" = hang ] && exec sleep 60
set -- $STUB_ANSWERS
[ "$count" -le "$#" ] && shift $(( count - 1 )) || shift $(( $# - 1 ))
echo "$1"
"""


def planned_post_start() -> str:
    plan, _ = build()
    pod = plan.get("kubernetes:apps/v1:Deployment", "mongo").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["postStart"]["exec"]["command"]
    assert command[:2] == ["bash", "-c"]
    return str(command[2])


def run_bootstrap(
    tmp_path: Any, answers: str, wrap: tuple[str, ...] = (), **env: str
) -> tuple[Any, str, str, int]:
    """The planned postStart script against the stub shell: (result, args, stdin, shell calls).
    `wrap` is a command to run it under (strace)."""
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
    # The script reads the mounted Secret; point it at the test's copy of it.
    local = planned_post_start().replace(SECRETS_DIR, str(secrets))
    result = subprocess.run(
        [*wrap, "bash", "-c", local],
        env={
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "STUB_LOG": str(log),
            "STUB_ANSWERS": answers,
            "MONGO_INITDB_ROOT_USERNAME": "root",
            "MONGO_APP_USERNAME": "botfront",
            "MONGO_APP_DATABASE": "bf",
            "MONGO_APP_OPLOG": "true",
            "MONGO_BOOTSTRAP_INTERVAL": "0.05",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    calls = int((log / "calls").read_text()) if (log / "calls").exists() else 0
    stdin = (log / "stdin").read_text() if (log / "stdin").exists() else ""
    args = (log / "args").read_text() if (log / "args").exists() else ""
    return result, args, stdin, calls


@pytest.mark.parametrize("oplog", ["true", "false"])
def test_post_start_initiates_the_set_then_ensures_the_user(tmp_path: Any, oplog: str) -> None:
    result, args, stdin, calls = run_bootstrap(
        tmp_path, "initiating waiting bootstrapped", MONGO_APP_OPLOG=oplog
    )
    assert result.returncode == 0, result.stderr
    assert calls == 3  # it keeps going until the member is primary and the user is ensured
    assert "R00tPw" not in args and "AppPw42" not in args  # never on a command line
    assert 'db.auth("root", "R00tPw");' in stdin
    assert 'rs.initiate({_id: "rs0", members: [{_id: 0, host: "mongo:27017"}]});' in stdin
    roles = '{role: "readWrite", db: "bf"}' + (', {role: "read", db: "local"}' if oplog == "true" else "")
    assert f'var user = {{pwd: "AppPw42", roles: [{roles}]}};' in stdin
    # Created when missing, reset to the stack's password and roles when present.
    assert 'db.createUser(Object.assign({user: "botfront"}, user));' in stdin
    assert 'db.updateUser("botfront", user);' in stdin


def test_post_start_passes_the_passwords_through_no_here_document() -> None:
    # bash 5.0 (the mongo:4.4 image's) backs a here-document and a here-string with a temporary
    # file under $TMPDIR or /tmp; the passwords must only ever travel through a pipe.
    script = planned_post_start()
    assert "<<" not in script
    assert "printf '%s\\n' \"$script\" | timeout" in script


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to watch the files opened")
def test_post_start_creates_no_file(tmp_path: Any) -> None:
    # Every file any process of the hook opens for writing, under an empty TMPDIR; only the stub
    # shell's own log (the test's stand-in) and /dev/null may be written.
    trace, tmpdir = tmp_path / "trace", tmp_path / "tmpdir"
    tmpdir.mkdir()
    wrap = ("strace", "-f", "-qq", "-e", "trace=open,openat,creat,mkdir,mkdirat", "-o", str(trace))
    result, _, stdin, _ = run_bootstrap(tmp_path, "bootstrapped", wrap=wrap, TMPDIR=str(tmpdir))
    assert result.returncode == 0, result.stderr
    assert "AppPw42" in stdin  # the stub did get the password, on its stdin
    log = str(tmp_path / "log")
    written = [
        line
        for line in trace.read_text().splitlines()
        if re.search(r"O_WRONLY|O_RDWR|O_CREAT|mkdir", line)
        and not re.search(rf'"({re.escape(log)}/|/dev/)', line)
    ]
    assert written == []
    assert list(tmpdir.iterdir()) == []


def test_post_start_fails_loudly_when_the_set_never_comes_up(tmp_path: Any) -> None:
    import time

    started = time.monotonic()
    result, _, _, calls = run_bootstrap(tmp_path, "waiting", MONGO_BOOTSTRAP_ATTEMPTS="4")
    assert result.returncode != 0  # a failed postStart hook: the kubelet restarts the container
    assert calls == 4 and time.monotonic() - started < 10
    assert "gave up after 4 attempts" in result.stderr


def test_post_start_fails_when_the_shell_cannot_connect(tmp_path: Any) -> None:
    # A shell that prints nothing (connection refused goes to stderr, which is dropped).
    result, _, _, calls = run_bootstrap(tmp_path, "", MONGO_BOOTSTRAP_ATTEMPTS="2")
    assert result.returncode != 0 and calls == 2


# The init container runs as a non-root user without capabilities. As root, the test drops to
# uid 65534 with setpriv (no groups, no capabilities, no new privileges); as any other user, it
# runs the script as that user, who has no capabilities either: a developer's run covers it too.
UNPRIVILEGED = 65534 if os.geteuid() == 0 else os.geteuid()


def _keyfile_sandbox() -> tuple[Any, Any, Any]:
    """A source dir with a key, and an empty dir owned by the unprivileged user standing in for
    the emptyDir."""
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="keyfile-", dir="/tmp"))
    root.chmod(0o755)
    source, target = root / "source", root / "target"
    source.mkdir(mode=0o755)
    target.mkdir(mode=0o755)
    (source / "keyfile").write_text("k" * 756)
    (source / "keyfile").chmod(0o644)
    if os.geteuid() == 0:
        os.chown(target, UNPRIVILEGED, UNPRIVILEGED)
    return root, source, target


def _run_unprivileged(script: str) -> Any:
    import subprocess

    drop: list[str] = []
    if os.geteuid() == 0:
        # No root, no supplementary groups, no capabilities at all: like the init container.
        drop = [
            "setpriv",
            f"--reuid={UNPRIVILEGED}",
            f"--regid={UNPRIVILEGED}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ]
    return subprocess.run([*drop, "sh", "-c", script], capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="as root, needs setpriv to drop privileges"
)
def test_keyfile_init_container_is_idempotent_for_a_user_without_capabilities() -> None:
    import stat

    from components.mongo import KEYFILE_DIR, KEYFILE_SOURCE

    plan, _ = build()
    pod = plan.get("kubernetes:apps/v1:Deployment", "mongo").inputs["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][:2] == ["sh", "-c"]
    root, source, target = _keyfile_sandbox()
    try:
        script = init["command"][2].replace(KEYFILE_SOURCE, str(source)).replace(KEYFILE_DIR, str(target))
        # The first start, then the re-run over the kept emptyDir after a pod-sandbox restart.
        for run in (1, 2):
            result = _run_unprivileged(script)
            assert result.returncode == 0, (run, result.stderr)
            key = target / "keyfile"
            assert stat.S_IMODE(key.stat().st_mode) == 0o400 and key.stat().st_uid == UNPRIVILEGED
            assert key.read_text() == "k" * 756
            assert sorted(p.name for p in target.iterdir()) == ["keyfile"]
        # A rotated key reaches the file on the next run.
        (source / "keyfile").write_text("r" * 756)
        assert _run_unprivileged(script).returncode == 0
        assert (target / "keyfile").read_text() == "r" * 756
        # The old command fails exactly there: `cp` onto the kept 0400 file.
        old = f"cp {source}/keyfile {target}/keyfile && chmod 0400 {target}/keyfile"
        assert _run_unprivileged(old).returncode != 0
    finally:
        shutil.rmtree(root)


def test_post_start_is_bounded_even_when_the_shell_hangs(tmp_path: Any) -> None:
    import time

    started = time.monotonic()
    result, _, _, calls = run_bootstrap(
        tmp_path, "hang", MONGO_BOOTSTRAP_ATTEMPTS="2", MONGO_BOOTSTRAP_CALL_TIMEOUT="1"
    )
    assert result.returncode != 0 and calls == 2
    assert time.monotonic() - started < 10


def test_database_name_record_is_a_child_that_keeps_its_top_level_urn() -> None:
    plan, _ = build()
    record = plan.get("random:index/randomId:RandomId", "database-name-record")
    database = plan.get("botfront:mongo:InClusterMongo", "database")
    assert record.parent == database.urn
    # Stacks deployed before it moved recorded it with no parent: the alias names that URN, so
    # the engine carries the record (and the first database name in it) over instead of replacing it.
    assert record.aliases == [{"spec": {"noParent": True}}]
    assert record.inputs["keepers"] == {"database": "bf"}


# ---- the runbooks' mongo shell snippets, run for real ------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
SNIPPET = re.compile(r"kubectl -n \$NS exec deploy/mongo -- bash -c '(.*?)'\n", re.S)


def test_documented_mongo_snippets_pipe_the_passwords_and_write_no_file(tmp_path: Any) -> None:
    import subprocess

    from components.mongo import SECRETS_DIR

    snippets = [
        s for doc in ("runbook.md", "backup-restore.md") for s in SNIPPET.findall((DOCS / doc).read_text())
    ]
    assert len(snippets) == 2  # the password change and the restore check
    secrets, bin_dir, log = tmp_path / "secrets", tmp_path / "bin", tmp_path / "log"
    for directory in (secrets, bin_dir, log):
        directory.mkdir()
    (secrets / "root-password").write_text("R00tPw")
    (secrets / "app-password").write_text("AppPw42")
    (bin_dir / "mongo").write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_LOG/args"\ncat > "$STUB_LOG/stdin"\n'
    )
    (bin_dir / "mongo").chmod(0o755)
    sent = []
    for snippet in snippets:
        assert "<<" not in snippet  # no here-document or here-string: a temp file in bash 5.0
        result = subprocess.run(
            ["bash", "-c", snippet.replace(SECRETS_DIR, str(secrets))],
            env={
                "PATH": f"{bin_dir}:/usr/bin:/bin",
                "STUB_LOG": str(log),
                "MONGO_INITDB_ROOT_PASSWORD_FILE": str(secrets / "root-password"),
            },
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert result.returncode == 0, result.stderr
        stdin, args = (log / "stdin").read_text(), (log / "args").read_text()
        assert 'db.auth("root", "R00tPw");' in stdin
        assert "R00tPw" not in args and "AppPw42" not in args
        sent.append(stdin)
    assert 'db.changeUserPassword("botfront", "AppPw42");' in sent[0]
    assert "print(c, bf[c].countDocuments({}));" in sent[1]
