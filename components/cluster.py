"""Where the stack deploys: an explicit Kubernetes provider and the stack's namespace."""

from __future__ import annotations

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


# The `kubernetes:*` keys this program reads (components/settings.py refuses every other one).
KUBERNETES_KEYS = ("context", "kubeconfig", "clusterIdentifier")


def provider_inputs(kube: pulumi.Config, stack: str, render_to: str | None) -> dict[str, Any]:
    """Where the explicit provider connects, from `kubernetes:*` stack config and nothing else.

    An explicit provider does not read `kubernetes:*` stack config by itself, and the SDK fills an
    unset `kubeconfig` from `$KUBECONFIG` (pulumi_kubernetes 4.34.2 provider.py,
    `_internal_init`: `if kubeconfig is None: kubeconfig = _utilities.get_env('KUBECONFIG')`).
    That path would be stored in the provider's state, and the next run on another machine fails
    to parse it while diffing the provider (pulumi-kubernetes#2663; DiffConfig calls
    parseKubeconfigPropertyValue on the old and the new value). An empty kubeconfig is never
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
            # a destroy (provider.go, Configure: "the provider flag ... will override the ENV var").
            enable_server_side_apply=True,
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
