"""The GitHub workflows: every job that runs Pulumi checks its backend and signs in to the state
bucket's cloud first, under its own environment; and the check script, run for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.ephemeral import POLICY_DIR
from ops.offline import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
LOCK = ROOT / "requirements.lock"
ACTION = ROOT / ".github" / "actions" / "pulumi-backend"
CHECK = ACTION / "check-backend.sh"
BACKEND_STEP = "./.github/actions/pulumi-backend"


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            found.append((path.name, name, job))
    return found


def runs_pulumi(step: dict[str, Any]) -> bool:
    uses = str(step.get("uses", ""))
    return (uses.startswith("pulumi/actions@") and "command" in (step.get("with") or {})) or (
        "ops.ephemeral" in str(step.get("run", ""))
    )


PULUMI_JOBS = [(f, n, j) for f, n, j in jobs() if any(runs_pulumi(s) for s in j.get("steps", []))]


def test_the_pulumi_jobs_are_the_expected_ones() -> None:
    assert {(f, n) for f, n, _ in PULUMI_JOBS} == {
        ("preview.yml", "preview"),
        ("deploy.yml", "staging"),
        ("deploy.yml", "prod"),
        ("ephemeral.yml", "up"),
        ("ephemeral.yml", "destroy"),
        ("reap.yml", "reap"),
    }


@pytest.mark.parametrize(
    ("workflow", "name", "job"), PULUMI_JOBS, ids=[f"{f}:{n}" for f, n, _ in PULUMI_JOBS]
)
def test_every_pulumi_job_checks_its_backend_first_under_its_environment(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    steps = job["steps"]
    uses = [str(s.get("uses", "")) for s in steps]
    assert BACKEND_STEP in uses, "no backend check"
    check = uses.index(BACKEND_STEP)
    first_pulumi = next(i for i, s in enumerate(steps) if runs_pulumi(s))
    install = next(i for i, s in enumerate(steps) if "pip install" in str(s.get("run", "")))
    # After the dependency installation (which must not see the credentials), before Pulumi.
    assert install < check < first_pulumi
    given = steps[check]["with"]
    for key in ("backend-url", "access-token", "passphrase"):
        assert "secrets." in given[key]
    # OIDC needs the job's identity token; the environment scopes which role it can assume.
    assert job["permissions"]["id-token"] == "write"
    assert job.get("environment")


def runs_policy_pack(step: dict[str, Any]) -> bool:
    """A step that enforces a policy pack: pulumi/actions with `policyPacks`, or ops/ephemeral.py's
    `up`, which enforces <work-dir>/policy unless told otherwise (ops.ephemeral.POLICY_DIR)."""
    if str(step.get("uses", "")).startswith("pulumi/actions@"):
        return bool((step.get("with") or {}).get("policyPacks"))
    run = str(step.get("run", ""))
    return "ops.ephemeral" in run and re.search(r"(ops\.ephemeral|args=\()\s*up\b", run) is not None


POLICY_JOBS = [(f, n, j) for f, n, j in jobs() if any(runs_policy_pack(s) for s in j.get("steps", []))]


def test_the_policy_pack_jobs_are_the_expected_ones() -> None:
    assert {(f, n) for f, n, _ in POLICY_JOBS} == {
        ("preview.yml", "preview"),
        ("deploy.yml", "staging"),
        ("deploy.yml", "prod"),
        ("ephemeral.yml", "up"),
    }


@pytest.mark.parametrize(
    ("workflow", "name", "job"), POLICY_JOBS, ids=[f"{f}:{n}" for f, n, _ in POLICY_JOBS]
)
def test_every_job_running_a_policy_pack_installs_its_requirements_into_the_packs_venv(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    pack = yaml.safe_load((ROOT / POLICY_DIR / "PulumiPolicy.yaml").read_text())
    # The CLI runs the pack with the virtualenv its PulumiPolicy.yaml names, relative to the pack.
    venv = os.path.normpath(ROOT / POLICY_DIR / pack["runtime"]["options"]["virtualenv"])
    assert venv == str(ROOT / ".venv")
    steps = job["steps"]
    first_pack = next(i for i, s in enumerate(steps) if runs_policy_pack(s))
    # The pack's requirements come from requirements.lock, which holds policy/requirements.txt's
    # pins too (test_the_lock_holds_every_pin_of_the_requirements_files).
    installs = [
        str(s["run"])
        for s in steps[:first_pack]
        if ".venv/bin/pip install --require-hashes -r requirements.lock" in str(s.get("run", ""))
    ]
    assert installs, f"{workflow}:{name} runs a policy pack without installing requirements.lock"
    assert any("python -m venv .venv" in run for run in installs)


# ---- credentials only after every dependency is installed, and only from the hashed lock --------

# A `${{ ... }}` expression that reads a secret (secrets.X, secrets['X'], toJSON(secrets)).
SECRET_EXPRESSION = re.compile(r"\$\{\{[^}]*\bsecrets\b[^}]*\}\}")


def _reads_secrets(node: object) -> bool:
    if isinstance(node, str):
        return SECRET_EXPRESSION.search(node) is not None
    if isinstance(node, dict):
        return any(_reads_secrets(k) or _reads_secrets(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_reads_secrets(v) for v in node)
    return False


def _installs(step: dict[str, Any]) -> bool:
    """A step that fetches code to run later: pip, or pulumi/actions installing only the CLI."""
    uses = str(step.get("uses", ""))
    if uses.startswith("pulumi/actions@"):
        return "command" not in (step.get("with") or {})
    return re.search(r"\bpip3? install\b", str(step.get("run", ""))) is not None


ALL_JOBS = jobs()


def test_secret_expressions_are_recognised() -> None:
    assert _reads_secrets({"env": {"A": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}})
    assert _reads_secrets({"with": {"a": "x-${{ secrets['KEY'] }}"}})
    assert _reads_secrets(["${{ toJSON(secrets) }}"])
    assert not _reads_secrets({"run": "echo no secrets here", "env": {"A": "${{ vars.X }}"}})


def test_no_workflow_gives_secrets_to_every_step() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert not _reads_secrets(yaml.safe_load(path.read_text()).get("env") or {}), path.name


@pytest.mark.parametrize(("workflow", "name", "job"), ALL_JOBS, ids=[f"{f}:{n}" for f, n, _ in ALL_JOBS])
def test_no_secret_is_in_scope_until_every_dependency_is_installed(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    # Job-level env is in scope for every step, the installation included: never secrets there.
    assert not _reads_secrets(job.get("env") or {}), f"{workflow}:{name} has secrets in its job-level env"
    steps = job.get("steps", [])
    installs = [i for i, step in enumerate(steps) if _installs(step)]
    if not installs:
        return
    # No secret reaches any step up to the last installation: not in env, with or run, so no
    # kubeconfig file, cloud sign-in or token exists yet (each is made from a secret).
    early = [
        str(step.get("name") or step.get("uses"))
        for step in steps[: max(installs) + 1]
        if _reads_secrets(step)
    ]
    assert not early, f"{workflow}:{name}: secrets before the dependencies are installed: {early}"


def test_every_job_holding_secrets_installs_from_the_hashed_lock_only() -> None:
    holding = [(f, n, j) for f, n, j in ALL_JOBS if _reads_secrets(j)]
    assert {(f, n) for f, n, _ in holding} == {(f, n) for f, n, _ in PULUMI_JOBS}
    for workflow, name, job in holding:
        pips = [str(s["run"]) for s in job["steps"] if re.search(r"\bpip3? install\b", str(s.get("run", "")))]
        assert pips, f"{workflow}:{name}"
        for run in pips:
            commands = [line.strip() for line in run.splitlines() if re.search(r"\bpip3? install\b", line)]
            assert commands == [".venv/bin/pip install --require-hashes -r requirements.lock"], (
                f"{workflow}:{name}: {commands}"
            )


def _pinned_requirements(path: Path) -> dict[str, str]:
    """name (PEP 503 normalised) -> version of every requirement line; each must be `==`."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{path.name}: {raw!r} is not pinned exactly"
        pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def _lock() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of requirements.lock, as pip-compile --generate-hashes writes it."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\", line)
            assert match, f"requirements.lock: {line!r} is not `name==version \\`"
            current = re.sub(r"[-_.]+", "-", match[1]).lower()
            entries[current] = (match[2], [])
        else:
            assert current is not None
            match = re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})(?: \\)?", line)
            assert match, f"requirements.lock: {line!r} under {current} is not a sha256 hash"
            entries[current][1].append(match[1])
    return entries


