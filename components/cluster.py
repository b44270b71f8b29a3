"""Where the stack deploys: an explicit Kubernetes provider and the stack's namespace."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta

from components.database import keep_data


@dataclass
class KubernetesTargetArgs:
    namespace: str
    protect: bool
    # Write manifests here instead of applying them (the provider's render mode).
    render_to: str | None = None
    # False: deploy into an existing namespace (botfront:createNamespace), which the stack then
    # neither creates, labels nor deletes.
    create_namespace: bool = True


DELETE_UNREACHABLE_ENV = "PULUMI_K8S_DELETE_UNREACHABLE"
# The texts the SDK turns into a boolean input (pulumi_kubernetes 4.34.2 _utilities.py,
# get_env_bool: Go's strconv.ParseBool spellings); any other text is ignored by the SDK.
_SDK_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_SDK_FALSE = ("0", "f", "F", "false", "FALSE", "False")


class UnsafeEnvironment(pulumi.RunError):
    """The program must not run in this environment. A `pulumi.RunError`: the language host
    prints the message only, no traceback."""


def refuse_delete_unreachable(environ: Mapping[str, str] | None = None) -> None:
    """Refuse to run the program with PULUMI_K8S_DELETE_UNREACHABLE set (true or false).

    "Delete unreachable" belongs to `pulumi destroy` only (ops/ephemeral.py sets it there). A run
    of the program would make it permanent: with `delete_unreachable` unset the SDK copies the
    variable into the provider's inputs (pulumi_kubernetes 4.34.2 provider.py, `_internal_init`:
    `if delete_unreachable is None: delete_unreachable = _utilities.get_env_bool(
    'PULUMI_K8S_DELETE_UNREACHABLE')`), which the state keeps. A stored true makes every later
    up or refresh that cannot reach the cluster drop every object from the state, and the
    provider honours the variable in this very run as well; a stored false overrides the variable
    that the ephemeral destroy and the reaper set, so they fail forever once the cluster is gone.
    The stored input wins over the variable: pulumi/pulumi-kubernetes@v4.32.0:
    provider/pkg/provider/provider.go, Configure ("If the provider flag is set, use that value
    ... This will override the ENV var"), and Read/Delete act on `k.deleteUnreachable` when the
    cluster is unreachable. ASSUMPTION: unchanged at the pinned v4.34.2 (the mirror stops at
    v4.32.0).

    `pulumi destroy` runs no program, so it never reaches this check and the variable does its
    job there: pulumi/pulumi@v3.259.0: pkg/engine/destroy.go, newDestroySource ("We don't need
    the language plugin, since destroy doesn't run code") unless `--run-program` or
    PULUMI_RUN_PROGRAM is given (pkg/cmd/pulumi/operations/destroy.go, `run-program` flag;
    DestroyV2). ASSUMPTION: unchanged at the pinned v3.272.0 (the mirror stops at v3.259.0).
    """
    value = (os.environ if environ is None else environ).get(DELETE_UNREACHABLE_ENV)
    if value is None or value not in (*_SDK_TRUE, *_SDK_FALSE):
        return
    if value in _SDK_TRUE:
        effect = (
            "stored in the provider's state, it would make every later up or refresh that cannot "
            "reach the cluster drop every object from the state"
        )
    else:
        effect = (
            "the provider's state would keep deleteUnreachable=false, which overrides the variable "
            "set by `python -m ops.ephemeral destroy` and the reaper, so they could never remove "
            "a stack whose cluster is gone"
        )
    raise UnsafeEnvironment(
        f"{DELETE_UNREACHABLE_ENV}={value} is set in the environment of a program run; nothing was "
        f"deployed: {effect}. Unset it (`unset {DELETE_UNREACHABLE_ENV}`) and run again. It belongs "
        f"to `pulumi destroy` (without --run-program) of a stack whose cluster no longer exists, "
        f"which ops/ephemeral.py sets for its own destroys."
    )


# The `kubernetes:*` keys this program reads (components/settings.py refuses every other one).
KUBERNETES_KEYS = ("context", "kubeconfig", "clusterIdentifier")


def provider_inputs(kube: pulumi.Config, stack: str, render_to: str | None) -> dict[str, Any]:
    """Where the explicit provider connects, from `kubernetes:*` stack config and nothing else.

    An explicit provider does not read `kubernetes:*` stack config by itself, and the SDK fills an
    unset `kubeconfig` from `$KUBECONFIG` (pulumi_kubernetes 4.34.2 provider.py,
    `_internal_init`: `if kubeconfig is None: kubeconfig = _utilities.get_env('KUBECONFIG')`).
    That path would be stored in the provider's state, and the next run on another machine fails
    to parse it while diffing the provider (pulumi-kubernetes#2663):
    pulumi/pulumi-kubernetes@v4.32.0:provider/pkg/provider/provider.go, DiffConfig, calls
    `parseKubeconfigPropertyValue(olds["kubeconfig"])` and returns its error, and
    provider/pkg/provider/util.go `parseKubeconfigString` reads a string as a file only when
    `os.Stat` finds it, else parses the path itself as kubeconfig contents. ASSUMPTION: the same
    in the pinned 4.34.2 (the mirror stops at v4.32.0). An empty kubeconfig is never
    captured and makes the provider load the ambient config itself (client-go's default loading
    rules: `$KUBECONFIG`, then ~/.kube/config): pulumi/pulumi-kubernetes@v4.32.0:
    provider/pkg/provider/provider.go, Configure, "the Python SDK was setting the kubeconfig value
    to "" by default, so explicitly check for empty string".

    `clusterIdentifier` makes the provider replace (and every object with it) only when that
    identifier changes, never on a kubeconfig edit such as a rotated token (same file, DiffConfig:
    `diff.Same(clusterIdentifierKey) && news.HasValue(clusterIdentifierKey)` drops all replaces).
    Set `kubernetes:clusterIdentifier` to move a stack to another cluster on purpose.

    Render mode (`renderTo`): Check refuses `context`, `cluster` and a non-ambient `kubeconfig`
    together with `renderYamlToDirectory` (same file, Check, `errTemplate`), so none is passed;
    `alwaysRender` writes every object on every update, not only the changed ones (Check:
    "alwaysRender requires renderYamlToDirectory"; Diff reports changes when
    `k.yamlRenderMode && k.alwaysRender`). The identifier names the directory, so switching a
    stack between rendering and deploying is a visible replacement of every object, as the
    provider itself would plan it (DiffConfig replaces on a changed `renderYamlToDirectory`).

    ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0 (the mirror stops at v4.32.0/v3.259.0):
    the provider's Configure, DiffConfig and Check read above are v4.32.0's. The SDK side is read
    in the installed 4.34.2 SDK itself (provider.py, `_internal_init`).
    """
    if render_to:
        ignored = [k for k in KUBERNETES_KEYS if kube.get_secret(k) is not None]
        if ignored:
            pulumi.log.warn(
                f"botfront:renderTo is set: kubernetes:{', kubernetes:'.join(ignored)} ignored "
                "(a render-mode stack connects to no cluster and never deploys)"
            )
        return {
            "kubeconfig": "",
            "render_yaml_to_directory": render_to,
            "always_render": True,
            "cluster_identifier": f"render:{render_to}",
        }
    context = kube.get("context")
    return {
        "context": context,
        # A kubeconfig holds credentials: keep it secret in the state even if set in plain text.
        "kubeconfig": kube.get_secret("kubeconfig") or "",
        "cluster_identifier": kube.get("clusterIdentifier") or context or f"botfront-{stack}",
    }


class KubernetesTarget(pulumi.ComponentResource):
    provider: k8s.Provider
    namespace: core.Namespace | None
    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesTargetArgs, opts: pulumi.ResourceOptions | None = None):
        # Before anything is registered: the provider below would store the variable.
        refuse_delete_unreachable()
        super().__init__("botfront:cluster:KubernetesTarget", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-provider",
            **provider_inputs(pulumi.Config("kubernetes"), pulumi.get_stack(), args.render_to),
            # Update Secrets in place; the pods that read them roll through checksum annotations
            # instead of the Secret being deleted and re-created under running pods.
            enable_secret_mutable=True,
            enable_config_map_mutable=True,
            # Pinned: left unset, the SDK copies PULUMI_K8S_* variables of whoever runs `pulumi up`
            # into the provider's state (provider.py, `get_env_bool`). Not `delete_unreachable`:
            # a value in the state would override the variable that ops/ephemeral.py sets for
            # a destroy (provider.go@v4.32.0, Configure: "the provider flag ... will override the
            # ENV var"; ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0, the mirror stops at
            # v4.32.0/v3.259.0); refuse_delete_unreachable keeps the variable out of a program run.
            enable_server_side_apply=True,
            # Conflicts stop an update, except on Deployments, which force their own apply
            # (components/workload.py, PATCH_FORCE_ANNOTATION: kubectl scale must not wedge it).
            enable_patch_force=False,
            skip_update_unreachable=False,
            upsert_existing_objects=False,
            suppress_deprecation_warnings=False,
            suppress_helm_hook_warnings=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if not args.create_namespace:
            self.namespace = None
            self.namespace_name = pulumi.Output.from_input(args.namespace)
            self.register_outputs({"namespace": self.namespace_name})
            return
        # Deleting a namespace deletes its volumes, so it is kept exactly like the data it holds.
        self.namespace = core.Namespace(
            args.namespace,
            metadata=meta.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    "app.kubernetes.io/part-of": "botfront",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            ),
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, provider=self.provider), keep_data(args.protect)
            ),
        )
        self.namespace_name = self.namespace.metadata.name
        self.register_outputs({"namespace": self.namespace_name})
