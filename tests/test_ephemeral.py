"""ops/ephemeral.py against a fake workspace that records every call (no Pulumi CLI needed)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops import ephemeral
from ops.ephemeral import (
    CONFIG_EPHEMERAL,
    CONFIG_EXPIRES,
    StackInfo,
    StackMissing,
    TagsUnsupported,
    UsageError,
    decide,
    expiry,
    format_time,
    main,
    parse_ttl,
    plan_config,
    validate_name,
)

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
PAST = "2025-03-01T11:00:00Z"  # an hour before NOW
FUTURE = "2025-03-02T12:00:00Z"  # a day after NOW
CLOUD = {"PULUMI_ACCESS_TOKEN": "pul-test"}


class FakeWorkspace:
    """Records calls; holds stacks with tags, local config, last-update config and resources."""

    def __init__(self, *, tags_supported: bool = True) -> None:
        self.tags_supported = tags_supported
        self.stacks: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.fail_destroy: dict[str, Exception] = {}
        self.fail_tags: Exception | None = None
        self.outputs: dict[str, Any] = {"rootUrl": "https://pr.example.com"}

    def add(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        history: Mapping[str, str] | None = None,
        in_progress: bool = False,
    ) -> None:
        self.stacks[name] = {
            "tags": dict(tags or {}),
            "config": {},
            "objects": {},
            "history": dict(history or {}),
            "in_progress": in_progress,
            "resources": 5,
        }

    def _get(self, stack: str) -> dict[str, Any]:
        if stack not in self.stacks:
            raise StackMissing(stack)
        return self.stacks[stack]

    # --- the Workspace protocol -------------------------------------------------------------
    def list_stacks(self) -> list[StackInfo]:
        self.calls.append(("list_stacks",))
        return [StackInfo(name, s["in_progress"]) for name, s in self.stacks.items()]

    def create_or_select(self, stack: str) -> None:
        self.calls.append(("create_or_select", stack))
        if stack not in self.stacks:
            self.add(stack)

    def set_config(self, stack: str, values: Mapping[str, str]) -> None:
        self.calls.append(("set_config", stack, dict(values)))
        self._get(stack)["config"].update(values)

    def set_objects(self, stack: str, objects: Mapping[str, Any]) -> None:
        self.calls.append(("set_objects", stack, dict(objects)))
        self._get(stack)["objects"].update(objects)

    def remove_config(self, stack: str, keys: Sequence[str]) -> None:
        self.calls.append(("remove_config", stack, list(keys)))
        for key in keys:
            self._get(stack)["config"].pop(key, None)

    def get_tags(self, stack: str) -> dict[str, str]:
        self.calls.append(("get_tags", stack))
        if not self.tags_supported:
            raise TagsUnsupported("stack tags not supported in --local mode")
        return dict(self._get(stack)["tags"])

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        self.calls.append(("set_tags", stack, dict(tags)))
        if self.fail_tags is not None:
            raise self.fail_tags
        if not self.tags_supported:
            raise TagsUnsupported("stack tags not supported in --local mode")
        self._get(stack)["tags"].update(tags)

    def last_update_config(self, stack: str) -> dict[str, str]:
        self.calls.append(("last_update_config", stack))
        return dict(self._get(stack)["history"])

    def up(
        self, stack: str, on_output: Callable[[str], None], policy_packs: Sequence[str] = ()
    ) -> dict[str, Any]:
        self.calls.append(("up", stack, list(policy_packs)))
        state = self._get(stack)
        on_output(f"Updating ({stack})")
        state["history"] = {**state["config"], **state["objects"]}
        return dict(self.outputs)

    def destroy(self, stack: str, on_output: Callable[[str], None]) -> None:
        self.calls.append(("destroy", stack))
        if stack in self.fail_destroy:
            raise self.fail_destroy[stack]
        self._get(stack)["resources"] = 0
        on_output(f"Destroying ({stack})")

    def remove(self, stack: str) -> None:
        self.calls.append(("remove", stack))
        self._get(stack)
        del self.stacks[stack]

    # --- helpers for assertions -------------------------------------------------------------
    def called(self, verb: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == verb]

    def destroyed(self) -> list[str]:
        return [c[1] for c in self.called("destroy")]


def run(
    argv: list[str],
    ws: FakeWorkspace | None = None,
    *,
    env: Mapping[str, str] = CLOUD,
    now: datetime = NOW,
) -> tuple[int, str, str, list[Path]]:
    """Run the CLI; returns (exit code, stdout, stderr, roots the workspace factory was given)."""
    out, err = io.StringIO(), io.StringIO()
    roots: list[Path] = []

    def factory(root: Path, secrets_provider: str | None) -> FakeWorkspace:
        roots.append(root)
        assert ws is not None, "the workspace must not be created for this command"
        return ws

    code = main(argv, env=env, clock=lambda: now, workspace_factory=factory, out=out, err=err)
    return code, out.getvalue(), err.getvalue(), roots


TEMPLATE = {
    "config": {
        "botfront:rootUrl": "https://botfront.pr.example.com",
        "botfront:namespace": "botfront-ephemeral",
        "botfront:protect": False,
        "botfront:database": {"mode": "incluster", "name": "bf", "oplog": True},
        "botfront:resources": {"rasa": {"limits": {"cpu": "2", "memory": "3Gi"}}},
        "botfront:mailUrl": {"secure": "v1:c2FsdA==:ZW5jcnlwdGVk"},
    }
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project of our own: Pulumi.yaml with stackConfigDir and a template stack file."""
    (tmp_path / "Pulumi.yaml").write_text(
        "name: botfront\nruntime: {name: python, options: {toolchain: pip, virtualenv: .venv}}\n"
        "stackConfigDir: stacks\n"
    )
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.ephemeral.yaml").write_text(yaml.safe_dump(TEMPLATE))
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    return tmp_path