def test_every_package_of_the_lock_is_pinned_with_hashes() -> None:
    lock = _lock()
    assert "grpcio" in lock and "protobuf" in lock  # transitive ones, not only the direct pins
    for name, (version, hashes) in lock.items():
        assert hashes, f"requirements.lock: {name}=={version} has no --hash"


@pytest.mark.parametrize("requirements", ["requirements.txt", f"{POLICY_DIR}/requirements.txt"])
def test_the_lock_holds_every_pin_of_the_requirements_files(requirements: str) -> None:
    # A pin bumped in a requirements file without `make lock` would deploy the old version.
    lock = _lock()
    pins = _pinned_requirements(ROOT / requirements)
    assert pins
    for name, version in pins.items():
        assert name in lock, f"{requirements}: {name} is not in requirements.lock (run `make lock`)"
        assert lock[name][0] == version, (
            f"{requirements}: {name}=={version} but requirements.lock has {lock[name][0]} (run `make lock`)"
        )


def test_the_lock_is_for_the_runners_python() -> None:
    # Environment markers and wheels are resolved for the interpreter pip-compile ran with.
    match = re.search(r"autogenerated by pip-compile with Python (\d+\.\d+)", LOCK.read_text())
    assert match, "requirements.lock names no Python version"
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wanted = (yaml.safe_load(path.read_text()).get("env") or {}).get("PYTHON_VERSION")
        assert wanted in (None, match[1]), f"{path.name} runs Python {wanted}, the lock is for {match[1]}"


