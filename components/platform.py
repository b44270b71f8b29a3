"""BotfrontPlatform: the models volume, Rasa's config, every service, and the ingresses."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes.apiextensions as apiextensions
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.networking.v1 as networking

from components import rasa_config
from components.database import data_volume
from components.pod_options import settings_key
from components.releases import RASA_PUBLIC_PATHS
from components.services import BOTFRONT, PORTS, RASA, application_specs
from components.settings import RasaInstance, Settings
from components.workload import Workload, WorkloadArgs

# ingress-nginx: Meteor's DDP and Rasa's socket.io need websockets (native in ingress-nginx) and
# sticky sessions for their polling fallback; training uploads and long trainings need large
# bodies and long timeouts (the botfront-project chart's values).
NGINX_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/affinity": "cookie",
    "nginx.ingress.kubernetes.io/session-cookie-name": "botfront-affinity",
    "nginx.ingress.kubernetes.io/proxy-body-size": "32m",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
}


@dataclass
class BotfrontPlatformArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    secret_name: str
    # Keys the checksum annotations (HMAC) so they reveal nothing about secret content.
    checksum_key: pulumi.Input[str]
    # Everything in the stack's Secret; each pod's checksum covers the keys it reads.
    secret_entries: Mapping[str, pulumi.Input[str]]
    depends_on: Sequence[pulumi.Resource] = ()


def checksum(key: pulumi.Input[str], parts: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    """An HMAC-SHA256 of `parts`: changes whenever they do, reveals nothing about them."""

    def digest(values: list[str]) -> str:
        secret_key, *contents = values
        return hmac.new(secret_key.encode(), "\0".join(contents).encode(), hashlib.sha256).hexdigest()

    return pulumi.Output.unsecret(pulumi.Output.all(key, *parts).apply(digest))


class BotfrontPlatform(pulumi.ComponentResource):
    workloads: dict[str, Workload]
    ingresses: dict[str, networking.Ingress]
    # Keyed by Route name: one per public path (a Route has a single path).
    routes: dict[str, apiextensions.CustomResource]
    models_volumes: dict[str, core.PersistentVolumeClaim]
    rasa_configs: dict[str, core.Secret]

    def __init__(self, name: str, args: BotfrontPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:platform:BotfrontPlatform", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/part-of": "botfront", "app.kubernetes.io/instance": settings.stack}
        self.namespace = args.namespace
        self.labels = labels

        # What each workload waits for, and the checksum of the config it reads.
        needs: dict[str, list[pulumi.Resource]] = {}
        config_checksums: dict[str, pulumi.Output[str]] = {}
        self.models_volumes = {}
        self.rasa_configs = {}
        for instance in settings.rasa_instances:
            volume = data_volume(
                instance.models_claim,
                namespace=args.namespace,
                size=settings.models.size,
                storage_class=settings.models.storage_class,
                access_mode=settings.models.access_mode,
                protect=settings.protect,
                parent=self,
                labels=labels,
            )
            self.models_volumes[instance.name] = volume
            config, config_checksum = self._rasa_config(instance, settings, args.checksum_key, child)
            self.rasa_configs[instance.name] = config
            config_checksums[instance.name] = config_checksum
            # Not the volume: a consumer that waits for its claim deadlocks under a
            # WaitForFirstConsumer class (components/database.py, data_volume).
            needs[instance.name] = [config]

        self.workloads = {}
        for spec in application_specs(settings):
            annotations: dict[str, pulumi.Input[str]] = {}
            # Only the keys this pod reads from the stack's Secret: a key added for another pod
            # (a new project's Rasa token, mailUrl for botfront) leaves this pod as it is.
            read = sorted({e.secret_key for e in spec.env if e.secret_key and e.secret_name is None})
            if read:
                annotations["checksum/secrets"] = checksum(
                    args.checksum_key,
                    [pulumi.Output.concat(k, "=", args.secret_entries[k]) for k in read],
                )
            if spec.name in config_checksums:
                annotations["checksum/rasa-config"] = config_checksums[spec.name]
            self.workloads[spec.name] = Workload(
                spec.name,
                WorkloadArgs(
                    spec=spec,
                    namespace=args.namespace,
                    secret_name=args.secret_name,
                    openshift=settings.platform == "openshift",
                    pod_annotations=annotations,
                    labels=labels,
                    image_pull_secrets=settings.image_pull_secrets,
                    placement=settings.placement_for(settings_key(spec.name)),
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*needs.get(spec.name, []), *args.depends_on]
                ),
            )

        self.ingresses = {}
        self.routes = {}
        if settings.ingress.enabled:
            # Botfront's whole UI is public; of Rasa only the channel paths: its HTTP API
            # (training, models, conversations) is for Botfront, inside the cluster.
            public: list[tuple[str, str, tuple[str, ...]]] = [
                (BOTFRONT, settings.root_url, (urlsplit(settings.root_url).path or "/",))
            ]
            public += [(i.name, i.rasa_url, RASA_PUBLIC_PATHS) for i in settings.rasa_instances]
            for service, url, paths in public:
                if settings.platform == "openshift":
                    for path in paths:
                        name = service if service == BOTFRONT else f"{service}-{_path_label(path)}"
                        self.routes[name] = _route(name, service, url, path, args.namespace, labels, child)
                else:
                    self.ingresses[service] = _ingress(
                        service, url, paths, settings, args.namespace, labels, child
                    )

        self.botfront_url = settings.root_url
        self.rasa_url = settings.rasa_url
        self.rasa_instances = [
            {
                "project": instance.project_id,
                "environment": instance.environment,
                "rasaUrl": instance.rasa_url,
                # In-cluster host; Settings > Instance takes the development one (README.md).
                "instanceHost": f"http://{instance.name}:{PORTS[RASA]}",
                # Botfront 0.27.5 sends no token to Rasa, whose API then takes none.
                "authTokenKey": instance.token_key if settings.release.rasa_token else None,
            }
            for instance in settings.rasa_instances
        ]
        self.register_outputs(
            {
                "botfrontUrl": self.botfront_url,
                "rasaUrl": self.rasa_url,
                "rasaInstances": self.rasa_instances,
                "services": sorted(self.workloads),
            }
        )

    def _rasa_config(
        self,
        instance: RasaInstance,
        settings: Settings,
        checksum_key: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ) -> tuple[core.Secret, pulumi.Output[str]]:
        """endpoints.yml + credentials.yml for one Rasa, and their checksum."""
        config_inputs = pulumi.Output.from_input(settings.chatbase_api_key).apply(
            lambda chatbase: rasa_config.RasaConfigInputs(
                rasa_url=instance.rasa_url,
                actions=instance.actions_service is not None,
                max_events=settings.tracker.max_events,
                persist_time=settings.tracker.persist_time,
                regression_test_channel=settings.release.regression_test_channel,
                chatbase_api_key=chatbase,
                actions_service=instance.actions_service or "actions",
                model_server=instance.model_server,
            )
        )
        endpoints_yml = config_inputs.apply(lambda i: rasa_config.render(rasa_config.endpoints(i)))
        credentials_yml = config_inputs.apply(lambda i: rasa_config.render(rasa_config.credentials(i)))
        name = instance.config_secret
        secret = core.Secret(
            name,
            metadata=meta.ObjectMetaArgs(name=name, namespace=self.namespace, labels=self.labels),
            type="Opaque",
            string_data={"endpoints.yml": endpoints_yml, "credentials.yml": credentials_yml},
            opts=opts,
        )
        return secret, checksum(checksum_key, [endpoints_yml, credentials_yml])


def service_kind(service: str) -> str:
    """`rasa-<project>-<env>` is a rasa."""
    return RASA if service.startswith(RASA + "-") else service


def _path_label(path: str) -> str:
    """`/socket.io/` -> `socket-io`: a path as part of an object name."""
    return path.strip("/").replace(".", "-").replace("/", "-")


def _route(
    name: str,
    service: str,
    url: str,
    path: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> apiextensions.CustomResource:
    """An OpenShift Route for one path: the router's cookies already keep sessions sticky."""
    parts = urlsplit(url)
    spec: dict[str, object] = {
        "host": parts.hostname,
        "path": path,
        "to": {"kind": "Service", "name": service, "weight": 100},
        "port": {"targetPort": "http"},
        "wildcardPolicy": "None",
    }
    if parts.scheme == "https":
        spec["tls"] = {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    return apiextensions.CustomResource(
        name,
        api_version="route.openshift.io/v1",
        kind="Route",
        metadata=meta.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels=dict(labels),
            # Long trainings and uploads; the router's default is 30 s.
            annotations={"haproxy.router.openshift.io/timeout": "3600s", "pulumi.com/skipAwait": "true"},
        ),
        spec=spec,
        opts=opts,
    )


