"""`parse_settings`: raw `botfront:*` values -> frozen `Settings`, or `ConfigError` with every problem.

Pure; nothing here registers a resource. `load_settings` feeds it from `pulumi.Config`, with every key
of the stack (`ConfigKeys`) for the checks across namespaces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pulumi
from pydantic import ValidationError

from components.atlas_settings import AtlasSettings, build_atlas, placeholders
from components.backup_settings import BackupSettings, build_backup
from components.model import (
    PULUMI_TYPES,
    SECRET_KEYS,
    Actions,
    Database,
    EnvSource,
    Ingress,
    ModelServer,
    ModelsVolume,
    NetworkPolicy,
    Placement,
    Placements,
    ResourceOverride,
    SecurityOverride,
    StackConfig,
    Tracker,
)
from components.releases import CATALOG, Release
from components.sizing import DEFAULT_RESOURCES
from components.validation import DNS_LABEL, Problems, is_ip, parse_quantity, problems_from

PROJECT = "botfront"

KNOWN_KEYS = tuple(f.alias or n for n, f in StackConfig.model_fields.items()) + tuple(SECRET_KEYS)
OPTIONAL = tuple(f.alias or n for n, f in StackConfig.model_fields.items() if f.default is None)
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RESERVED_DATABASES = ("admin", "local", "config")


@dataclass(frozen=True)
class Resources:
    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class Project:
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
    model_servers: Mapping[str, ModelServer] = field(default_factory=dict)

    @property
    def default_environment(self) -> str:
        return "development" if "development" in self.environments else self.environments[0]


@dataclass(frozen=True)
class RasaInstance:
    """One Rasa per (project, environment): trackers live in process memory. The default instance
    keeps the plain names (`rasa`, `models`, `rasa-config`), the host Botfront seeds."""

    project_id: str
    project_name: str
    environment: str
    default: bool
    rasa_url: str
    resources: Resources
    # Service name of the project's action server, if it has one.
    actions_service: str | None
    model_server: ModelServer | None = None

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
    if environment in project.rasa_urls:
        return project.rasa_urls[environment]
    if project.default and environment == project.default_environment:
        return rasa_url
    return derive_rasa_url(root_url, project.name, environment)


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
    # Run the verification Job after every deploy; always false in render mode.
    verify: bool = True
    image_pull_secrets: tuple[str, ...] = ()
    placement: Placements = field(default_factory=Placements)
    create_namespace: bool = True
    rotate: Mapping[str, int] = field(default_factory=dict)

    def placement_for(self, service: str) -> Placement:
        """A service's placement: each field it sets replaces the default's same field, whole."""
        default = self.placement.default or Placement()
        own = getattr(self.placement, _attr(service)) or Placement()
        return default.model_copy(update={k: v for k, v in own if v is not None})

    @property
    def rasa_instances(self) -> tuple[RasaInstance, ...]:
        """Every Rasa, the default one first; names follow (project, environment), not order."""
        instances = [
            RasaInstance(pr.id, pr.name, env, pr.default and env == pr.default_environment,
                         instance_url(pr, env, self.root_url, self.rasa_url) or self.rasa_url,
                         pr.rasa_resources, actions_service_name(pr), pr.model_servers.get(env))
            for pr in self.projects for env in pr.environments
        ]  # fmt: skip
        return tuple(sorted(instances, key=lambda i: (not i.default, i.project_name, i.environment)))

    @property
    def actions(self) -> tuple[tuple[str, Project], ...]:
        return tuple(sorted((name, p) for p in self.projects if (name := actions_service_name(p))))

    @property
    def botfront_api(self) -> bool:
        return self.release.botfront_api is not None


def derive_rasa_url(root_url: str, project: str | None = None, environment: str | None = None) -> str | None:
    """`https://bf.example.com` -> `https://rasa.bf.example.com`, or `rasa-<project>-<environment>.`..."""
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
    deploying: bool = False,
    stack_config: ConfigKeys | None = None,
) -> Settings:
    """`deploying`: a real update refuses the shipped stack files' placeholders (a preview only warns)."""
    p = Problems(PROJECT)
    if stack_config is not None:
        _refuse_unknown_and_plain_text(p, stack_config)
    # An empty value is an absent one (Pulumi.yaml's defaults of optional keys are "" or {}).
    values = {k: v for k, v in raw.items() if k not in SECRET_KEYS and not (v in ("", {}) and k in OPTIONAL)}
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        problems_from(error, StackConfig, p)
        p.raise_if_any(stack, keys_only=True)
        raise  # unreachable: every pydantic error is a problem
    settings = _settings(p, config, values, stack, secrets or {})
    if settings.atlas is not None and config.atlas is not None:
        for path, value in placeholders(config.atlas):
            why = "a placeholder from the shipped stack files (docs/atlas.md): set your own before deploying"
            if deploying:
                p.add(path, value, why)
            else:
                pulumi.log.warn(f"{p.key(path)}: {value!r} is {why}; `pulumi up` refuses it")
    p.raise_if_any(stack)
    for warning in _warnings(config, settings):
        pulumi.log.warn(warning)
    return settings