ACTION_FILES = [*sorted(WORKFLOWS.glob("*.yml")), ACTION / "action.yml"]
# `uses: owner/name[/path]@<commit> # <tag>`: YAML drops the comment, so the lines are read as text.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<uses>[^\s#]+)(?:\s+#\s*(?P<tag>\S+))?\s*$")


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in document:  # a composite action
        return list(document["runs"]["steps"])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def _pins() -> list[tuple[str, str, str | None]]:
    """(file, uses, tag comment) of every remote action, from the files' text."""
    found = []
    for path in ACTION_FILES:
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match and not match["uses"].startswith("./"):
                found.append((path.name, match["uses"], match["tag"]))
    return found


def test_the_pin_lines_are_every_uses_of_the_files() -> None:
    # The text scan must see exactly what GitHub reads, or the tests below check the wrong pins.
    for path in ACTION_FILES:
        parsed = sorted(
            str(step["uses"])
            for step in _steps(yaml.safe_load(path.read_text()))
            if "uses" in step and not str(step["uses"]).startswith("./")
        )
        scanned = sorted(uses for name, uses, _ in _pins() if name == path.name)
        assert parsed == scanned, path.name


def test_every_action_is_pinned_to_the_commit_of_an_exact_release() -> None:
    pins = _pins()
    assert any(name == "action.yml" for name, _, _ in pins)
    for name, uses, tag in pins:
        # A tag can be moved to other code; a full commit SHA cannot.
        assert re.search(r"@[0-9a-f]{40}$", uses), f"{name}: {uses} is not pinned to a commit SHA"
        assert tag is not None and re.fullmatch(r"v\d+\.\d+\.\d+", tag), (
            f"{name}: {uses} has no exact release tag in its trailing comment ({tag})"
        )


# ---- every pinned JavaScript action runs on node24, read at its tag in the mirror --------------

MIRRORS = Path("/work/.mirror")


def _pinned_actions() -> list[tuple[str, str, str]]:
    """(action, commit, tag) of every remote action, once each."""
    return sorted({(uses.rsplit("@", 1)[0], uses.rsplit("@", 1)[1], tag or "") for _, uses, tag in _pins()})


def _mirror(owner: str, name: str) -> Path | None:
    """The bare mirror of owner/name; `uses:` is case-insensitive (azure/login is Azure/login)."""
    wanted = f"{owner}+{name}".lower()
    if not MIRRORS.is_dir():
        return None
    for entry in MIRRORS.iterdir():
        if entry.name.lower() == wanted and (entry / "repo").is_dir():
            return entry / "repo"
    return None