def _ingress(
    service: str,
    url: str,
    paths: Sequence[str],
    settings: Settings,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> networking.Ingress:
    ingress = settings.ingress
    host = urlsplit(url).hostname or ""
    annotations: dict[str, str] = {
        # Many controllers never publish a load-balancer address; don't wait for one.
        "pulumi.com/skipAwait": "true",
    }
    if ingress.class_name == "nginx":
        annotations.update(NGINX_ANNOTATIONS)
    if ingress.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = ingress.cluster_issuer
    annotations.update(ingress.annotations)
    tls = None
    if ingress.tls:
        tls = [
            networking.IngressTLSArgs(hosts=[host], secret_name=ingress.tls_secret_name or f"{service}-tls")
        ]
    return networking.Ingress(
        service,
        metadata=meta.ObjectMetaArgs(
            name=service, namespace=namespace, labels=dict(labels), annotations=annotations
        ),
        spec=networking.IngressSpecArgs(
            ingress_class_name=ingress.class_name,
            tls=tls,
            rules=[
                networking.IngressRuleArgs(
                    host=host,
                    http=networking.HTTPIngressRuleValueArgs(
                        paths=[
                            networking.HTTPIngressPathArgs(
                                path=path,
                                path_type="Prefix",
                                backend=networking.IngressBackendArgs(
                                    service=networking.IngressServiceBackendArgs(
                                        name=service,
                                        port=networking.ServiceBackendPortArgs(
                                            number=PORTS[service_kind(service)]
                                        ),
                                    )
                                ),
                            )
                            for path in paths
                        ]
                    ),
                )
            ],
        ),
        opts=opts,
    )