def _warnings(c: StackConfig, s: Settings) -> Iterable[str]:
    """What deploys but probably isn't what was meant."""
    if s.chatbase_api_key is not None:
        yield ("botfront:chatbaseApiKey is written into Rasa's tracker_store config, but only the "
               "AnalyticsTrackerStore of Botfront <= 0.21 reads it; the catalog's releases "
               "ignore it.")  # fmt: skip
    if not c.create_namespace and c.network_policy.enabled:
        yield ("botfront:createNamespace is false: the stack's default-deny NetworkPolicy selects every "
               f"pod of namespace {c.namespace!r}, including pods that are not Botfront's; deploy into a "
               "namespace of Botfront's own, or set networkPolicy.enabled: false and keep your own "
               "policies")  # fmt: skip
    if not c.network_policy.enabled and not s.release.rasa_token:
        yield (f"botfront:networkPolicy.enabled is false on release {s.release.version}, whose Rasa API "
               "takes no token: any pod in the cluster can train, replace or query its "
               "models")  # fmt: skip
    if s.botfront_api and (c.ingress.enabled or c.platform == "openshift"):
        yield (f"release {s.release.version} is public at {c.root_url}: Botfront's unauthenticated "
               "'axios.requestWithJsonBody' method lets any visitor call botfront-api and Rasa, which take "
               "no credentials on this release, and read or overwrite a project; keep it behind a "
               "non-public Ingress or move to 1.0.x (docs/hardening.md)")  # fmt: skip
    trained = {(pr.id, pr.default_environment) for pr in s.projects}  # the Rasa Botfront's Instance trains
    for i in s.rasa_instances:
        where = f"{i.name} (project {i.project_id}, {i.environment})"
        if i.model_server is None and (i.project_id, i.environment) not in trained:
            yield (f"{where} has no modelServer: Botfront trains only its Instance's Rasa, so this one never "
                   "gets a model; see README.md, Deploying to production")  # fmt: skip
        elif i.model_server and (i.project_id, i.environment) in trained:
            yield (f"{where} is the Rasa Botfront trains, yet it pulls from a modelServer: each pull "
                   "replaces the model Botfront trained; set modelServer only on Rasas Botfront does not "
                   "train")  # fmt: skip
        elif i.model_server and c.network_policy.enabled and not c.network_policy.extra_egress.get("rasa"):
            url = urlsplit(i.model_server.url)
            port = url.port or (80 if url.scheme == "http" else 443)
            yield (f"{where} pulls its model from {i.model_server.url}, but no network policy lets Rasa "
                   "reach it: add a networkPolicy.extraEgress.rasa rule with the server's cidr (or "
                   f"namespace) and port {port}; see README.md, Deploying to production")  # fmt: skip
    scheme = c.root_url.split(":", 1)[0]
    if c.platform == "openshift":
        # className nginx is Pulumi.yaml's default: not the user's doing.
        ingress_only = [k for k in ("className", "tlsSecretName", "clusterIssuer", "annotations")
                        if getattr(c.ingress, _snake(k)) not in (None, {}, "nginx")]  # fmt: skip
        if ingress_only:
            yield ("botfront:platform is openshift, so the stack creates Routes, not Ingresses: "
                   + ", ".join(f"ingress.{k}" for k in ingress_only)
                   + " has no effect (Routes terminate TLS at the router with its certificate)")  # fmt: skip
    elif c.ingress.enabled and scheme == "https" and not c.ingress.tls:
        yield (f"botfront:rootUrl is https ({c.root_url}) but the Ingresses have no TLS source: set "
               "ingress.clusterIssuer (cert-manager) or ingress.tlsSecretName, unless your controller "
               "serves a default certificate for these hosts")  # fmt: skip
    elif c.ingress.enabled and scheme == "http" and c.ingress.cluster_issuer:
        yield (f"botfront:rootUrl is http ({c.root_url}) while ingress.clusterIssuer asks cert-manager for "
               "certificates: the UI and Rasa are still served and linked over http; make "
               "rootUrl https")  # fmt: skip