def test_the_pinned_actions_are_collected() -> None:
    actions = {action for action, _, _ in _pinned_actions()}
    assert "aws-actions/configure-aws-credentials" in actions
    assert "helm/kind-action" in actions  # e2e.yml's, not a Pulumi job's


@pytest.mark.parametrize(
    ("action", "commit", "tag"), _pinned_actions(), ids=[f"{a}@{t}" for a, _, t in _pinned_actions()]
)
def test_every_pinned_action_is_its_tag_and_runs_on_node24(action: str, commit: str, tag: str) -> None:
    # GitHub-hosted runners retire Node 20 in 2026; an action still declaring node20 (or older)
    # is on borrowed time. Docker and composite actions carry no Node runtime of their own.
    owner, name, *sub = action.split("/")
    git_dir = _mirror(owner, name)
    if git_dir is None:
        pytest.skip(
            f"no mirror of {owner}/{name} under {MIRRORS} (CI has none): commit and runtime unchecked"
        )
    # The comment says which release the commit is; an annotated tag names its tag object: peel it.
    tagged = subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    assert tagged.returncode == 0, f"{action}: no tag {tag} in {git_dir}"
    assert tagged.stdout.strip() == commit, f"{action}@{commit} is not {tag} ({tagged.stdout.strip()})"
    metadata = None
    for file in ("action.yml", "action.yaml"):
        spec = f"{commit}:{'/'.join([*sub, file])}"
        shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", spec], capture_output=True, text=True)
        if shown.returncode == 0:
            metadata = yaml.safe_load(shown.stdout)
            break
    assert metadata is not None, f"{action}: no action.yml at {tag} in {git_dir}"
    using = str(metadata["runs"]["using"])
    assert using == "node24" or not using.startswith("node"), f"{action}@{tag} runs on {using}"


def test_previews_run_under_their_own_environments() -> None:
    (job,) = [j for f, n, j in PULUMI_JOBS if n == "preview"]
    # preview-staging and preview-prod can be given required reviewers (docs/pr-previews.md).
    assert job["environment"] == "preview-${{ matrix.stack }}"
    assert set(job["strategy"]["matrix"]["stack"]) == {"dev", "staging", "prod"}


def test_the_action_passes_every_credential_it_checks() -> None:
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    names = set(action["inputs"])
    step_inputs = {
        key
        for f, n, j in PULUMI_JOBS
        for s in j["steps"]
        if s.get("uses") == BACKEND_STEP
        for key in s["with"]
    }
    assert step_inputs == names


def check(env: dict[str, str], tmp_path: Path, cwd: Path | None = None) -> tuple[int, str, str]:
    output = tmp_path / "github_output"
    output.write_text("")
    done = subprocess.run(
        ["bash", str(CHECK)],
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env},
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout, output.read_text()


S3_OIDC = {"AWS_ROLE_TO_ASSUME": "arn:aws:iam::1:role/ci", "AWS_REGION": "eu-west-1"}
GS_OIDC = {"GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/locations/global/x", "GCP_SERVICE_ACCOUNT": "ci@p"}
AZ_OIDC = {
    "AZURE_CLIENT_ID": "c",
    "AZURE_TENANT_ID": "t",
    "AZURE_SUBSCRIPTION_ID": "s",
    "AZURE_STORAGE_ACCOUNT": "a",
}
PASS = {"PULUMI_CONFIG_PASSPHRASE": "correct horse"}

