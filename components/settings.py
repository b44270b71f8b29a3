"""Typed, validated settings for one stack.

`parse_settings` is pure: it takes the raw `botfront:*` values (as `pulumi config` stores them)
and returns frozen dataclasses, or raises `ConfigError` listing every problem at once, each
naming the key, the value and what is allowed. `load_settings` feeds it from `pulumi.Config`.
Nothing here registers a resource, so bad input never leaves a half-built stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pulumi

from components import day2_settings as day2
from components.atlas_settings import AtlasSettings, parse_atlas
from components.backup_settings import BackupSettings, parse_backup
from components.day2_settings import EgressRule, EnvSource, Placement, SecretKeyRef
from components.releases import CATALOG, DEFAULT_RELEASE, Release, pinning_problem
from components.validation import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    Problems,
    check_quantity,
    check_url,
    is_ip,
    parse_quantity,
)

PROJECT = "botfront"

# Requests are the installation document's minimums ("Indicative technical requirements");
# limits leave room for Rasa training and Meteor's heap. Actions and MongoDB are not in that
# table: their figures are ours.
DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "botfront": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "botfrontApi": {
        "requests": {"cpu": "500m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    },
    "duckling": {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
    "rasa": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}},
    "actions": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "mongo": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
}
SERVICE_KEYS = tuple(DEFAULT_RESOURCES)
IMAGE_KEYS = ("botfront", "rasa", "duckling", "botfrontApi", "mongo")
# Rasa keeps trackers and socket.io sessions in process memory and MongoDB here is a single-node
# replica set: neither may run more than one replica.
SCALABLE = ("botfront", "duckling", "actions", "botfrontApi")
# Every `botfront:*` key and how its value arrives: "text" as given, "structured" as JSON text
# (objects, lists, booleans, numbers), "secret" as a secret Output.
CONFIG_KEYS = {
    "release": "text",
    "namespace": "text",
    "projectId": "text",
    "rootUrl": "text",
    "rasaUrl": "text",
    "platform": "text",
    "protect": "structured",
    "database": "structured",
    "images": "structured",
    "actions": "structured",
    "duckling": "structured",
    "models": "structured",
    "tracker": "structured",
    "ingress": "structured",
    "resources": "structured",
    "replicas": "structured",
    "mailUrl": "secret",
    "chatbaseApiKey": "secret",
    "renderTo": "text",
    "atlas": "structured",
    "networkPolicy": "structured",
    "projects": "structured",
    "backup": "structured",
    "restoreFrom": "text",
    "security": "structured",
    "imagePullSecrets": "structured",
    "placement": "structured",
    "createNamespace": "structured",
    "rotate": "structured",
    "verify": "structured",
}
KNOWN_KEYS = tuple(CONFIG_KEYS)
STRUCTURED_KEYS = tuple(k for k, kind in CONFIG_KEYS.items() if kind == "structured")
SECRET_KEYS = tuple(k for k, kind in CONFIG_KEYS.items() if kind == "secret")


_PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# A project id becomes part of object names (rasa-<id>-production): lower-case DNS label rules,
# short enough that `rasa-config-<id>-development` stays a valid label.
_PROJECT_NAME_PART = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# MongoDB's own databases: Botfront's collections must not land there.
RESERVED_DATABASES = ("admin", "local", "config")
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class Resources:
    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class Database:
    mode: str = "incluster"
    name: str = "bf"
    oplog: bool = True
    # The in-cluster MongoDB's volume (not the models volume's class: that one may be RWX/NFS,
    # which MongoDB must not run on).
    size: str = "10Gi"
    storage_class: str | None = None
    # mode external: the user's Secret keys holding MONGO_URL and MONGO_OPLOG_URL.
    url_secret: SecretKeyRef | None = None
    oplog_url_secret: SecretKeyRef | None = None


@dataclass(frozen=True)
class ModelsVolume:
    size: str = "5Gi"
    access_mode: str = "ReadWriteOnce"
    storage_class: str | None = None

    @property
    def shared_by_node(self) -> bool:
        """RWO: every pod that mounts the volume must run on the node that attached it."""
        return self.access_mode == "ReadWriteOnce"


@dataclass(frozen=True)
class Tracker:
    max_events: int = 100
    persist_time: int = 3600


@dataclass(frozen=True)
class Ingress:
    enabled: bool = True
    class_name: str = "nginx"
    tls_secret_name: str | None = None
    cluster_issuer: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return bool(self.tls_secret_name or self.cluster_issuer)


ENVIRONMENTS = ("development", "production")


@dataclass(frozen=True)
class Project:
    """A Botfront project; each of its environments gets its own Rasa."""

    id: str  # Botfront's project id (BF_PROJECT_ID), e.g. bf or Hx8CFdNpfY6HpEpj2
    environments: tuple[str, ...]
    rasa_resources: Resources
    actions_image: str | None = None
    # Explicit public Rasa URLs per environment (others are derived).
    rasa_urls: Mapping[str, str] = field(default_factory=dict)
    # The project in Kubernetes names (rasa-<name>-<environment>); the id when it is valid there.
    name: str = ""
    # The project named by botfront:projectId: its development Rasa keeps the plain names.
    default: bool = True
    actions_env: Mapping[str, str] = field(default_factory=dict)
    actions_env_from: tuple[EnvSource, ...] = ()

    @property
    def default_environment(self) -> str:
        return "development" if "development" in self.environments else self.environments[0]


@dataclass(frozen=True)
class RasaInstance:
    """One Rasa per (project, environment): trackers live in process memory, so no sharing.

    The first project's first environment is the default instance and keeps the plain names
    (`rasa`, `models`, `rasa-config`), the host Botfront seeds into its instance settings.
    """

    project_id: str
    project_name: str
    environment: str
    default: bool
    rasa_url: str
    resources: Resources
    # Service name of the project's action server, if it has one.
    actions_service: str | None

    @property
    def suffix(self) -> str:
        return "" if self.default else f"-{self.project_name}-{self.environment}"

    @property
    def name(self) -> str:
        return "rasa" + self.suffix

    @property
    def models_claim(self) -> str:
        return "models" + self.suffix

    @property
    def config_secret(self) -> str:
        return "rasa-config" + self.suffix

    @property
    def token_key(self) -> str:
        return "rasa-auth-token" + self.suffix


def actions_service_name(project: Project) -> str | None:
    if project.actions_image is None:
        return None
    return "actions" if project.default else f"actions-{project.name}"


def instance_url(project: Project, environment: str, root_url: str, rasa_url: str) -> str | None:
    """The public URL of one Rasa: given, the stack's rasaUrl for the default one, or derived."""
    if environment in project.rasa_urls:
        return project.rasa_urls[environment]
    if project.default and environment == project.default_environment:
        return rasa_url
    return derive_rasa_url(root_url, project.name, environment)