def _snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key)


def _settings(
    p: Problems, c: StackConfig, raw: Mapping[str, Any], stack: str, secrets: Mapping[str, Any]
) -> Settings:
    release = CATALOG[c.release]
    if c.namespace in RESERVED_NAMESPACES:
        p.add("namespace", c.namespace, "a namespace of the stack's own: the stack creates, labels and "
              "(unprotected) deletes it; not one of " + ", ".join(RESERVED_NAMESPACES))  # fmt: skip
    oplog = c.database.mode == "incluster" or c.database.oplog_url_secret is not None
    db = c.database.model_copy(update={"oplog": oplog if c.database.oplog is None else c.database.oplog})
    if db.name.lower() in RESERVED_DATABASES:
        p.add("database.name", db.name, "a MongoDB system database (MongoDB's own databases are admin, "
              "local and config); use a name of your own, e.g. bf")  # fmt: skip
    given_db = raw.get("database", {})
    if db.mode != "incluster":
        for key in set(given_db) & {"size", "storageClass"}:
            p.add(f"database.{key}", given_db[key], "only applies to database.mode incluster; "
                  + ("Atlas disks are set under botfront:atlas" if db.mode == "atlas" else
                     "nothing is created in external mode"))  # fmt: skip
    if db.mode != "external":
        for key in set(given_db) & {"urlSecret", "oplogUrlSecret"}:
            p.add(
                f"database.{key}",
                given_db[key],
                f"only applies to database.mode external (mode is {db.mode})",
            )
    elif db.url_secret is None:
        p.add("database.urlSecret", None, "required with database.mode external: {name, key} of an "
              "existing Secret in the stack's namespace holding the MongoDB URL "
              "(mongodb://user:pw@host/db?...)")  # fmt: skip
    elif c.database.oplog and db.oplog_url_secret is None:
        p.add("database.oplog", given_db["oplog"], "needs database.oplogUrlSecret: the Secret key holding "
              "MONGO_OPLOG_URL")  # fmt: skip
    rasa_url = c.rasa_url or derive_rasa_url(c.root_url)
    _check_rasa_url(p, c.root_url, c.rasa_url, raw.get("rasaUrl"))
    images = dict(release.images) | {k: v for k, v in c.images.model_dump(by_alias=True).items() if v}
    if c.images.botfront_api and not release.botfront_api:
        p.add("images.botfrontApi", c.images.botfront_api, f"release {release.version} has no botfront-api "
              "service (only 0.2x releases do)")  # fmt: skip
    if c.ingress.tls_secret_name and c.ingress.cluster_issuer:
        p.add("ingress.tlsSecretName", c.ingress.tls_secret_name, "leave it out with clusterIssuer: "
              "cert-manager then issues one certificate per host (botfront-tls, rasa-tls); one shared "
              "secret would be owned by whichever Ingress came first")  # fmt: skip
    resources = {s: _resources(p, f"resources.{s}", getattr(c.resources, _attr(s)), d)
                 for s, d in DEFAULT_RESOURCES.items()}  # fmt: skip
    replicas = c.replicas.model_dump(by_alias=True)
    actions_image = c.actions.image if c.actions else None
    projects = _projects(p, c, actions_image, resources["rasa"])
    if sum(len(pr.environments) for pr in projects) > 1 and release.botfront_writes_models:
        p.add("projects", raw.get("projects"), "several Rasa instances need release 1.0.4 or later: "
              f"Botfront {release.version} writes every trained model itself to one "
              "MODELS_LOCAL_PATH")  # fmt: skip
    if release.botfront_writes_models and c.models.shared_by_node and replicas["botfront"] > 1:
        p.add("replicas.botfront", replicas["botfront"], "more than one botfront replica of release "
              f"{release.version} (which writes the models volume) needs models.accessMode ReadWriteMany "
              "(and a storageClass that provides it): a ReadWriteOnce volume attaches to "
              "one node")  # fmt: skip
    atlas = build_atlas(
        p, c.atlas, raw.get("atlas"), mode=db.mode, oplog=bool(db.oplog), protect=c.protect, stack=stack
    )
    backup = build_backup(p, c.backup, raw.get("backup"), c.restore_from, mode=db.mode)
    _check_actions_env(p, c)
    if rasa_url:
        _check_public_urls(p, projects, c.root_url, rasa_url)
    np, verify = c.network_policy, c.verify and c.render_to is None
    other_class = c.ingress.class_name != "nginx" and c.platform != "openshift"
    if np.enabled and c.ingress.enabled and other_class and np.ingress_namespace is None:
        p.add("networkPolicy.ingressNamespace", None, "required with ingress.className "
              f"{c.ingress.class_name!r}: the default (ingress-nginx) is ingress-nginx's namespace, and "
              "the network policies let only that namespace reach botfront and rasa; set it to your "
              "controller's namespace")  # fmt: skip
    not_run = {
        "botfrontApi": not release.botfront_api and "the release has no botfront-api (only 0.2x releases do)",
        "duckling": not c.duckling and "botfront:duckling is false",
        "actions": not any(pr.actions_image for pr in projects) and "no project has an action server "
                   "(actions.image)",
        "mongo": db.mode != "incluster" and f"database.mode is {db.mode}: the stack runs no MongoDB",
        "jobs": not (backup or verify) and "no Job runs (botfront:backup and botfront:verify are off)",
    }  # fmt: skip
    for service, rules in np.extra_egress.items():
        if rules and not_run.get(service):
            p.add(f"networkPolicy.extraEgress.{service}", [r.cidr or r.namespace for r in rules],
                  str(not_run[service]))  # fmt: skip
    rotate = c.rotate.model_dump(by_alias=True, exclude_none=True)
    if "rasaToken" in rotate and not release.rasa_token:
        p.add("rotate.rasaToken", rotate["rasaToken"], f"release {release.version}'s Rasa takes no token "
              "(Botfront calls it without one): there is nothing to rotate")  # fmt: skip
    ingress_namespace = np.ingress_namespace or (None if c.platform == "openshift" else "ingress-nginx")
    same = ("namespace", "project_id", "root_url", "platform", "protect", "duckling", "models", "tracker",
            "ingress", "render_to", "placement", "create_namespace")  # fmt: skip
    return Settings(
        **{k: getattr(c, k) for k in same},
        stack=stack,
        release=release,
        rasa_url=rasa_url or "",
        rasa_url_derived=c.rasa_url is None,
        database=db,
        images=images,
        actions_image=actions_image,
        resources=resources,
        replicas=replicas,
        atlas=atlas,
        mail_url=secrets.get("mailUrl"),
        chatbase_api_key=secrets.get("chatbaseApiKey"),
        network_policy=c.network_policy.model_copy(update={"ingress_namespace": ingress_namespace}),
        projects=projects,
        backup=backup,
        security={s: o for s in DEFAULT_RESOURCES if s != "mongo" and (o := getattr(c.security, _attr(s)))},
        verify=verify,
        image_pull_secrets=tuple(c.image_pull_secrets),
        rotate=rotate,
    )