CASES = [
    ("cloud-token", {"PULUMI_ACCESS_TOKEN": "pul-x"}, "cloud", None),
    (
        "cloud-url",
        {"PULUMI_BACKEND_URL": "https://api.pulumi.com", "PULUMI_ACCESS_TOKEN": "p"},
        "cloud",
        None,
    ),
    ("s3-oidc", {"PULUMI_BACKEND_URL": "s3://state", **PASS, **S3_OIDC}, "s3", None),
    (
        "s3-keys",
        {"PULUMI_BACKEND_URL": "s3://state", **PASS, "AWS_ACCESS_KEY_ID": "k", "AWS_REGION": "r"},
        "s3",
        None,
    ),
    ("gs-oidc", {"PULUMI_BACKEND_URL": "gs://state", **PASS, **GS_OIDC}, "gs", None),
    ("gs-key", {"PULUMI_BACKEND_URL": "gs://state", **PASS, "GCP_CREDENTIALS_JSON": "{}"}, "gs", None),
    ("azblob-oidc", {"PULUMI_BACKEND_URL": "azblob://state", **PASS, **AZ_OIDC}, "azblob", None),
    ("nothing", {}, None, "No Pulumi backend"),
    ("file-refused", {"PULUMI_BACKEND_URL": "file://~/.pulumi", **PASS}, None, "file:// state"),
    (
        "empty-passphrase",
        {"PULUMI_BACKEND_URL": "s3://state", "PULUMI_CONFIG_PASSPHRASE": "", **S3_OIDC},
        None,
        "PULUMI_CONFIG_PASSPHRASE is empty",
    ),
    (
        "s3-no-credentials",
        {"PULUMI_BACKEND_URL": "s3://state", **PASS, "AWS_REGION": "r"},
        None,
        "AWS_ROLE_TO_ASSUME",
    ),
    (
        "gs-half-oidc",
        {"PULUMI_BACKEND_URL": "gs://state", **PASS, "GCP_SERVICE_ACCOUNT": "x"},
        None,
        "GCP_WORKLOAD_IDENTITY_PROVIDER",
    ),
    (
        "azblob-no-account",
        {"PULUMI_BACKEND_URL": "azblob://state", **PASS, "AZURE_STORAGE_KEY": "k"},
        None,
        "AZURE_STORAGE_ACCOUNT",
    ),
    ("unknown-scheme", {"PULUMI_BACKEND_URL": "ftp://state", **PASS}, None, "unsupported scheme (ftp)"),
    (
        "cloud-url-without-token",
        {"PULUMI_BACKEND_URL": "https://pulumi.example.com"},
        None,
        "PULUMI_ACCESS_TOKEN",
    ),
]


