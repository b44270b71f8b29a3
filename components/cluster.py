"""Where the stack deploys: an explicit Kubernetes provider and the stack's namespace."""

from __future__ import annotations

from dataclasses import dataclass

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


class KubernetesTarget(pulumi.ComponentResource):
    provider: k8s.Provider
    namespace: core.Namespace | None
    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesTargetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:cluster:KubernetesTarget", name, None, opts)
        # An explicit provider does not read `kubernetes:*` stack config by itself.
        kube = pulumi.Config("kubernetes")
        self.provider = k8s.Provider(
            f"{name}-provider",
            context=kube.get("context"),
            # A kubeconfig holds credentials: keep it secret in the state even if set in plain text.
            kubeconfig=kube.get_secret("kubeconfig"),
            render_yaml_to_directory=args.render_to,
            # Update Secrets in place; the pods that read them roll through checksum annotations
            # instead of the Secret being deleted and re-created under running pods.
            enable_secret_mutable=True,
            enable_config_map_mutable=True,
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