# ---------------------------------------------------------------------------------------------
# TTLs, expiry, names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("48h", timedelta(hours=48)),
        ("3d", timedelta(days=3)),
        ("1m", timedelta(minutes=1)),
        ("14d", timedelta(days=14)),
        ("336h", timedelta(days=14)),
    ],
)
def test_valid_ttls(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize(
    "text", ["", "48", "h", "0h", "-1h", "1.5h", "2w", "48H", "48 h", "15d", "337h", "20161m", "9" * 30 + "d"]
)
def test_invalid_ttls_name_the_value_and_what_is_allowed(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_ttl(text)
    message = str(caught.value)
    assert f"'{text}'" in message
    assert "m (minutes), h (hours) or d (days)" in message
    assert "14d" in message


def test_expiry_with_a_fixed_clock() -> None:
    assert format_time(expiry(NOW, parse_ttl("48h"))) == "2025-03-03T12:00:00Z"
    assert format_time(expiry(NOW, parse_ttl("90m"))) == "2025-03-01T13:30:00Z"
    later = datetime(2025, 3, 1, 12, 0, 0, 987654, tzinfo=UTC)
    assert format_time(expiry(later, timedelta(days=3))) == "2025-03-04T12:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        expiry(datetime(2025, 3, 1, 12, 0, 0), timedelta(hours=1))  # naive: refused


@pytest.mark.parametrize("name", ["pr-123", "pr-1", "demo", "a", "x" * 54, "1-2-3"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["PR-1", "pr_1", "pr.1", "-pr", "pr-", "", "x" * 55, "org/pr-1", "pr 1"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageError, match="invalid stack name") as caught:
        validate_name(name)
    assert f"'{name}'" in str(caught.value)
    assert "DNS-1123" in str(caught.value)


@pytest.mark.parametrize("name", ["dev", "staging", "prod", "ephemeral"])
def test_long_lived_names_and_the_template_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="reserved"):
        validate_name(name)


@pytest.mark.parametrize("command", ["up", "destroy"])
@pytest.mark.parametrize("name", ["prod", "Bad_Name"])
def test_cli_bad_name_exits_2_with_one_line_and_touches_nothing(
    command: str, name: str, project: Path
) -> None:
    code, out, err, roots = run(["--work-dir", str(project), command, "--name", name])
    assert code == 2
    assert err.startswith("error: ") and f"'{name}'" in err
    assert "Traceback" not in err + out
    assert roots == []  # never reached the backend


def test_cli_bad_ttl_exits_2(project: Path) -> None:
    code, _, err, roots = run(["--work-dir", str(project), "up", "--name", "pr-1", "--ttl", "2w"])
    assert code == 2 and "invalid TTL '2w'" in err and roots == []


@pytest.mark.parametrize("argv", [["reap"], ["destroy", "--name", "pr-1"], ["up", "--name", "pr-1"]])
def test_missing_backend_says_which_variables_to_set(argv: list[str], project: Path) -> None:
    code, _, err, roots = run(["--work-dir", str(project), *argv], env={"PULUMI_BACKEND_URL": ""})
    assert code == 2
    assert "PULUMI_BACKEND_URL" in err and "PULUMI_ACCESS_TOKEN" in err
    assert "Traceback" not in err
    assert roots == []


def test_self_managed_backend_needs_a_passphrase_for_up(project: Path) -> None:
    env = {"PULUMI_BACKEND_URL": "s3://state-bucket"}
    code, _, err, roots = run(["--work-dir", str(project), "up", "--name", "pr-1"], env=env)
    assert code == 2 and "PULUMI_CONFIG_PASSPHRASE" in err and roots == []
    ws = FakeWorkspace()
    env = {**env, "PULUMI_CONFIG_PASSPHRASE": "correct horse"}
    code, _, err, roots = run(["--work-dir", str(project), "up", "--name", "pr-1"], ws, env=env)
    assert code == 0 and "self-managed (s3://state-bucket)" in err and roots == [project]


def test_missing_template_is_a_usage_error(project: Path) -> None:
    (project / "stacks" / "Pulumi.ephemeral.yaml").unlink()
    code, _, err, roots = run(["--work-dir", str(project), "up", "--name", "pr-1"])
    assert code == 2 and "Pulumi.ephemeral.yaml does not exist" in err and roots == []


# ---------------------------------------------------------------------------------------------
# up: a new stack's marker, namespace and config
# ---------------------------------------------------------------------------------------------


def test_up_new_stack_gets_marker_namespace_and_template_config(project: Path) -> None:
    ws = FakeWorkspace()
    code, out, err, _ = run(["--work-dir", str(project), "up", "--name", "pr-123", "--ttl", "48h"], ws)
    assert code == 0, out + err

    verbs = [c[0] for c in ws.calls if c[0] != "list_stacks"]
    # The marker is written right after the stack exists (config, then tags), before the rest.
    assert verbs[:3] == ["create_or_select", "set_config", "set_tags"]
    assert verbs[-1] == "up"
    assert ws.called("set_tags") == [
        ("set_tags", "pr-123", {"ephemeral": "true", "expires-at": "2025-03-03T12:00:00Z"})
    ]

    state = ws.stacks["pr-123"]
    assert state["tags"] == {"ephemeral": "true", "expires-at": "2025-03-03T12:00:00Z"}
    plain, objects = state["config"], state["objects"]
    assert plain["botfront:namespace"] == "botfront-pr-123"  # its own namespace, not the template's
    assert plain["botfront:rootUrl"] == "https://botfront.pr.example.com"
    assert plain["botfront:protect"] == "false"
    assert plain[CONFIG_EPHEMERAL] == "true" and plain[CONFIG_EXPIRES] == "2025-03-03T12:00:00Z"
    # Objects are set whole, as objects (not JSON text, not leaf by leaf).
    assert objects == {
        "botfront:database": {"mode": "incluster", "name": "bf", "oplog": True},
        "botfront:resources": {"rasa": {"limits": {"cpu": "2", "memory": "3Gi"}}},
    }
    assert not any(isinstance(v, str) and v.startswith("{") for v in plain.values())
    # The secure value is encrypted for another stack: skipped, with a warning naming it.
    assert "botfront:mailUrl" not in plain and "botfront:mailUrl" not in objects
    assert "warning:" in err and "botfront:mailUrl" in err
    # The stack runs the project's policy pack, as previews do.
    assert ws.called("up") == [("up", "pr-123", [str(project / "policy")])]
    assert "up pr-123: namespace botfront-pr-123, expires 2025-03-03T12:00:00Z" in out
    assert "rootUrl: https://pr.example.com" in out
    assert "Updating (pr-123)" in err  # engine output goes to stderr, the report to stdout


def test_up_again_pushes_the_expiry_and_drops_stale_config(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-7", tags={"ephemeral": "true", "expires-at": PAST})
    (project / "stacks" / "Pulumi.pr-7.yaml").write_text(
        yaml.safe_dump(
            {
                "config": {
                    "botfront:namespace": "botfront-pr-7",
                    "botfront:database": {"mode": "atlas", "extra": 1},
                    "botfront:removedFromTemplate": "x",
                    "botfront:chatbaseApiKey": {"secure": "v1:abc"},
                    "kubernetes:context": "kind-preview",
                }
            }
        )
    )
    code, out, _, _ = run(["--work-dir", str(project), "up", "--name", "pr-7", "--ttl", "3d"], ws)
    assert code == 0, out
    assert ws.stacks["pr-7"]["tags"]["expires-at"] == "2025-03-04T12:00:00Z"
    # Objects are replaced whole (no stale "extra" survives); project keys the template dropped
    # go; a secret set by hand and other namespaces' keys stay.
    assert ws.called("remove_config") == [("remove_config", "pr-7", ["botfront:removedFromTemplate"])]
    assert ws.stacks["pr-7"]["objects"]["botfront:database"] == {
        "mode": "incluster",
        "name": "bf",
        "oplog": True,
    }


def test_up_refuses_to_adopt_an_unmarked_stack(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-9")  # created by hand, no marker
    code, out, _, _ = run(["--work-dir", str(project), "up", "--name", "pr-9"], ws)
    assert code == 1
    assert "not marked ephemeral" in out
    assert ws.called("set_tags") == [] and ws.called("up") == [] and ws.called("set_config") == []


def test_up_set_overrides_a_template_value(project: Path) -> None:
    ws = FakeWorkspace()
    argv = ["--work-dir", str(project), "up", "--name", "pr-5", "--set", "botfront:rootUrl=https://pr-5.x.io"]
    assert run(argv, ws)[0] == 0
    assert ws.stacks["pr-5"]["config"]["botfront:rootUrl"] == "https://pr-5.x.io"
    code, _, err, _ = run(["--work-dir", str(project), "up", "--name", "pr-5", "--set", "rootUrl"], ws)
    assert code == 2 and "invalid --set 'rootUrl'" in err


def test_without_tag_support_the_marker_lives_in_config_and_the_reaper_still_finds_it(project: Path) -> None:
    ws = FakeWorkspace(tags_supported=False)
    code, _, err, _ = run(["--work-dir", str(project), "up", "--name", "pr-4", "--ttl", "1h"], ws)
    assert code == 0
    assert "stack tags are not supported" in err and CONFIG_EXPIRES in err
    assert ws.stacks["pr-4"]["history"][CONFIG_EXPIRES] == "2025-03-01T13:00:00Z"

    code, out, _, _ = run(["--work-dir", str(project), "reap"], ws, now=NOW + timedelta(minutes=59))
    assert code == 0 and ws.destroyed() == [] and "keep pr-4: expires 2025-03-01T13:00:00Z" in out
    code, out, _, _ = run(["--work-dir", str(project), "reap"], ws, now=NOW + timedelta(hours=2))
    assert code == 0 and ws.destroyed() == ["pr-4"] and "pr-4" not in ws.stacks


# ---------------------------------------------------------------------------------------------
# destroy
# ---------------------------------------------------------------------------------------------


def test_destroy_missing_stack_is_success(project: Path) -> None:
    ws = FakeWorkspace()
    code, out, _, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-404"], ws)
    assert code == 0 and "does not exist" in out
    assert ws.called("destroy") == [] and ws.called("remove") == []


def test_destroy_is_idempotent(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-3", tags={"ephemeral": "true", "expires-at": FUTURE})
    code, out, _, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-3"], ws)
    assert code == 0 and "destroyed pr-3" in out
    assert ws.destroyed() == ["pr-3"] and [c[1] for c in ws.called("remove")] == ["pr-3"]
    code, out, _, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-3"], ws)
    assert code == 0 and "does not exist" in out and ws.destroyed() == ["pr-3"]


def test_destroy_when_the_stack_vanishes_midway_is_success(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-3", tags={"ephemeral": "true", "expires-at": FUTURE})
    ws.fail_destroy["pr-3"] = StackMissing("pr-3")
    code, out, _, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-3"], ws)
    assert code == 0 and "destroyed pr-3" in out


def test_destroy_refuses_an_unmarked_stack_even_named_pr(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-9")
    code, out, _, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-9"], ws)
    assert code == 1 and "not marked ephemeral" in out and ws.destroyed() == []


def test_destroy_failure_is_reported_without_traceback(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-3", tags={"ephemeral": "true", "expires-at": FUTURE})
    ws.fail_destroy["pr-3"] = RuntimeError(
        "\n code: 255\n stdout: \n stderr: error: the cluster is unreachable\n"
    )
    code, out, err, _ = run(["--work-dir", str(project), "destroy", "--name", "pr-3"], ws)
    assert code == 1
    assert "FAILED destroy pr-3: error: the cluster is unreachable" in out
    assert "Traceback" not in out + err and "pr-3" in ws.stacks


# ---------------------------------------------------------------------------------------------
# reap
# ---------------------------------------------------------------------------------------------


def fleet() -> FakeWorkspace:
    ws = FakeWorkspace()
    expired = {"ephemeral": "true", "expires-at": PAST}
    ws.add("dev", tags=expired)  # long-lived names are never reaped, whatever their tags say
    ws.add("prod")
    ws.add("pr-1", tags=expired)  # expired: goes
    ws.add("pr-2", tags={"ephemeral": "true", "expires-at": FUTURE})  # not yet
    ws.add("pr-9")  # named like a PR stack, but not marked: never touched
    ws.add("pr-10", tags={"ephemeral": "false", "expires-at": PAST})  # explicitly not ephemeral
    ws.add("pr-3", tags=expired, in_progress=True)  # expired but busy: skipped this time
    ws.add("pr-8", history={CONFIG_EPHEMERAL: "true", CONFIG_EXPIRES: PAST})  # marker in config only
    ws.add("org/botfront/pr-11", tags=expired)  # fully qualified names work too
    return ws


def test_reaper_destroys_only_expired_ephemeral_stacks(project: Path) -> None:
    ws = fleet()
    code, out, _, _ = run(["--work-dir", str(project), "reap"], ws)
    assert code == 0, out
    assert sorted(ws.destroyed()) == ["org/botfront/pr-11", "pr-1", "pr-8"]
    assert sorted(c[1] for c in ws.called("remove")) == ["org/botfront/pr-11", "pr-1", "pr-8"]
    assert sorted(ws.stacks) == ["dev", "pr-10", "pr-2", "pr-3", "pr-9", "prod"]
    lines = out.splitlines()
    assert "keep dev: long-lived stack, never reaped" in lines
    assert "keep pr-9: not marked ephemeral" in lines
    assert "keep pr-10: not marked ephemeral" in lines
    assert "keep pr-2: expires 2025-03-02T12:00:00Z (in 1d0h0m)" in lines
    assert any(line.startswith("skip pr-3: expired") and "update is in progress" in line for line in lines)
    assert "destroyed pr-1: expired 2025-03-01T11:00:00Z (1h0m ago)" in lines
    assert lines[-1] == "reap: 3 destroyed, 5 kept, 1 skipped, 0 failed"
    # Only stacks reached through a marker were asked for one; dev/prod were skipped by name.
    assert {c[1] for c in ws.called("get_tags")} == {
        "pr-1",
        "pr-2",
        "pr-9",
        "pr-10",
        "pr-3",
        "pr-8",
        "org/botfront/pr-11",
    }


def test_reaper_dry_run_changes_nothing(project: Path) -> None:
    ws = fleet()
    before = {name: dict(state) for name, state in ws.stacks.items()}
    code, out, _, _ = run(["--work-dir", str(project), "reap", "--dry-run"], ws)
    assert code == 0
    assert ws.destroyed() == [] and ws.called("remove") == []
    assert not ws.called("set_tags") and not ws.called("set_config") and not ws.called("remove_config")
    assert ws.stacks == before
    assert "would destroy pr-1: expired 2025-03-01T11:00:00Z (1h0m ago)" in out
    assert out.splitlines()[-1] == "reap (dry run): 3 would destroy, 5 kept, 1 skipped, 0 failed"


def test_one_failure_does_not_stop_the_others_and_fails_the_run(project: Path) -> None:
    ws = FakeWorkspace()
    for name in ("pr-1", "pr-2", "pr-3"):
        ws.add(name, tags={"ephemeral": "true", "expires-at": PAST})
    ws.fail_destroy["pr-2"] = RuntimeError("error: resource still has finalizers")
    code, out, err, _ = run(["--work-dir", str(project), "reap"], ws)
    assert code == 1
    assert ws.destroyed() == ["pr-1", "pr-2", "pr-3"]  # pr-3 still tried after pr-2 failed
    assert sorted(ws.stacks) == ["pr-2"]
    assert "FAILED pr-2: destroy failed: error: resource still has finalizers" in out
    assert out.splitlines()[-1] == "reap: 2 destroyed, 0 kept, 0 skipped, 1 failed"
    assert "Traceback" not in out + err


def test_a_lock_found_only_at_destroy_time_is_a_skip_not_a_failure(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-1", tags={"ephemeral": "true", "expires-at": PAST})  # listed as idle...
    ws.fail_destroy["pr-1"] = ephemeral.UpdateInProgress("the stack is currently locked by 1 lock(s)")
    code, out, _, _ = run(["--work-dir", str(project), "reap"], ws)
    assert code == 0 and "pr-1" in ws.stacks
    assert "skip pr-1: expired 2025-03-01T11:00:00Z (1h0m ago), but another update holds its lock" in out
    assert out.splitlines()[-1] == "reap: 0 destroyed, 0 kept, 1 skipped, 0 failed"


def test_an_ephemeral_stack_with_an_unreadable_expiry_is_reported_not_destroyed(project: Path) -> None:
    ws = FakeWorkspace()
    ws.add("pr-1", tags={"ephemeral": "true", "expires-at": "tomorrow"})
    code, out, _, _ = run(["--work-dir", str(project), "reap"], ws)
    assert code == 1 and ws.destroyed() == []
    assert "FAILED pr-1: marked ephemeral (by tags) but its expiry is missing or unreadable" in out
    assert "('tomorrow')" in out


def test_listing_failure_is_reported(project: Path) -> None:
    class Broken(FakeWorkspace):
        def list_stacks(self) -> list[StackInfo]:
            raise RuntimeError("error: could not reach the backend")

    code, out, _, _ = run(["--work-dir", str(project), "reap"], Broken())
    assert code == 1 and "FAILED reap: cannot list stacks: error: could not reach the backend" in out


def test_decide_is_pure_and_boundary_exact() -> None:
    marker = ephemeral.Marker(True, NOW, "tags", format_time(NOW))
    assert decide("pr-1", False, marker, NOW).action == "destroy"  # expiry reached exactly
    assert decide("pr-1", False, marker, NOW - timedelta(seconds=1)).action == "keep"
    assert decide("prod", False, marker, NOW).action == "keep"
    assert decide("acme/botfront/staging", False, marker, NOW).action == "keep"
    assert decide("pr-1", True, marker, NOW).action == "skip"
    assert decide("pr-1", False, ephemeral.NO_MARKER, NOW).action == "keep"


# ---------------------------------------------------------------------------------------------
# config flattening
# ---------------------------------------------------------------------------------------------


def test_plan_config_keeps_objects_whole_and_scalars_as_the_cli_reads_them() -> None:
    plan = plan_config(
        {
            "botfront:ingress": {"annotations": {"cert-manager.io/cluster-issuer": "le"}, "enabled": True},
            "botfront:allowedCidrs": ["10.0.0.0/8", "192.168.0.0/16"],
            "botfront:images": {},
            "botfront:weird": {"version": "042", "flag": "true"},
            "botfront:release": "1.0.5",
            "botfront:port": 8080,
            "botfront:ratio": 1.0,
            "botfront:nothing": None,
        }
    )
    assert plan.objects == {
        "botfront:ingress": {"annotations": {"cert-manager.io/cluster-issuer": "le"}, "enabled": True},
        "botfront:allowedCidrs": ["10.0.0.0/8", "192.168.0.0/16"],
        "botfront:images": {},
        "botfront:weird": {"version": "042", "flag": "true"},  # strings stay strings
    }
    assert plan.plain == {
        "botfront:release": "1.0.5",
        "botfront:port": "8080",
        "botfront:ratio": "1",  # Go's JSON text of 1.0, as the CLI hands it over
        "botfront:nothing": "",  # an empty value is "" to the CLI
    }


def test_objects_json_is_what_config_set_all_json_stores_as_objects() -> None:
    # pulumi/pulumi@v3.259.0 pkg/cmd/pulumi/config/config.go: configValueJSON {value, objectValue, secret};
    # with objectValue set, `value` (the JSON text) becomes config.NewObjectValue.
    payload = json.loads(ephemeral.objects_json({"botfront:database": {"mode": "incluster", "oplog": True}}))
    entry = payload["botfront:database"]
    assert entry["secret"] is False and entry["objectValue"] == {"mode": "incluster", "oplog": True}
    assert json.loads(entry["value"]) == entry["objectValue"]


def test_the_template_is_read_as_yaml_1_2(project: Path) -> None:
    (project / "stacks" / "Pulumi.ephemeral.yaml").write_text(
        "config:\n  botfront:rootUrl: https://x.example.com\n  botfront:tracker: {mode: on}\n"
    )
    ws = FakeWorkspace()
    assert run(["--work-dir", str(project), "up", "--name", "pr-8"], ws)[0] == 0
    assert ws.stacks["pr-8"]["objects"]["botfront:tracker"] == {"mode": "on"}  # not True


def test_nested_secure_values_are_never_copied() -> None:
    plan = plan_config({"botfront:atlas": {"projectId": "abc", "privateKey": {"secure": "v1:xyz"}, "n": 1.5}})
    assert "v1:xyz" not in repr(plan.plain) + repr(plan.objects)
    assert plan.objects["botfront:atlas"] == {"projectId": "abc", "n": 1.5}
    assert any("botfront:atlas.privateKey" in w for w in plan.warnings)


def test_up_refuses_a_missing_policy_pack(project: Path) -> None:
    argv = ["--work-dir", str(project), "up", "--name", "pr-2", "--policy-pack", "nowhere"]
    code, _, err, roots = run(argv, FakeWorkspace())
    assert code == 2 and "no policy pack at" in err and roots == []


# ---------------------------------------------------------------------------------------------
# The two ways to run it
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [["-m", "ops.ephemeral"], ["ops/ephemeral.py"]])
def test_runs_as_module_and_as_script(entry: list[str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "PULUMI_ACCESS_TOKEN": "x"}
    done = subprocess.run(
        [sys.executable, *entry, "up", "--name", "Not_Valid"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "invalid stack name 'Not_Valid'" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, *entry, "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "reap" in done.stdout


# ---------------------------------------------------------------------------------------------
# The real adapter over pulumi.automation, driven against a fake `pulumi` executable
# ---------------------------------------------------------------------------------------------

FAKE_PULUMI = r'''#!{python}
"""A stand-in Pulumi CLI: logs its argv, answers the few commands the adapter uses."""
import json, os, sys

args = [a for a in sys.argv[1:] if a != "--non-interactive"]  # the API adds it
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
with open(os.environ["FAKE_PULUMI_LOG"] + ".env", "a") as log:
    log.write(json.dumps([args[0], os.environ.get("PULUMI_K8S_DELETE_UNREACHABLE")]) + "\n")
stack = args[args.index("--stack") + 1] if "--stack" in args else None


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(255)


if args[:1] == ["version"]:
    print("v3.272.0")
elif args[:2] == ["stack", "ls"]:
    print(json.dumps([
        {"name": "dev", "current": False, "updateInProgress": False, "resourceCount": 40},
        {"name": "pr-1", "current": True, "updateInProgress": True, "lastUpdate": "2025-01-18T00:58:02.000Z"},
    ]))
elif args[:2] == ["stack", "select"]:
    if stack == "pr-new" and not os.path.exists(os.environ["FAKE_PULUMI_LOG"] + ".created"):
        fail("error: no stack named 'pr-new' found")
elif args[:2] == ["stack", "init"]:
    open(os.environ["FAKE_PULUMI_LOG"] + ".created", "w").close()
elif args[:3] == ["stack", "tag", "set"]:
    if stack == "pr-old-cli":
        fail("error: stack tags not supported in --local mode")
elif args[:3] == ["stack", "tag", "ls"]:
    if stack == "pr-old-cli":
        fail("error: stack tags not supported in --local mode")
    print(json.dumps({"ephemeral": "true", "expires-at": "2025-03-01T11:00:00Z", "pulumi:project": "bf"}))
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{
        "kind": "update", "startTime": "2025-01-18T00:58:02.000Z", "message": "", "environment": {},
        "config": {"botfront-ops:ephemeral": {"value": "true", "secret": False},
                   "botfront:apiKey": {"secret": True}},
        "result": "succeeded", "endTime": "2025-01-18T00:59:02.000Z", "version": 3,
    }]))
elif args[:2] == ["stack", "output"]:
    print(json.dumps({"botfrontUrl": "https://pr.example.com"}))
elif args[:1] in (["config"], ["destroy"], ["up"]) or args[:2] == ["stack", "rm"]:
    pass
else:
    fail("error: unexpected command " + " ".join(args))
'''


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "pulumi"
    cli.write_text(FAKE_PULUMI.replace("{python}", sys.executable))
    cli.chmod(0o755)
    log = tmp_path / "pulumi.log"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


def cli_calls(log: Path) -> list[list[str]]:
    import json

    return [json.loads(line) for line in log.read_text().splitlines() if line]


def test_automation_adapter_issues_the_right_cli_commands(project: Path, fake_cli: Path) -> None:
    pulumi_yaml = (project / "Pulumi.yaml").read_text()
    ws = ephemeral.AutomationWorkspace(project)

    assert ws.list_stacks() == [StackInfo("dev", False), StackInfo("pr-1", True)]
    ws.create_or_select("pr-new")  # select fails with "no stack named", so it is created
    ws.set_tags("pr-new", {"ephemeral": "true", "expires-at": "2025-03-03T12:00:00Z"})
    ws.set_objects("pr-new", {"botfront:database": {"mode": "incluster", "oplog": True}})
    ws.set_config("pr-new", {"botfront:namespace": "botfront-pr-new"})
    ws.remove_config("pr-new", ["botfront:old"])
    assert ws.get_tags("pr-new")["expires-at"] == "2025-03-01T11:00:00Z"
    assert ws.last_update_config("pr-new") == {
        "botfront-ops:ephemeral": "true",
        "botfront:apiKey": "[secret]",
    }
    assert ws.up("pr-new", lambda line: None, ["/repo/policy"]) == {"botfrontUrl": "https://pr.example.com"}
    ws.destroy("pr-new", lambda line: None)
    ws.remove("pr-new")

    calls = [c for c in cli_calls(fake_cli) if c != ["version"]]
    assert ["stack", "ls", "--json"] in calls
    assert ["stack", "select", "--stack", "pr-new"] in calls and ["stack", "init", "pr-new"] in calls
    assert ["stack", "tag", "set", "ephemeral", "true", "--stack", "pr-new"] in calls
    assert ["stack", "tag", "set", "expires-at", "2025-03-03T12:00:00Z", "--stack", "pr-new"] in calls
    set_all = [c for c in calls if c[:2] == ["config", "set-all"]]
    # Objects through --json, which stores them as objects (CLI v3.203.0+).
    assert set_all[0][:5] == ["config", "set-all", "--stack", "pr-new", "--json"]
    assert json.loads(set_all[0][5])["botfront:database"]["objectValue"] == {
        "mode": "incluster",
        "oplog": True,
    }
    assert "--path" not in set_all[1] and "botfront:namespace=botfront-pr-new" in set_all[1]
    assert "--secret" not in set_all[1]
    (up,) = [c for c in calls if c[0] == "up"]
    assert up[up.index("--policy-pack") + 1] == "/repo/policy"
    assert ["config", "rm-all", "--stack", "pr-new", "botfront:old"] in calls
    (destroy,) = [c for c in calls if c[0] == "destroy"]
    assert "--yes" in destroy and destroy[-2:] == ["--stack", "pr-new"]
    # It runs no program, which would refuse PULUMI_K8S_DELETE_UNREACHABLE (components/cluster.py).
    assert "--run-program=false" in destroy
    assert ["stack", "rm", "--yes", "pr-new"] in calls
    # Built without project_settings: Pulumi.yaml (with its stackConfigDir) is never rewritten.
    assert (project / "Pulumi.yaml").read_text() == pulumi_yaml
    # Destroy tells the Kubernetes provider to forget the objects of a cluster that is gone; up
    # must not have it, or the program would copy it into the provider's state.
    env = dict(json.loads(line) for line in Path(str(fake_cli) + ".env").read_text().splitlines())
    assert env["destroy"] == "true" and env["up"] is None and env["config"] is None


def test_reap_destroys_with_delete_unreachable(project: Path, fake_cli: Path) -> None:
    # The fake lists pr-1 as in progress; a stack of our own, expired, goes through the real adapter.
    ws = ephemeral.AutomationWorkspace(project)
    ws.list_stacks = lambda: [StackInfo("pr-gone", False)]  # type: ignore[method-assign]
    ws.get_tags = lambda stack: {"ephemeral": "true", "expires-at": PAST}  # type: ignore[method-assign]
    out, err = io.StringIO(), io.StringIO()
    code = ephemeral.cmd_reap(ws, ephemeral.load_project(project), NOW, ephemeral.Streams(out, err))
    assert code == 0, out.getvalue()
    calls = [json.loads(line) for line in Path(str(fake_cli) + ".env").read_text().splitlines()]
    assert ["destroy", "true"] in calls


def test_automation_adapter_maps_missing_tag_support(project: Path, fake_cli: Path) -> None:
    ws = ephemeral.AutomationWorkspace(project)
    with pytest.raises(TagsUnsupported, match="not supported"):
        ws.set_tags("pr-old-cli", {"ephemeral": "true"})
    with pytest.raises(TagsUnsupported):
        ws.get_tags("pr-old-cli")


def test_a_new_stack_that_cannot_be_marked_is_removed_again(project: Path) -> None:
    ws = FakeWorkspace()
    ws.fail_tags = RuntimeError("connection reset by peer")
    code, out, _, _ = run(["--work-dir", str(project), "up", "--name", "pr-77", "--ttl", "48h"], ws)
    assert code != 0 and "FAILED up pr-77: connection reset by peer" in out
    # Left unmarked it would be refused by destroy and skipped by reap forever.
    assert "pr-77" not in ws.stacks
    assert ws.called("remove") and not ws.called("up")


def test_tags_unsupported_means_the_cli_words_not_any_error() -> None:
    from ops.ephemeral import _TAGS_UNSUPPORTED

    assert _TAGS_UNSUPPORTED.search("error: stack tags are not supported in --local mode")
    assert _TAGS_UNSUPPORTED.search("the DIY backend does not support stack tags")
    assert not _TAGS_UNSUPPORTED.search("error: the secrets provider is not supported: awskms")


@pytest.mark.parametrize("command", [["destroy", "--name", "pr-5"], ["reap"]])
def test_every_command_needs_the_passphrase_on_a_self_managed_backend(
    project: Path, command: list[str]
) -> None:
    # destroy and reap read each stack's config too, which the passphrase decrypts.
    code, _, err, roots = run(
        ["--work-dir", str(project), *command], env={"PULUMI_BACKEND_URL": "s3://state"}
    )
    assert code == 2 and "PULUMI_CONFIG_PASSPHRASE" in err and roots == []


def test_file_state_is_refused_on_ci_runners(project: Path) -> None:
    # GitHub Actions sets CI=true; file:// state would not outlive the job.
    env = {"PULUMI_BACKEND_URL": "file:///tmp/state", "PULUMI_CONFIG_PASSPHRASE": "x", "CI": "true"}
    code, _, err, roots = run(["--work-dir", str(project), "reap"], env=env)
    assert code == 2 and "file:// state" in err and roots == []
    code, _, _, roots = run(["--work-dir", str(project), "reap"], FakeWorkspace(), env={**env, "CI": ""})
    assert code == 0 and roots  # fine on a workstation