@pytest.mark.parametrize(("env", "scheme", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_backend_script(
    tmp_path: Path, env: dict[str, str], scheme: str | None, error: str | None
) -> None:
    code, out, output = check(env, tmp_path)
    if error is None:
        assert code == 0 and output == f"scheme={scheme}\n", out
    else:
        assert code == 1 and output == ""
        assert "::error title=Pulumi backend::" in out and error in out


def test_check_backend_reports_every_problem_at_once(tmp_path: Path) -> None:
    code, out, _ = check({"PULUMI_BACKEND_URL": "s3://state"}, tmp_path)
    assert code == 1 and out.count("::error") == 3  # passphrase, credentials, region


def project_with_stack(tmp_path: Path, stack_file: str) -> Path:
    """A checkout whose Pulumi.yaml keeps stack files in stacks/, as this project's does."""
    root = tmp_path / "checkout"
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text('name: botfront\nruntime: python\nstackConfigDir: "stacks" # here\n')
    (root / "stacks" / "Pulumi.prod.yaml").write_text(stack_file)
    return root


PASSPHRASE_STACK = "encryptionsalt: v1:c2FsdA==:v1:aXY=:Y3Q=\nconfig:\n  botfront:release: 1.0.5\n"


def test_a_passphrase_stack_needs_its_passphrase_on_pulumi_cloud_too(tmp_path: Path) -> None:
    root = project_with_stack(tmp_path, PASSPHRASE_STACK)
    cloud = {"PULUMI_ACCESS_TOKEN": "pul-x", "STACK_NAME": "prod"}
    code, out, output = check(cloud, tmp_path, root)
    assert code == 1 and output == ""
    assert "stacks/Pulumi.prod.yaml uses the passphrase secrets provider (encryptionsalt)" in out
    assert check({**cloud, **PASS}, tmp_path, root)[0] == 0
    # Another stack of the same checkout, or a job over many stacks, is not held to it.
    assert check({**cloud, "STACK_NAME": "dev"}, tmp_path, root)[0] == 0
    assert check({"PULUMI_ACCESS_TOKEN": "pul-x"}, tmp_path, root)[0] == 0


def test_a_service_managed_stack_on_pulumi_cloud_needs_no_passphrase(tmp_path: Path) -> None:
    root = project_with_stack(tmp_path, "config:\n  botfront:release: 1.0.5\n")
    assert check({"PULUMI_ACCESS_TOKEN": "pul-x", "STACK_NAME": "prod"}, tmp_path, root)[0] == 0


def test_the_shipped_stacks_need_a_passphrase_on_pulumi_cloud_exactly_when_they_hold_a_salt(
    tmp_path: Path,
) -> None:
    # Read from this checkout's own Pulumi.yaml (stackConfigDir) and stack files.
    for stack in ("dev", "staging", "prod"):
        salted = "\nencryptionsalt:" in "\n" + (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
        code, out, _ = check({"PULUMI_ACCESS_TOKEN": "pul-x", "STACK_NAME": stack}, tmp_path, ROOT)
        assert code == (1 if salted else 0), out
        assert check({"PULUMI_ACCESS_TOKEN": "pul-x", "STACK_NAME": stack, **PASS}, tmp_path, ROOT)[0] == 0


def test_a_passphrase_file_is_accepted_when_no_passphrase_variable_is_set(tmp_path: Path) -> None:
    phrase = tmp_path / "passphrase"
    phrase.write_text("correct horse\n")
    s3 = {"PULUMI_BACKEND_URL": "s3://state", **S3_OIDC}
    code, out, output = check({**s3, "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase)}, tmp_path)
    assert code == 0 and output == "scheme=s3\n", out
    root = project_with_stack(tmp_path, PASSPHRASE_STACK)
    cloud = {"PULUMI_ACCESS_TOKEN": "p", "STACK_NAME": "prod", "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase)}
    assert check(cloud, tmp_path, root)[0] == 0


def test_a_passphrase_file_is_refused_where_the_cli_would_not_read_it(tmp_path: Path) -> None:
    phrase = tmp_path / "passphrase"
    phrase.write_text("correct horse")
    s3 = {"PULUMI_BACKEND_URL": "s3://state", **S3_OIDC}
    # A set PULUMI_CONFIG_PASSPHRASE, even empty, is what the CLI uses (manager.go readPassphrase).
    code, out, _ = check(
        {**s3, "PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase)}, tmp_path
    )
    assert code == 1 and "the Pulumi CLI then ignores PULUMI_CONFIG_PASSPHRASE_FILE" in out
    for bad in (tmp_path / "missing", tmp_path / "blank"):
        if bad.name == "blank":
            bad.write_text(" \n")
        code, out, _ = check({**s3, "PULUMI_CONFIG_PASSPHRASE_FILE": str(bad)}, tmp_path)
        assert code == 1 and f"PULUMI_CONFIG_PASSPHRASE_FILE ({bad}) is not a readable file" in out


def test_an_unreadable_passphrase_file_is_refused_for_a_user_who_cannot_read_it(tmp_path: Path) -> None:
    # As a runner's unprivileged user would meet it (root reads any file, so drop to nobody).
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    sandbox = Path(tempfile.mkdtemp())
    try:
        sandbox.chmod(0o755)
        phrase = sandbox / "passphrase"
        phrase.write_text("correct horse")
        phrase.chmod(0o600)  # root's, unreadable for nobody
        script = sandbox / "check-backend.sh"
        shutil.copy(CHECK, script)
        script.chmod(0o755)
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script)],
            env={
                "PATH": os.environ["PATH"],
                "PULUMI_BACKEND_URL": "s3://state",
                "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase),
                **S3_OIDC,
            },
            cwd=sandbox,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        assert f"PULUMI_CONFIG_PASSPHRASE_FILE ({phrase}) is not a readable file" in done.stdout
    finally:
        shutil.rmtree(sandbox)


# ---- the whole check runs on every pull request and push, and gates every deployment -----------

TEST_WORKFLOW = "./.github/workflows/test.yml"
CI_RUN = ROOT / ".ci" / "run"


def _workflow(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((WORKFLOWS / name).read_text()))


def _triggers(document: dict[str, Any]) -> dict[str, Any]:
    # PyYAML (YAML 1.1) reads the key `on` as the boolean True.
    on = document.get("on", document.get(True))
    return {on: None} if isinstance(on, str) else dict(on)


def test_the_test_workflow_runs_the_whole_check_on_pull_requests_pushes_to_main_and_calls() -> None:
    document = _workflow("test.yml")
    on = _triggers(document)
    assert "pull_request" in on and "workflow_call" in on
    assert on["pull_request"] is None or "types" not in on["pull_request"]  # every kind of update
    assert on["push"] == {"branches": ["main"]}
    (job,) = document["jobs"].values()
    runs = [str(step.get("run", "")).strip() for step in job["steps"]]
    assert "bash .ci/run" in runs
    uses = [str(step.get("uses", "")).split("@")[0] for step in job["steps"]]
    check = runs.index("bash .ci/run")
    assert uses.index("actions/checkout") < check and uses.index("actions/setup-python") < check
    # It needs no credential: nothing to read secrets with, and a read-only token.
    assert not _reads_secrets(document)
    assert document["permissions"] == {"contents": "read"} and job["permissions"] == {"contents": "read"}


def test_the_test_workflow_cancels_only_superseded_pull_request_runs() -> None:
    concurrency = _workflow("test.yml")["concurrency"]
    # A deployment's call must never be cancelled: only pull requests share a group across runs.
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    group = concurrency["group"]
    assert "github.workflow" in group and "github.event.pull_request.number" in group
    assert "github.run_id" in group


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _upstream(jobs: dict[str, dict[str, Any]], name: str) -> set[str]:
    """Every job `name` needs, directly or through others."""
    seen: set[str] = set()
    todo = _needs(jobs[name])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_needs(jobs[current]))
    return seen


def _runs_pulumi_up(job: dict[str, Any]) -> bool:
    return any(
        str(step.get("uses", "")).startswith("pulumi/actions@")
        and (step.get("with") or {}).get("command") == "up"
        for step in job.get("steps", [])
    )


# A status function in a job's `if:` replaces the implicit success(): `always() && ...` would
# deploy after failed tests.
STATUS_FUNCTION = re.compile(r"\b(always|failure|cancelled|success)\s*\(")


def test_every_deployment_waits_for_the_whole_check_to_pass() -> None:
    jobs = _workflow("deploy.yml")["jobs"]
    deploying = [name for name, job in jobs.items() if _runs_pulumi_up(job)]
    assert sorted(deploying) == ["prod", "staging"]
    for name in deploying:
        gates = [n for n in _upstream(jobs, name) if jobs[n].get("uses") == TEST_WORKFLOW]
        assert gates, f"deploy.yml:{name} runs `pulumi up` without needing a job that uses test.yml"
        assert not STATUS_FUNCTION.search(str(jobs[name].get("if", ""))), jobs[name]["if"]
        # The gate itself always runs and gets no secret (test.yml reads none).
        for gate in gates:
            assert "if" not in jobs[gate] and "secrets" not in jobs[gate]


def test_the_dependency_walk_and_the_status_check_see_what_they_must() -> None:
    jobs: dict[str, dict[str, Any]] = {
        "t": {"uses": TEST_WORKFLOW},
        "a": {"needs": "t"},
        "b": {"needs": ["a"]},
        "c": {},
    }
    assert _upstream(jobs, "b") == {"a", "t"} and _upstream(jobs, "c") == set()
    assert STATUS_FUNCTION.search("always() && github.ref == 'refs/heads/main'")
    assert not STATUS_FUNCTION.search("github.event_name == 'push'")


# ---- .ci/run: the tools the tests need, installed as root or through sudo -----------------------


def _ci_run_installs() -> dict[str, str]:
    """tool -> the Debian package .ci/run installs when the tool is missing."""
    found = {}
    for line in CI_RUN.read_text().splitlines():
        package = re.search(r"\|\|\s*missing\+=\((\S+)\)", line)
        if package:
            for tool in re.findall(r"command -v (\S+?)(?=[\s;])", line):
                found[tool] = package[1]
    return found


def _tools_the_tests_skip_without() -> set[str]:
    tools: set[str] = set()
    for path in (ROOT / "tests").glob("*.py"):
        text = path.read_text()
        tools.update(re.findall(r"shutil\.which\(\"([^\"]+)\"\)", text))
        tools.update(re.findall(r"\[\"which\", \"([^\"]+)\"\]", text))
    return tools


def test_ci_installs_every_tool_a_test_skips_without() -> None:
    tools = _tools_the_tests_skip_without()
    assert {"strace", "setpriv", "unshare", "node"} <= tools  # the scan finds them
    installs = _ci_run_installs()
    # bash runs .ci/run itself, and apt-get cannot run without dpkg.
    needed = tools - {"bash", "dpkg"}
    assert needed <= set(installs), f"not installed by .ci/run: {needed - set(installs)}"


def test_each_package_ci_installs_provides_its_tool() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("needs dpkg to ask which package owns a file")
    checked = 0
    for tool, package in _ci_run_installs().items():
        where = shutil.which(tool)
        if where is None:
            continue
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(where)], capture_output=True, text=True)
        if owner.returncode != 0:  # installed some other way (the runner image's node)
            continue
        assert owner.stdout.split(":")[0] == package, (
            f"{tool}: {owner.stdout.strip()}, .ci/run installs {package}"
        )
        checked += 1
    if checked == 0:
        pytest.skip("none of .ci/run's tools is installed from a Debian package here")


STUB = "#!/bin/bash\n"
# sudo resets the environment (sudoers env_reset): only what passes through `env` reaches apt-get.
SUDO = (
    STUB
    + 'echo "sudo $*" >> "$LOG"\n[ "$1" = -n ] && shift\nexec /usr/bin/env -i PATH="$PATH" LOG="$LOG" "$@"\n'
)
APT = STUB + 'echo "apt-get $* frontend=${DEBIAN_FRONTEND:-}" >> "$LOG"\n'
MAKE = STUB + 'echo "make $*" >> "$LOG"\n'


def _run_ci(
    tmp_path: Path, uid: int, *, sudo: bool, present: tuple[str, ...] = ()
) -> tuple[int, str, list[str]]:
    """.ci/run in a copy of its directory, with nothing on PATH but stubs: it finds none of the test
    tools unless `present`, its apt-get, sudo and make only log, and `id -u` answers `uid`."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(CI_RUN, checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for real in ("dirname", "env"):
        found = shutil.which(real)
        assert found
        (bin_dir / real).symlink_to(found)
    scripts = {"id": STUB + f'[ "$1" = -u ] && echo {uid}\n', "apt-get": APT, "make": MAKE}
    if sudo:
        scripts["sudo"] = SUDO
    scripts.update({tool: STUB for tool in present})
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    done = subprocess.run(
        ["/bin/bash", str(checkout / ".ci" / "run")],
        env={"PATH": str(bin_dir), "LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stderr, log.read_text().splitlines()


CHECKS = ["make setup", "make lint", "make plan-all", "make checkov", "make test"]
INSTALL = "install -y -qq --no-install-recommends shellcheck nodejs openssl util-linux strace"


def test_ci_installs_through_sudo_when_not_root(tmp_path: Path) -> None:
    code, err, log = _run_ci(tmp_path, 1001, sudo=True)
    assert code == 0, err
    assert log == [
        "sudo -n apt-get update -qq",
        "apt-get update -qq frontend=",
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get " + INSTALL,
        f"apt-get {INSTALL} frontend=noninteractive",
        *CHECKS,
    ]


def test_ci_installs_as_root_without_sudo(tmp_path: Path) -> None:
    code, err, log = _run_ci(tmp_path, 0, sudo=False)
    assert code == 0, err
    assert log == ["apt-get update -qq frontend=", f"apt-get {INSTALL} frontend=noninteractive", *CHECKS]


def test_ci_stops_before_any_check_when_it_cannot_install(tmp_path: Path) -> None:
    code, err, log = _run_ci(tmp_path, 1001, sudo=False, present=("shellcheck", "node", "openssl"))
    assert code == 1 and log == []
    assert "needs root or passwordless sudo to install: util-linux strace" in err


def test_ci_installs_only_what_is_missing(tmp_path: Path) -> None:
    everything = ("shellcheck", "node", "openssl", "setpriv", "unshare", "strace")
    code, err, log = _run_ci(tmp_path, 1001, sudo=True, present=everything)
    assert code == 0 and log == CHECKS, err
    code, err, log = _run_ci(tmp_path / "2", 0, sudo=False, present=everything[:-2])
    assert code == 0, err
    assert (
        log[1] == "apt-get install -y -qq --no-install-recommends util-linux strace frontend=noninteractive"
    )