def _attr(key: str) -> str:
    return "botfront_api" if key == "botfrontApi" else key


def _check_rasa_url(p: Problems, root_url: str, rasa_url: str | None, given: Any) -> None:
    if rasa_url is None:
        if derive_rasa_url(root_url) is None:
            p.add("rasaUrl", given, f"required when rootUrl ({root_url}) has an IP address for a host: "
                  "Rasa needs its own public URL for the webchat base_url")  # fmt: skip
        return
    root, rasa = urlsplit(root_url), urlsplit(rasa_url)
    if root.netloc == rasa.netloc:
        p.add("rasaUrl", given, "must have a different host from rootUrl: Botfront and Rasa both serve "
              "websockets at the root of their host")  # fmt: skip
    elif rasa.path not in ("", "/"):
        p.add("rasaUrl", given, "must not have a path: socket.io is served at /socket.io/")
    elif root.scheme == "https" and rasa.scheme == "http":
        p.add("rasaUrl", given, "must be https like rootUrl: browsers block the UI's webchat otherwise")


def _resources(
    p: Problems, path: str, override: ResourceOverride | None, defaults: Mapping[str, Mapping[str, str]]
) -> Resources:
    merged = {section: dict(defaults[section]) for section in ("requests", "limits")}
    for section in merged:
        given = getattr(override, section, None) if override else None
        merged[section] |= {k: v for k, v in (given.model_dump() if given else {}).items() if v is not None}
    for kind in ("cpu", "memory"):
        request, limit = (parse_quantity(merged[s][kind]) for s in ("requests", "limits"))
        if request is not None and limit is not None and request > limit:
            p.add(f"{path}.requests.{kind}", merged["requests"][kind], "must not exceed the limit "
                  f"({merged['limits'][kind]})")  # fmt: skip
    return Resources(requests=merged["requests"], limits=merged["limits"])