@dataclass(frozen=True)
class SecurityOverride:
    """What a stack may relax for an image that needs it (`botfront:security.<service>`)."""

    run_as_user: int | None = None
    read_only_root_filesystem: bool | None = None


@dataclass(frozen=True)
class NetworkPolicy:
    enabled: bool = True
    # Where the ingress controller runs: its pods may reach the UI and Rasa. None on OpenShift
    # means the router's policy group (routers on the host network come from node addresses).
    ingress_namespace: str | None = "ingress-nginx"
    extra_egress: Mapping[str, tuple[EgressRule, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    stack: str
    release: Release
    namespace: str
    project_id: str
    root_url: str
    rasa_url: str
    rasa_url_derived: bool
    platform: str
    protect: bool
    database: Database
    images: Mapping[str, str]
    actions_image: str | None
    duckling: bool
    models: ModelsVolume
    tracker: Tracker
    ingress: Ingress
    resources: Mapping[str, Resources]
    replicas: Mapping[str, int]
    atlas: AtlasSettings | None = None
    mail_url: pulumi.Input[str] | None = None
    chatbase_api_key: pulumi.Input[str] | None = None
    render_to: str | None = None
    network_policy: NetworkPolicy = field(default_factory=NetworkPolicy)
    projects: tuple[Project, ...] = ()
    backup: BackupSettings | None = None
    security: Mapping[str, SecurityOverride] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    placement: Mapping[str, Placement] = field(default_factory=dict)
    create_namespace: bool = True
    rotate: Mapping[str, int] = field(default_factory=dict)

    # Run the verification Job (components/verify.py); never when rendering manifests.
    verify: bool = True

    def placement_for(self, service: str) -> Placement:
        return day2.placement_for(self.placement, service)

    @property
    def rasa_instances(self) -> tuple[RasaInstance, ...]:
        """Every Rasa, the default one first; names follow (project, environment), not order."""
        instances = [
            RasaInstance(
                project_id=project.id,
                project_name=project.name,
                environment=environment,
                default=project.default and environment == project.default_environment,
                rasa_url=instance_url(project, environment, self.root_url, self.rasa_url) or self.rasa_url,
                resources=project.rasa_resources,
                actions_service=actions_service_name(project),
            )
            for project in self.projects
            for environment in project.environments
        ]
        return tuple(sorted(instances, key=lambda i: (not i.default, i.project_name, i.environment)))

    @property
    def actions(self) -> tuple[tuple[str, Project], ...]:
        """(service name, project) of every action server."""
        return tuple(sorted((name, p) for p in self.projects if (name := actions_service_name(p))))

    @property
    def botfront_api(self) -> bool:
        return self.release.botfront_api is not None


def derive_rasa_url(root_url: str, project: str | None = None, environment: str | None = None) -> str | None:
    """`https://botfront.example.com` -> `https://rasa.botfront.example.com` (same scheme, port);
    for another project and environment `https://rasa-<project>-<environment>.botfront.example.com`.
    """
    parts = urlsplit(root_url)
    host = parts.hostname or ""
    if not host or is_ip(host):
        return None
    label = f"rasa-{project}-{environment}" if project and environment else "rasa"
    netloc = f"{label}.{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def parse_settings(
    raw: Mapping[str, Any],
    stack: str = "dev",
    secrets: Mapping[str, pulumi.Input[str]] | None = None,
    stack_config: day2.StackConfig | None = None,
) -> Settings:
    """Validate raw `botfront:*` config (keys without the prefix) into `Settings`;
    `stack_config` (every key of the stack, all namespaces) adds the checks across namespaces."""
    p = Problems(PROJECT)
    secrets = secrets or {}
    if stack_config is not None:
        day2.refuse_unknown_config(p, stack_config, day2.provider_config_keys(), PROJECT)
        day2.refuse_plain_text_secrets(p, stack_config, PROJECT)
    for key in raw:
        if key not in KNOWN_KEYS:
            p.add(key, raw[key], "unknown key; known keys: " + ", ".join(KNOWN_KEYS))

    release_name = p.choice("release", raw.get("release"), DEFAULT_RELEASE, CATALOG)
    release = CATALOG[release_name]
    namespace = p.string(
        "namespace",
        raw.get("namespace"),
        "botfront",
        DNS_LABEL,
        "a DNS-1123 label: 1-63 lower-case letters, digits or '-', starting and ending "
        "with a letter or digit",
        max_len=63,
    )
    if namespace in RESERVED_NAMESPACES:
        p.add(
            "namespace",
            namespace,
            "a namespace of the stack's own: the stack creates, labels and (unprotected) deletes it; "
            "not one of " + ", ".join(RESERVED_NAMESPACES),
        )
    project_id = p.string(
        "projectId",
        raw.get("projectId"),
        "bf",
        _PROJECT_ID,
        "a Botfront project id: 1-64 letters, digits, '_' or '-', e.g. bf",
    )
    platform = p.choice("platform", raw.get("platform"), "kubernetes", ("kubernetes", "openshift"))
    protect = p.boolean("protect", raw.get("protect"), True)

    root_url = check_url(p, "rootUrl", raw.get("rootUrl"), required=True)
    rasa_url = check_url(p, "rasaUrl", raw.get("rasaUrl"), required=False)
    rasa_url_derived = rasa_url is None
    if root_url and rasa_url is None:
        rasa_url = derive_rasa_url(root_url)
        if rasa_url is None:
            p.add(
                "rasaUrl",
                raw.get("rasaUrl"),
                f"required when rootUrl ({root_url}) has an IP address for a host: Rasa needs "
                "its own public URL for the webchat base_url",
            )
    if root_url and rasa_url and not rasa_url_derived:
        if urlsplit(root_url).netloc == urlsplit(rasa_url).netloc:
            p.add(
                "rasaUrl",
                raw.get("rasaUrl"),
                "must have a different host from rootUrl: Botfront and Rasa both serve "
                "websockets at the root of their host",
            )
        elif urlsplit(rasa_url).path not in ("", "/"):
            p.add("rasaUrl", raw.get("rasaUrl"), "must not have a path: socket.io is served at /socket.io/")
        elif urlsplit(root_url).scheme == "https" and urlsplit(rasa_url).scheme == "http":
            p.add(
                "rasaUrl",
                raw.get("rasaUrl"),
                "must be https like rootUrl: browsers block the UI's webchat otherwise",
            )

    database = _database(p, raw.get("database"))
    images = _images(p, raw.get("images"), release)
    actions_image = _actions(p, raw.get("actions"))
    duckling = p.boolean("duckling", raw.get("duckling"), True)
    models = _models(p, raw.get("models"))
    tracker = _tracker(p, raw.get("tracker"))
    ingress = _ingress(p, raw.get("ingress"))
    resources = _resources(p, raw.get("resources"))
    replicas = _replicas(p, raw.get("replicas"))
    network_policy = _network_policy(p, raw.get("networkPolicy"), platform)
    projects = _projects(p, raw, project_id, actions_image, resources["rasa"])
    several_instances = sum(len(pr.environments) for pr in projects) > 1
    if several_instances and release.botfront_writes_models:
        p.add(
            "projects",
            raw.get("projects"),
            f"several Rasa instances need release 1.0.4 or later: Botfront {release.version} "
            "writes every trained model itself to one MODELS_LOCAL_PATH",
        )
    render_to = p.string("renderTo", raw.get("renderTo"), "", allowed="a directory path") or None
    verify = p.boolean("verify", raw.get("verify"), True)

    if release.botfront_writes_models and models.shared_by_node and replicas["botfront"] > 1:
        p.add(
            "replicas.botfront",
            replicas["botfront"],
            f"more than one botfront replica of release {release.version} (which writes the models "
            "volume) needs models.accessMode ReadWriteMany (and a storageClass that provides it): "
            "a ReadWriteOnce volume attaches to one node",
        )
    if "botfrontApi" in (raw.get("images") or {}) and not release.botfront_api:
        p.add(
            "images.botfrontApi",
            raw["images"]["botfrontApi"],
            f"release {release.version} has no botfront-api service (only 0.2x releases do)",
        )
    atlas = parse_atlas(
        p,
        raw.get("atlas") or None,
        mode=database.mode,
        db_name=database.name,
        oplog=database.oplog,
        protect=protect,
    )

    security = _security(p, raw.get("security"))
    if database.mode == "external":
        day2.refuse_backup_in_external_mode(p, raw.get("backup") or None, raw.get("restoreFrom") or None)
    backup = (
        parse_backup(
            p, raw.get("backup") or None, raw.get("restoreFrom") or None, mode=database.mode, protect=protect
        )
        if database.mode != "external"
        else None
    )
    day2.check_ingress_namespace(p, raw.get("networkPolicy"), raw.get("ingress"), platform)
    projects = tuple(
        replace(project, actions_env=env, actions_env_from=env_from)
        for project, (env, env_from) in zip(
            projects,
            day2.actions_env_per_project(p, raw, [pr.id for pr in projects], project_id),
            strict=True,
        )
    )
    day2.check_extra_egress_targets(
        p,
        network_policy.extra_egress,
        botfront_api=release.botfront_api is not None,
        duckling=duckling,
        actions=any(pr.actions_image for pr in projects),
        mode=database.mode,
        jobs=backup is not None or (verify and render_to is None),
    )
    image_pull_secrets = day2.parse_image_pull_secrets(p, raw.get("imagePullSecrets"))
    placement = day2.parse_placement(p, raw.get("placement"))
    create_namespace = day2.parse_create_namespace(p, raw.get("createNamespace"))
    rotate = day2.parse_rotate(p, raw.get("rotate"))
    if root_url and rasa_url:
        _check_public_urls(p, projects, root_url, rasa_url)
    p.raise_if_any(stack)
    assert root_url is not None and rasa_url is not None  # guaranteed once there are no problems
    if secrets.get("chatbaseApiKey") is not None:
        pulumi.log.warn(
            "botfront:chatbaseApiKey is written into Rasa's tracker_store config, but only the "
            "AnalyticsTrackerStore of Botfront <= 0.21 reads it; the catalog's releases ignore it."
        )
    day2.warn_all(day2.tls_and_platform_warnings(raw, root_url, platform))
    return Settings(
        stack=stack,
        release=release,
        namespace=namespace,
        project_id=project_id,
        root_url=root_url,
        rasa_url=rasa_url,
        rasa_url_derived=rasa_url_derived,
        platform=platform,
        protect=protect,
        database=database,
        images=images,
        actions_image=actions_image,
        duckling=duckling,
        models=models,
        tracker=tracker,
        ingress=ingress,
        resources=resources,
        replicas=replicas,
        atlas=atlas,
        mail_url=secrets.get("mailUrl"),
        chatbase_api_key=secrets.get("chatbaseApiKey"),
        render_to=render_to,
        network_policy=network_policy,
        projects=projects,
        backup=backup,
        security=security,
        image_pull_secrets=image_pull_secrets,
        placement=placement,
        create_namespace=create_namespace,
        rotate=rotate,
        verify=verify and render_to is None,
    )


def _database(p: Problems, value: Any) -> Database:
    raw = p.mapping(
        "database", value, ("mode", "name", "oplog", "size", "storageClass", *day2.EXTERNAL_DATABASE_KEYS)
    )
    mode = p.choice("database.mode", raw.get("mode"), "incluster", ("incluster", "atlas", "external"))
    url_secret, oplog_url_secret = day2.parse_external_database(p, raw, mode)
    if isinstance(raw.get("name"), str) and raw["name"].lower() in RESERVED_DATABASES:
        p.add("database.name", raw["name"], "a MongoDB system database; use a name of its own, e.g. bf")
    if mode == "atlas":
        for key in ("size", "storageClass"):
            if key in raw:
                p.add(
                    f"database.{key}",
                    raw[key],
                    "only applies to database.mode incluster; Atlas disks are set under botfront:atlas",
                )
    return Database(
        mode=mode,
        name=p.string(
            "database.name",
            raw.get("name"),
            "bf",
            _DB_NAME,
            "a short database name: 1-16 letters, digits, '_' or '-' (MongoDB namespaces "
            "<db>.<collection> are length-limited; Botfront recommends e.g. bf)",
        ),
        # Atlas only runs MongoDB 7.0+, whose oplog entries Botfront's Meteor 2.0 cannot read
        # (components/atlas_settings.py): there the oplog is off unless a stack turns it on.
        oplog=p.boolean(
            "database.oplog", raw.get("oplog"), mode == "incluster" or oplog_url_secret is not None
        ),
        size=check_quantity(p, "database.size", raw.get("size"), "bytes") or "10Gi",
        storage_class=p.string(
            "database.storageClass",
            raw.get("storageClass"),
            "",
            DNS_SUBDOMAIN,
            "a StorageClass name (DNS-1123 subdomain)",
            max_len=253,
        )
        or None,
        url_secret=url_secret,
        oplog_url_secret=oplog_url_secret,
    )


def _images(p: Problems, value: Any, release: Release) -> dict[str, str]:
    raw = p.mapping("images", value, IMAGE_KEYS)
    images = dict(release.images)
    for key, image in raw.items():
        if key not in IMAGE_KEYS:
            continue
        problem = pinning_problem(image)
        if problem:
            p.add(f"images.{key}", image, f"the image {problem}")
        else:
            images[key] = image
    return images


def _actions(p: Problems, value: Any, path: str = "actions") -> str | None:
    raw = p.mapping(path, value, ("image", "env", "envFrom"))
    if not raw:
        return None
    image = raw.get("image")
    problem = pinning_problem(image) if image is not None else "is missing"
    if problem:
        p.add(f"{path}.image", image, f"the action server image {problem}")
        return None
    return str(image)


def _models(p: Problems, value: Any) -> ModelsVolume:
    raw = p.mapping("models", value, ("size", "storageClass", "accessMode"))
    size = check_quantity(p, "models.size", raw.get("size"), "bytes") or "5Gi"
    storage_class = p.string(
        "models.storageClass",
        raw.get("storageClass"),
        "",
        DNS_SUBDOMAIN,
        "a StorageClass name (DNS-1123 subdomain)",
        max_len=253,
    )
    access_mode = p.choice(
        "models.accessMode", raw.get("accessMode"), "ReadWriteOnce", ("ReadWriteOnce", "ReadWriteMany")
    )
    return ModelsVolume(size=size, access_mode=access_mode, storage_class=storage_class or None)


def _tracker(p: Problems, value: Any) -> Tracker:
    raw = p.mapping("tracker", value, ("maxEvents", "persistTime"))
    return Tracker(
        # 0 keeps every event in memory (the installation document's meaning of max_events: 0).
        max_events=p.integer("tracker.maxEvents", raw.get("maxEvents"), 100, 0, 100_000),
        persist_time=p.integer("tracker.persistTime", raw.get("persistTime"), 3600, 30, 7 * 86400),
    )


def _ingress(p: Problems, value: Any) -> Ingress:
    raw = p.mapping(
        "ingress", value, ("enabled", "className", "tlsSecretName", "clusterIssuer", "annotations")
    )
    if raw.get("tlsSecretName") and raw.get("clusterIssuer"):
        p.add(
            "ingress.tlsSecretName",
            raw["tlsSecretName"],
            "leave it out with clusterIssuer: cert-manager then issues one certificate per host "
            "(botfront-tls, rasa-tls); one shared secret would be owned by whichever Ingress came first",
        )
    annotations = p.mapping("ingress.annotations", raw.get("annotations"))
    for key, text in annotations.items():
        if not isinstance(text, str):
            p.add(f"ingress.annotations.{key}", text, "annotation values must be strings (quote them)")
    name_rule = "a Kubernetes object name (DNS-1123 subdomain)"
    return Ingress(
        enabled=p.boolean("ingress.enabled", raw.get("enabled"), True),
        class_name=p.string(
            "ingress.className",
            raw.get("className"),
            "nginx",
            DNS_SUBDOMAIN,
            "an IngressClass name (DNS-1123 subdomain)",
            max_len=253,
        ),
        tls_secret_name=p.string(
            "ingress.tlsSecretName", raw.get("tlsSecretName"), "", DNS_SUBDOMAIN, name_rule, 253
        )
        or None,
        cluster_issuer=p.string(
            "ingress.clusterIssuer", raw.get("clusterIssuer"), "", DNS_SUBDOMAIN, name_rule, 253
        )
        or None,
        annotations={k: v for k, v in annotations.items() if isinstance(v, str)},
    )


def _projects(
    p: Problems,
    raw: Mapping[str, Any],
    project_id: str,
    actions_image: str | None,
    rasa_resources: Resources,
) -> tuple[Project, ...]:
    """`botfront:projects`, or the single `projectId` in development when it is absent."""
    single = (Project(project_id, ("development",), rasa_resources, actions_image, name=project_id),)
    value = raw.get("projects")
    if value is None or value == []:  # Pulumi.yaml's default is the empty list
        return single
    if not isinstance(value, list):
        p.add(
            "projects",
            value,
            "expected a non-empty list of {id, name, environments, rasaUrl, resources, actions}",
        )
        return single
    projects: list[Project] = []
    ids: set[str] = set()
    names: set[str] = set()
    allowed_keys = ("id", "name", "environments", "rasaUrl", "resources", "actions")
    for index, item in enumerate(value):
        path = f"projects[{index}]"
        entry = p.mapping(path, item, allowed_keys)
        if not isinstance(item, Mapping):
            continue
        pid = entry.get("id")
        if not isinstance(pid, str) or not _PROJECT_ID.match(pid):
            p.add(f"{path}.id", pid, "expected a Botfront project id: 1-64 letters, digits, '_' or '-'")
            continue
        if pid in ids:
            p.add(f"{path}.id", pid, "duplicate project id: each project is listed once")
            continue
        ids.add(pid)
        name = entry.get("name", pid)
        if not isinstance(name, str) or not _PROJECT_NAME_PART.match(name) or len(name) > 40:
            key = f"{path}.name" if "name" in entry else f"{path}.id"
            p.add(
                key,
                name,
                "the project must be usable in Kubernetes names (rasa-<name>-<environment>): 1-40 "
                "lower-case letters, digits or '-', starting and ending with a letter or digit"
                + ("" if "name" in entry else f"; set {path}.name to such a name for this id"),
            )
            continue
        if name in names:
            p.add(f"{path}.name", name, "two projects have this Kubernetes name: give each its own")
            continue
        names.add(name)
        environments = entry.get("environments", ["development"])
        if not isinstance(environments, list) or not environments:
            p.add(
                f"{path}.environments",
                environments,
                "expected a non-empty list of: " + ", ".join(ENVIRONMENTS),
            )
            environments = ["development"]
        valid_envs: list[str] = []
        for env_index, env in enumerate(environments):
            if env not in ENVIRONMENTS:
                p.add(
                    f"{path}.environments[{env_index}]",
                    env,
                    "unknown Botfront environment; allowed: " + ", ".join(ENVIRONMENTS),
                )
            elif env in valid_envs:
                p.add(f"{path}.environments[{env_index}]", env, "listed twice")
            else:
                valid_envs.append(env)
        urls = p.mapping(f"{path}.rasaUrl", entry.get("rasaUrl"), valid_envs or ENVIRONMENTS)
        rasa_urls = {}
        for env, url in urls.items():
            checked = check_url(p, f"{path}.rasaUrl.{env}", url, required=False)
            if checked and urlsplit(checked).path not in ("", "/"):
                p.add(
                    f"{path}.rasaUrl.{env}", url, "must not have a path: socket.io is served at /socket.io/"
                )
            elif checked:
                rasa_urls[env] = checked
        resources = rasa_resources
        if "resources" in entry:
            resources = _service_resources(
                p, f"{path}.resources", entry["resources"], DEFAULT_RESOURCES["rasa"]
            )
        default = pid == project_id
        image = _actions(p, entry.get("actions"), f"{path}.actions")
        if image is None and default and "actions" not in entry:
            image = actions_image  # the top-level `actions` belongs to the default project
        projects.append(
            Project(pid, tuple(valid_envs or ["development"]), resources, image, rasa_urls, name, default)
        )
    if not projects:
        p.add(
            "projects",
            value,
            "expected a non-empty list of {id, name, environments, rasaUrl, resources, actions}",
        )
        return single
    if not any(project.default for project in projects):
        p.add(
            "projectId",
            project_id,
            "must be the id of one of botfront:projects (its Rasa keeps the plain names that Botfront "
            "seeds, e.g. http://rasa:5005); ids: " + ", ".join(pr.id for pr in projects),
        )
    return tuple(projects)


def _check_public_urls(p: Problems, projects: tuple[Project, ...], root_url: str, rasa_url: str) -> None:
    """Every Rasa needs its own public host: webchat sockets connect to the host's root."""
    hosts: dict[str, str] = {urlsplit(root_url).netloc: "rootUrl"}
    root_scheme = urlsplit(root_url).scheme
    for index, project in enumerate(projects):
        for env in project.environments:
            url = instance_url(project, env, root_url, rasa_url)
            key = f"projects[{index}].rasaUrl.{env}"
            if url == rasa_url and env not in project.rasa_urls:
                hosts[urlsplit(url).netloc] = "rasaUrl"  # checked with rasaUrl itself
                continue
            if url is None:
                p.add(key, None, "required: rootUrl is an IP address, so no Rasa URL can be derived")
                continue
            host = urlsplit(url).netloc
            if host in hosts:
                p.add(
                    key,
                    url,
                    f"the public host is already used by {hosts[host]}: each Rasa instance needs its own",
                )
            else:
                hosts[host] = f"projects[{index}] ({project.id}, {env})"
            if root_scheme == "https" and urlsplit(url).scheme == "http":
                p.add(key, url, "must be https like rootUrl: browsers block the UI's webchat otherwise")


def _security(p: Problems, value: Any) -> dict[str, SecurityOverride]:
    # MongoDB's pod is built by its own component, with its image's needs already met.
    services = tuple(k for k in SERVICE_KEYS if k != "mongo")
    raw = p.mapping("security", value, services)
    result = {}
    for service, item in raw.items():
        if service not in services:
            continue
        entry = p.mapping(f"security.{service}", item, ("runAsUser", "readOnlyRootFilesystem"))
        user = entry.get("runAsUser")
        result[service] = SecurityOverride(
            # 0 is root: refused, pods run with runAsNonRoot.
            run_as_user=p.integer(f"security.{service}.runAsUser", user, 0, 1, 2**31 - 1)
            if user is not None
            else None,
            read_only_root_filesystem=p.boolean(
                f"security.{service}.readOnlyRootFilesystem", entry.get("readOnlyRootFilesystem"), True
            )
            if "readOnlyRootFilesystem" in entry
            else None,
        )
    return result


def _network_policy(p: Problems, value: Any, platform: str) -> NetworkPolicy:
    raw = p.mapping("networkPolicy", value, ("enabled", "ingressNamespace", "extraEgress"))
    namespace = p.string(
        "networkPolicy.ingressNamespace",
        raw.get("ingressNamespace"),
        "",
        DNS_LABEL,
        "the namespace of the ingress controller (a DNS-1123 label)",
        max_len=63,
    )
    return NetworkPolicy(
        enabled=p.boolean("networkPolicy.enabled", raw.get("enabled"), True),
        ingress_namespace=namespace or (None if platform == "openshift" else "ingress-nginx"),
        extra_egress=day2.parse_extra_egress(p, raw.get("extraEgress")),
    )


def _resources(p: Problems, value: Any) -> dict[str, Resources]:
    raw = p.mapping("resources", value, SERVICE_KEYS)
    return {
        service: _service_resources(p, f"resources.{service}", raw.get(service), defaults)
        for service, defaults in DEFAULT_RESOURCES.items()
    }


def _service_resources(
    p: Problems, path: str, value: Any, defaults: Mapping[str, Mapping[str, str]]
) -> Resources:
    """`{requests, limits}` of cpu/memory over `defaults`; a request may not exceed its limit."""
    override = p.mapping(path, value, ("requests", "limits"))
    merged: dict[str, dict[str, str]] = {}
    for section in ("requests", "limits"):
        values = p.mapping(f"{path}.{section}", override.get(section), ("cpu", "memory"))
        merged[section] = dict(defaults[section])
        for kind in ("cpu", "memory"):
            checked = check_quantity(
                p, f"{path}.{section}.{kind}", values.get(kind), "cpu" if kind == "cpu" else "bytes"
            )
            if checked is not None:
                merged[section][kind] = checked
    for kind in ("cpu", "memory"):
        request = parse_quantity(merged["requests"][kind])
        limit = parse_quantity(merged["limits"][kind])
        if request is not None and limit is not None and request > limit:
            p.add(
                f"{path}.requests.{kind}",
                merged["requests"][kind],
                f"must not exceed the limit ({merged['limits'][kind]})",
            )
    return Resources(requests=merged["requests"], limits=merged["limits"])


def _replicas(p: Problems, value: Any) -> dict[str, int]:
    raw = p.mapping("replicas", value)
    for key in raw:
        if key not in SCALABLE:
            why = (
                "rasa keeps trackers in process memory and mongo is a single-node replica set: "
                "they run exactly one replica"
                if key in ("rasa", "mongo")
                else "unknown service"
            )
            p.add(f"replicas.{key}", raw[key], f"{why}; scalable services: " + ", ".join(SCALABLE))
    return {key: p.integer(f"replicas.{key}", raw.get(key), 1, 1, 20) for key in SCALABLE}


def read_raw_config(config: pulumi.Config) -> tuple[dict[str, Any], dict[str, pulumi.Output[str]]]:
    """Every `botfront:*` value the engine passed in, objects decoded, secrets kept as Outputs."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    present = {
        key[len(prefix) :]
        for key in {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
        if key.startswith(prefix)
    }
    raw: dict[str, Any] = {}
    for key in sorted(present | set(KNOWN_KEYS)):
        if key in SECRET_KEYS:
            continue
        text = config.get(key)
        if text is None or text == "":
            continue
        raw[key] = _decode(text) if key in STRUCTURED_KEYS else text
    secrets: dict[str, pulumi.Output[str]] = {}
    for key in SECRET_KEYS:
        value = config.get_secret(key)
        if value is not None:
            secrets[key] = value
    return raw, secrets


def _decode(text: str) -> Any:
    """Structured values arrive as JSON text; anything else is kept for validation to report."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_settings() -> Settings:
    raw, secrets = read_raw_config(pulumi.Config(PROJECT))
    return parse_settings(raw, pulumi.get_stack(), secrets, day2.read_stack_config())
