"""The explicit Kubernetes provider: what its inputs (stored in the state) may and may not hold."""

from __future__ import annotations

import runpy
from typing import Any

import pulumi
import pytest

from ops.offline import ROOT, load_stack_config, run_components, run_program

PROVIDER = "pulumi:providers:kubernetes"
AMBIENT = "/home/laptop-user/.kube/config"


def provider_inputs(stack: str = "dev", **overrides: Any) -> dict[str, Any]:
    plan = run_program(stack, overrides)
    (provider,) = plan.of_type(PROVIDER)
    return provider.secret_inputs


@pytest.fixture
def ambient_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a laptop or a CI runner has; the SDK would copy it into the provider's inputs.
    monkeypatch.setenv("KUBECONFIG", AMBIENT)


@pytest.mark.usefixtures("ambient_kubeconfig")
def test_no_kubeconfig_from_the_environment_reaches_the_state() -> None:
    inputs = provider_inputs()
    assert AMBIENT not in repr(inputs)
    # Empty, not absent: absent is what makes the SDK read $KUBECONFIG.
    assert inputs["kubeconfig"] == ""
    assert "context" not in inputs


@pytest.mark.usefixtures("ambient_kubeconfig")
def test_a_kubeconfig_set_in_stack_config_is_passed_and_kept_secret() -> None:
    plan = run_program(
        "dev", {"kubernetes:context": "prod-eu"}, secrets={"kubernetes:kubeconfig": "apiVersion: v1\n"}
    )
    (provider,) = plan.of_type(PROVIDER)
    assert provider.secret_inputs["kubeconfig"] == "apiVersion: v1\n"
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.secret_inputs["context"] == "prod-eu"
    # The context names the cluster unless an identifier is given.
    assert provider.secret_inputs["clusterIdentifier"] == "prod-eu"


def test_cluster_identifier_is_stable_across_kubeconfig_edits() -> None:
    first = provider_inputs()
    second = run_program("dev", secrets={"kubernetes:kubeconfig": "rotated token"}).of_type(PROVIDER)[0]
    assert first["clusterIdentifier"] == second.secret_inputs["clusterIdentifier"] == "botfront-dev"
    chosen = provider_inputs(**{"kubernetes:clusterIdentifier": "eks-prod-2"})
    assert chosen["clusterIdentifier"] == "eks-prod-2"


@pytest.mark.usefixtures("ambient_kubeconfig")
def test_render_mode_passes_no_context_or_kubeconfig_and_renders_everything() -> None:
    inputs = provider_inputs(
        renderTo="build/manifests", **{"kubernetes:context": "prod-eu", "kubernetes:kubeconfig": "x"}
    )
    assert inputs["renderYamlToDirectory"] == "build/manifests"
    assert inputs["alwaysRender"] == "true"  # the SDK sends booleans as JSON text
    assert "context" not in inputs and "cluster" not in inputs
    assert inputs["kubeconfig"] == "" and AMBIENT not in repr(inputs)
    assert inputs["clusterIdentifier"] == "render:build/manifests"


def test_deploying_stacks_do_not_render() -> None:
    inputs = provider_inputs()
    assert "renderYamlToDirectory" not in inputs and "alwaysRender" not in inputs


def test_render_mode_says_which_connection_settings_it_ignores(caplog: pytest.LogCaptureFixture) -> None:
    provider_inputs(renderTo="out", **{"kubernetes:context": "prod-eu"})
    assert any("kubernetes:context ignored" in r.getMessage() for r in caplog.records)


def test_no_provider_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENABLE_SERVER_SIDE_APPLY",
        "ENABLE_PATCH_FORCE",
        "SKIP_UPDATE_UNREACHABLE",
        "UPSERT_EXISTING_OBJECTS",
        "ENABLE_SECRET_MUTABLE",
        "ENABLE_CONFIGMAP_MUTABLE",
    ):
        value = "false" if name.startswith("ENABLE_S") or name.endswith("MUTABLE") else "true"
        monkeypatch.setenv(f"PULUMI_K8S_{name}", value)
    inputs = provider_inputs()
    assert inputs["enableServerSideApply"] == "true" and inputs["enableSecretMutable"] == "true"
    assert inputs["enableConfigMapMutable"] == "true"
    assert (
        inputs["enablePatchForce"]
        == inputs["skipUpdateUnreachable"]
        == inputs["upsertExistingObjects"]
        == "false"
    )


def test_delete_unreachable_is_left_to_the_destroy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unset in the state, so PULUMI_K8S_DELETE_UNREACHABLE set by ops/ephemeral.py's destroy applies.
    monkeypatch.delenv("PULUMI_K8S_DELETE_UNREACHABLE", raising=False)
    assert "deleteUnreachable" not in provider_inputs()


@pytest.mark.parametrize("value", ["true", "1", "True", "false", "0"])
def test_a_program_run_with_delete_unreachable_set_is_refused_before_anything_is_registered(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # What `PULUMI_K8S_DELETE_UNREACHABLE=true pulumi up` would do: the SDK would store the value in
    # the provider's state (true: every later unreachable up/refresh empties the state; false:
    # the ephemeral destroy's variable is overridden forever).
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", value)
    refused: list[BaseException] = []

    def program() -> None:
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        except pulumi.RunError as error:
            refused.append(error)

    config, secret_keys = load_stack_config("dev")
    plan = run_components(program, "dev", config, secret_keys)
    (error,) = refused
    assert type(error).__name__ == "UnsafeEnvironment"  # a RunError: the host prints no traceback
    message = str(error)
    assert f"PULUMI_K8S_DELETE_UNREACHABLE={value}" in message and "nothing was deployed" in message
    assert "unset PULUMI_K8S_DELETE_UNREACHABLE" in message
    assert plan.resources == []


def test_a_value_the_sdk_ignores_is_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK stores only the spellings of Go's ParseBool (pulumi_kubernetes _utilities.get_env_bool).
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "yes")
    assert "deleteUnreachable" not in provider_inputs()