def _projects(p: Problems, c: StackConfig, actions_image: str | None, rasa: Resources) -> tuple[Project, ...]:
    if not c.projects:
        return (Project(c.project_id, ("development",), rasa, actions_image, {}, c.project_id, True,
                        *_env(c.actions)),)  # fmt: skip
    projects: list[Project] = []
    ids, names = set[str](), set[str]()
    for index, entry in enumerate(c.projects):
        path = f"projects[{index}]"
        if entry.id in ids:
            p.add(f"{path}.id", entry.id, "duplicate project id: each project is listed once")
            continue
        ids.add(entry.id)
        name = entry.name or entry.id
        if len(name) > 40 or not DNS_LABEL.match(name):
            p.add(f"{path}.name" if entry.name else f"{path}.id", name, "the project must be usable in "
                  "Kubernetes names (rasa-<name>-<environment>): 1-40 lower-case letters, digits or '-', "
                  "starting and ending with a letter or digit"
                  + ("" if entry.name else f"; set {path}.name to such a name for this id"))  # fmt: skip
            continue
        if name in names:
            p.add(f"{path}.name", name, "two projects have this Kubernetes name: give each its own")
            continue
        names.add(name)
        envs = list(entry.environments)
        urls = {k: v for k, v in entry.rasa_url.model_dump().items() if v is not None}
        for env, url in urls.items():
            if env not in envs:
                p.add(f"{path}.rasaUrl.{env}", url, "unknown key; allowed: " + ", ".join(envs))
            elif urlsplit(url).path not in ("", "/"):
                p.add(f"{path}.rasaUrl.{env}", url, "must not have a path: socket.io is served at "
                      "/socket.io/")  # fmt: skip
        servers = {k: v for k, v in entry.model_server if v is not None}
        for env in servers.keys() - set(envs):
            p.add(f"{path}.modelServer.{env}", servers[env].url, "unknown key; allowed: " + ", ".join(envs))
        resources = (_resources(p, f"{path}.resources", entry.resources, DEFAULT_RESOURCES["rasa"])
                     if entry.resources else rasa)  # fmt: skip
        default = str(entry.id) == str(c.project_id)
        actions = entry.actions or (c.actions if default else None)
        image = actions.image if actions else None
        projects.append(Project(entry.id, tuple(envs), resources, image, urls, name, default, *_env(actions),
                                servers))  # fmt: skip
    if projects and not any(project.default for project in projects):
        p.add(
            "projectId",
            c.project_id,
            "must be the id of one of botfront:projects (its Rasa keeps the plain names that Botfront "
            "seeds, e.g. http://rasa:5005); ids: " + ", ".join(pr.id for pr in projects),
        )
    return tuple(projects)


def _env(actions: Actions | None) -> tuple[dict[str, str], tuple[EnvSource, ...]]:
    return (dict(actions.env), tuple(actions.env_from)) if actions else ({}, ())


# Env names and values that hold credentials: plain text in the stack file, the state and the
# Deployment; they belong in a Secret loaded with envFrom.
SECRET_LOOKING = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL|PRIVATE_?KEY|(^|_)(PASS|DSN|AUTH)(_|$)", re.I
)
URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@")
# What components/services.py `actions_spec` sets itself (tests/test_day2_settings.py checks it).
ACTIONS_RESERVED_ENV = ("BF_URL", "BF_PROJECT_ID")


def _check_actions_env(p: Problems, c: StackConfig) -> None:
    for path, actions in [("actions", c.actions), *((f"projects[{i}].actions", e.actions)
                                                     for i, e in enumerate(c.projects))]:  # fmt: skip
        for name, value in (actions.env if actions else {}).items():
            if SECRET_LOOKING.search(name) or URL_WITH_PASSWORD.match(value):
                p.add(f"{path}.env.{name}", "[hidden]", "looks like a credential, and env values are "
                      "plain text in the stack config, the state and the Deployment; put it in a Secret "
                      f"and load it with {path}.envFrom: [{{secretRef: {{name: <secret>}}}}]")  # fmt: skip
            elif name in ACTIONS_RESERVED_ENV:
                p.add(
                    f"{path}.env.{name}",
                    value,
                    f"set by the stack itself ({', '.join(ACTIONS_RESERVED_ENV)})",
                )


def _check_public_urls(p: Problems, projects: tuple[Project, ...], root_url: str, rasa_url: str) -> None:
    """Every Rasa needs its own public host: webchat sockets connect to the host's root."""
    hosts, root_scheme = {urlsplit(root_url).netloc: "rootUrl"}, urlsplit(root_url).scheme
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
                p.add(key, url, f"the public host is already used by {hosts[host]}: each Rasa instance "
                      "needs its own")  # fmt: skip
            else:
                hosts[host] = f"projects[{index}] ({project.id}, {env})"
            if root_scheme == "https" and urlsplit(url).scheme == "http":
                p.add(key, url, "must be https like rootUrl: browsers block the UI's webchat otherwise")


@dataclass(frozen=True)
class ConfigKeys:
    keys: frozenset[str] = frozenset()
    secret_keys: frozenset[str] = frozenset()
    kubeconfig: str | None = field(default=None, repr=False)  # its value when in plain text: never shown


def read_config_keys() -> ConfigKeys:
    """From the SDK's config store (pulumi SDK 3.272.0 runtime/config.py: CONFIG and PULUMI_CONFIG;
    the secret keys in PULUMI_CONFIG_SECRET_KEYS (`get_config_secret_keys_env`) or, under the
    Automation API and mocks, in the set `is_config_secret` reads)."""
    from pulumi.runtime import config as runtime_config

    keys = frozenset({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})
    env_secret = set(runtime_config.get_config_secret_keys_env()) & keys
    secret = frozenset({k for k in keys if runtime_config.is_config_secret(k)} | env_secret)
    plain = None if KUBECONFIG in secret else runtime_config.get_config(KUBECONFIG)
    return ConfigKeys(keys, secret, plain if isinstance(plain, str) else None)


# Provider settings that are credentials (pulumi_mongodbatlas 4.18.0 config/vars.py docstrings;
# mongodb/terraform-provider-mongodbatlas@v2.16.0: docs/guides/provider-configuration.md, "Provider
# Arguments"); publicKey, clientId and awsAccessKeyId name the key whose secret half these are. A plain
# value reaches the default provider's inputs plain (pulumi/pulumi@v3.259.0: pkg/resource/deploy/
# target.go, GetPackageConfig: `WithSecret(c.Secure())`). ASSUMPTION: the state keeps them so (all
# but privateKey, the one the provider's schema marks sensitive, which its bridge may hide again).
ATLAS_CREDENTIALS = ("privateKey", "clientSecret", "accessToken", "awsSecretAccessKey", "awsSessionToken")
KUBECONFIG = "kubernetes:kubeconfig"


def kubeconfig_contents(text: str) -> bool:
    """pulumi-kubernetes reads a file when `os.Stat` finds one, else parses the text as the contents
    (pulumi/pulumi-kubernetes@v4.32.0: provider/pkg/provider/util.go, parseKubeconfigString). What exists
    depends on the machine, so the shape decides: a kubeconfig holding a credential has several lines
    (YAML) or a `{` (JSON, flow style, a stack-file object handed over as JSON); a path has neither."""
    return "\n" in text or "\r" in text or "{" in text


# Where a provider key the program does not read belongs instead.
PROVIDER_POINTERS = {"kubernetes:namespace": "use botfront:namespace",
                     "kubernetes:renderYamlToDirectory": "use botfront:renderTo"}  # fmt: skip


def provider_config_keys() -> dict[str, frozenset[str]]:
    """The config keys the stack's providers read. kubernetes: only what components/cluster.py hands
    its explicit provider (an explicit provider reads no `kubernetes:*` config by itself); the default
    Atlas provider reads pulumi_mongodbatlas 4.18.0 config/vars.py (read as text: importing the SDK
    costs seconds); pulumi_random 4.21.4 has no config module, so it reads none."""
    from importlib.util import find_spec
    from pathlib import Path

    from components.cluster import KUBERNETES_KEYS

    spec = find_spec("pulumi_mongodbatlas")
    assert spec is not None and spec.origin is not None, "pulumi_mongodbatlas is a dependency"
    atlas = (Path(spec.origin).parent / "config" / "vars.py").read_text()
    return {
        "kubernetes": frozenset(KUBERNETES_KEYS),
        "mongodbatlas": frozenset(re.findall(r"__config__\.get\w*\('(\w+)'", atlas)),
        "random": frozenset(),
    }


def _refuse_unknown_and_plain_text(p: Problems, config: ConfigKeys) -> None:
    """A typo (`botfrnt:namespace`, `kubernetes:contxt`) must never deploy into another namespace or
    the current kubeconfig context; a credential must never sit in plain text in the stack file."""
    for key in sorted(k.partition(":")[2] for k in config.secret_keys if k.startswith(f"{PROJECT}:")):
        if key not in SECRET_KEYS:  # its value decides what is created: plain text in the state
            p.add(key, "[secret]", "stored as a secret, but this key holds no credentials and decides "
                  f"what is created: set it again without --secret (pulumi config rm {PROJECT}:{key}, then "
                  f"pulumi config set [--path] {PROJECT}:{key}...); only {', '.join(SECRET_KEYS)} are "
                  "secrets")  # fmt: skip
    credentials = [f"{PROJECT}:{k}" for k in SECRET_KEYS] + [f"mongodbatlas:{k}" for k in ATLAS_CREDENTIALS]
    where = dict.fromkeys(credentials, "and the state")
    if config.kubeconfig is not None and kubeconfig_contents(config.kubeconfig):
        where[KUBECONFIG] = "(a kubeconfig's contents; a path to a kubeconfig file may stay plain)"
    for qualified in sorted(where.keys() & (config.keys - config.secret_keys)):
        p.items.append(f"{qualified}: got '[plain text]'; must be a secret, or it stays readable in the "
                       f"stack file {where[qualified]}: pulumi config rm {qualified} && pulumi config set "
                       f"--secret {qualified} <value>")  # fmt: skip
    providers = provider_config_keys()
    for qualified in sorted(config.keys):
        namespace, _, key = qualified.partition(":")
        rm = f": pulumi config rm {qualified}"
        if namespace in (PROJECT, "pulumi") or key in providers.get(namespace, ()):
            continue
        if namespace not in providers:
            p.items.append(f"{qualified}: unknown config namespace {namespace!r}; the stack reads "
                           + ", ".join(f"{n}:*" for n in sorted({PROJECT, *providers}))
                           + f" (a typo of {PROJECT}:{key}?){rm}")  # fmt: skip
            continue
        allowed = sorted(providers[namespace])
        why = PROVIDER_POINTERS.get(qualified) or (
            f"its keys: {', '.join(allowed)}" if allowed else "it takes no configuration"
        )
        p.items.append(f"{qualified}: the {namespace} provider has no such setting; {why}{rm}")


def read_raw_config(
    config: pulumi.Config, keys: ConfigKeys
) -> tuple[dict[str, Any], dict[str, pulumi.Output[str]]]:
    """A key stored as a secret that is not one of SECRET_KEYS is not read (parse_settings refuses it):
    its value decides what is created, so reading it would put the plaintext into state."""
    prefix = f"{PROJECT}:"
    present = {k[len(prefix) :] for k in keys.keys if k.startswith(prefix)}
    raw: dict[str, Any] = {}
    for key in sorted(present | set(KNOWN_KEYS)):
        text = config.get(key) if key not in SECRET_KEYS and prefix + key not in keys.secret_keys else None
        if text:
            raw[key] = text if PULUMI_TYPES.get(key, "string") == "string" else _decode(text)
    secrets = {key: value for key in SECRET_KEYS if (value := config.get_secret(key)) is not None}
    return raw, secrets


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_settings() -> Settings:
    keys = read_config_keys()
    raw, secrets = read_raw_config(pulumi.Config(PROJECT), keys)
    return parse_settings(raw, pulumi.get_stack(), secrets, deploying=deploying(), stack_config=keys)


def deploying() -> bool:
    """A real `pulumi up`: not a preview (pulumi SDK 3.272.0 runtime/settings.py `is_dry_run`), and
    not the SDK's mock monitor (unit tests and ops/offline.py's plan, which reach no cloud)."""
    from pulumi.runtime import mocks
    from pulumi.runtime import settings as runtime_settings

    monitor = runtime_settings.get_monitor()
    return not pulumi.runtime.is_dry_run() and not isinstance(monitor, mocks.MockMonitor)
