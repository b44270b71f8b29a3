"""The one declarative model of every `botfront:*` key: types, defaults, allowed values, descriptions.

ops/schema.py generates the stack-file JSON Schema, Pulumi.yaml's `config:` section and the README's
configuration table from it (`make schema`); components/settings.py applies the rules across keys.
"""

from __future__ import annotations

import ipaddress
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import Discriminator, Field, Tag, model_validator

from components import backup_settings as backups
from components.atlas_catalog import MONGO_VERSIONS, PROVIDERS, RETIRED_SHARED, tier_of
from components.releases import CATALOG, DEFAULT_RELEASE, pinning_problem
from components.validation import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    Bool,
    Choice,
    Int,
    Model,
    Problem,
    Quantity,
    Text,
    Unique,
    Url,
    With,
    fail,
)

ENVIRONMENTS = ("development", "production")
# A map whose keys all match the key type's pattern (pydantic writes it as patternProperties).
CLOSED: dict[str, Any] = {"additionalProperties": False}
LABEL = Text(
    DNS_LABEL.pattern,
    "a DNS-1123 label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit",
    63,
)
STORAGE_CLASS = Text(DNS_SUBDOMAIN.pattern, "a StorageClass name (DNS-1123 subdomain)")
OBJECT_NAME = Text(DNS_SUBDOMAIN.pattern, "a Kubernetes object name (DNS-1123 subdomain)")
PROJECT_ID = Text(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
    "a Botfront project id: 1-64 letters, digits, '_' or '-', e.g. bf",
    64,
)
Image = With(lambda v: Problem(f"the image {why}") if (why := pinning_problem(v)) else v, {"type": "string"})
Bytes, Cpu = Quantity("bytes"), Quantity("cpu")


def _region(v: Any) -> Any:
    if isinstance(v, str) and re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", v):
        return v
    hint = f" (did you mean {v.upper().replace('-', '_')}?)" if isinstance(v, str) and v.strip() else ""
    return Problem("expected an Atlas region name: upper-case letters, digits and '_', e.g. EU_WEST_1 (not "
                   f"the cloud's own eu-west-1){hint}")  # fmt: skip


def _instance_size(v: Any) -> Any:
    if v in RETIRED_SHARED:
        return Problem("Atlas no longer creates M2 or M5 clusters (retired in 2025 and migrated to Flex): "
                       "use FLEX or M0 (shared), or M10 or larger (dedicated)")  # fmt: skip
    if not isinstance(v, str) or tier_of(v) == "unknown":
        hint = (
            f" (did you mean {v.upper()}?)" if isinstance(v, str) and tier_of(v.upper()) != "unknown" else ""
        )
        return Problem("expected an Atlas cluster tier: M10, M20, M30, M40, M50, M60, M80, M140, M200, ... "
                       "(dedicated), R40 and up (low CPU), M30_GEN_2 and similar; or M0 / FLEX (shared: no "
                       f"oplog, no backup schedule){hint}")  # fmt: skip
    if v.endswith("_NVME"):
        return Problem("NVMe tiers need a PROVISIONED or HIGH_PERFORMANCE volume type, which this program "
                       "does not configure (Atlas would refuse the cluster): use e.g. "
                       f"{v.removesuffix('_NVME')}")  # fmt: skip
    return v


def _mongo_version(v: Any) -> Any:
    text = f"{v:.1f}" if isinstance(v, float) else v if isinstance(v, str) else None
    if text in MONGO_VERSIONS:
        return text
    eol = isinstance(text, str) and re.fullmatch(r"[0-6]\.[0-9]+", text)
    why = ("MongoDB 6.0 and older are end of life and Atlas no longer creates them (for 4.4 use "
           "database.mode incluster)" if eol else "the versions checked against Botfront's node driver "
           "(docs/atlas.md)")  # fmt: skip
    return Problem(f"allowed: {', '.join(MONGO_VERSIONS)} (quoted); {why}")


def _cidr(v: Any) -> Any:
    allowed = Problem("expected an IPv4 CIDR block such as 203.0.113.0/24, or one address such as "
                      "203.0.113.7 (or an object {cidr, comment})")  # fmt: skip
    try:
        network = ipaddress.IPv4Network(v.strip(), strict=False) if isinstance(v, str) else None
    except ValueError:
        network = None
    if network is None:
        return allowed
    if str(network.network_address) != v.strip().split("/")[0]:
        return Problem(f"has host bits set: did you mean {network}?")
    return str(network)


ObjectId = Text(
    "^[0-9a-f]{24}$",
    "a 24-character lower-case hex id as shown in the Atlas UI (Organization Settings or Project Settings), "
    "e.g. 5f1e2d3c4b5a697887766554",
    24,
)
Tier = With(_instance_size, {"type": "string", "pattern": r"^(M0|FLEX|[MR][0-9]{2,3}(_GEN_2)?)$"})
Cidr = With(_cidr, {"type": "string"})
Comment = Text("", "text of at most 80 characters", 80)


SECRET_NAME = Text(
    DNS_SUBDOMAIN.pattern, "a Secret name: the name of a Secret in the stack's namespace (DNS-1123 subdomain)"
)


class SecretKeyRef(Model):  # {name, key} of an existing Secret in the stack's namespace
    name: SECRET_NAME
    key: Text(r"^[-._a-zA-Z0-9]{1,253}$", "a key of that Secret: letters, digits, '-', '_' or '.'") = Field(
        description="a key of that Secret"
    )


class Database(Model):
    mode: Choice("incluster", "atlas", "external") = "incluster"
    name: Text(
        r"^[A-Za-z0-9_-]{1,16}$",
        "a short database name: 1-16 letters, digits, '_' or '-' (MongoDB namespaces <db>.<collection> are "
        "length-limited; Botfront recommends e.g. bf)",
        16,
    ) = "bf"
    # Atlas runs MongoDB 7.0+, whose oplog Botfront's Meteor 2.0 cannot tail: off there unless set.
    oplog: Bool() = Field(None, description="default: true in the cluster, false on Atlas")
    size: Bytes = "10Gi"
    storage_class: STORAGE_CLASS | None = None
    url_secret: SecretKeyRef | None = Field(
        None, description="mode external: the Secret key holding MONGO_URL"
    )
    oplog_url_secret: SecretKeyRef | None = Field(
        None, description="mode external: ... holding MONGO_OPLOG_URL"
    )


class Images(Model):
    botfront: Image | None = None
    rasa: Image | None = None
    duckling: Image | None = None
    botfront_api: Image | None = None
    mongo: Image | None = None


class Ref(Model):
    name: OBJECT_NAME


class EnvSource(Model):  # an existing Secret or ConfigMap the actions server loads whole (envFrom)
    secret_ref: Ref | None = None
    config_map_ref: Ref | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvSource:
        if (self.secret_ref is None) == (self.config_map_ref is None):
            raise fail("expected exactly one of {secretRef: {name}} or {configMapRef: {name}}")
        return self

    @property
    def kind(self) -> str:
        return "secretRef" if self.secret_ref else "configMapRef"

    @property
    def name(self) -> str:
        return (self.secret_ref or self.config_map_ref or Ref(name="")).name


EnvValue = With(
    lambda v: (
        str(v)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool)
        else Problem("expected a string value (quote numbers and booleans)")
    ),
    {"type": ["string", "number"]},
)
ENV_NAME = Text(
    r"^[A-Za-z_][A-Za-z0-9_]*$",
    "an environment variable name: letters, digits and '_', not starting with a digit",
)


class Actions(Model):
    image: Image
    env: dict[ENV_NAME, EnvValue] = Field(
        {}, description="plain NAME: value; credentials go in envFrom", json_schema_extra=CLOSED
    )
    env_from: Unique(EnvSource) = []


class ModelsVolume(Model):
    size: Bytes = "5Gi"
    access_mode: Choice("ReadWriteOnce", "ReadWriteMany") = "ReadWriteOnce"
    storage_class: STORAGE_CLASS | None = None

    @property
    def shared_by_node(self) -> bool:  # RWO: every pod that mounts it runs on the node that attached it
        return self.access_mode == "ReadWriteOnce"


class Tracker(Model):
    # 0 keeps every event in memory (the installation document's meaning of max_events: 0).
    max_events: Int(0, 100_000) = 100
    persist_time: Int(30, 7 * 86400) = 3600


Annotation = With(
    lambda v: v if isinstance(v, str) else Problem("annotation values must be strings (quote them)"),
    {"type": "string"},
)


class Ingress(Model):
    enabled: Bool() = True
    class_name: Text(DNS_SUBDOMAIN.pattern, "an IngressClass name (DNS-1123 subdomain)") = "nginx"
    tls_secret_name: OBJECT_NAME | None = None
    cluster_issuer: OBJECT_NAME | None = None
    annotations: dict[str, Annotation] = {}

    @property
    def tls(self) -> bool:
        return bool(self.tls_secret_name or self.cluster_issuer)


class CpuMemory(Model):
    cpu: Cpu | None = None
    memory: Bytes | None = None


class ResourceOverride(Model):
    requests: CpuMemory | None = None
    limits: CpuMemory | None = None


class ResourceOverrides(Model):
    botfront: ResourceOverride | None = None
    botfront_api: ResourceOverride | None = None
    duckling: ResourceOverride | None = None
    rasa: ResourceOverride | None = None
    actions: ResourceOverride | None = None
    mongo: ResourceOverride | None = None


Replica = Int(1, 20)


class Replicas(Model):
    UNKNOWN = dict.fromkeys(
        ("rasa", "mongo"),
        "rasa keeps trackers in process memory and mongo is a single-node replica set: they run exactly "
        "one replica",
    )
    botfront: Replica = 1
    duckling: Replica = 1
    actions: Replica = 1
    botfront_api: Replica = 1


LabelKey = Text(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
    "a label key, e.g. kubernetes.io/os or example.com/gpu",
)
LabelValue = Text(
    r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$",
    "a label value: a string of up to 63 letters, digits, '-', '_', '.'",
    63,
)
Labels = Annotated[dict[LabelKey, LabelValue], Field(json_schema_extra=CLOSED)]
Strings = list[Annotated[str, Field(strict=True)]]


# The shapes of core/v1 Affinity and Toleration (k8s.io/api core/v1 types.go; tests compare them
# with kubernetes-validate's strict schemas).
class Requirement(Model):
    key: str
    operator: Choice("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
    values: Strings | None = None


class LabelSelector(Model):
    match_labels: Labels | None = None
    match_expressions: list[Requirement] | None = None


class NodeTerm(Model):
    match_expressions: list[Requirement] | None = None
    match_fields: list[Requirement] | None = None


class NodeTerms(Model):
    node_selector_terms: list[NodeTerm]


class PreferredNode(Model):
    weight: Int(1, 100)
    preference: NodeTerm


class NodeAffinity(Model):
    required_during_scheduling_ignored_during_execution: NodeTerms | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredNode] | None = None


class PodTerm(Model):
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespaces: Strings | None = None
    topology_key: str
    match_label_keys: Strings | None = None
    mismatch_label_keys: Strings | None = None


class PreferredPod(Model):
    weight: Int(1, 100)
    pod_affinity_term: PodTerm


class PodAffinity(Model):
    required_during_scheduling_ignored_during_execution: list[PodTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredPod] | None = None


class Affinity(Model):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Toleration(Model):
    key: LabelKey | None = None
    operator: Choice("Exists", "Equal") | None = None
    value: LabelValue | None = None
    effect: Choice("NoSchedule", "PreferNoSchedule", "NoExecute") | None = None
    toleration_seconds: Int(-(2**63), 2**63 - 1) | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.key is None and self.operator != "Exists":
            raise fail("without a key, the operator must be Exists (tolerates every taint)")
        if self.operator == "Exists" and self.value:
            raise fail("must be left out with operator Exists", at="value")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise fail("only applies with effect NoExecute", at="tolerationSeconds")
        return self


class Placement(Model):
    """Where a service's pods run; None: not set (the default's field, or the scheduler's)."""

    node_selector: Labels | None = None
    tolerations: list[Toleration] | None = None
    affinity: Affinity | None = None


class Placements(Model):
    default: Placement | None = None
    botfront: Placement | None = None
    rasa: Placement | None = None
    duckling: Placement | None = None
    actions: Placement | None = None
    botfront_api: Placement | None = None
    mongo: Placement | None = None
    jobs: Placement | None = None


SERVICES = ("botfront", "rasa", "duckling", "actions", "botfrontApi", "mongo", "jobs")


class PortSpec(Model):
    port: Int(1, 65535)
    protocol: Choice("TCP", "UDP", "SCTP") = "TCP"


def _network(v: Any) -> Any:
    try:
        return str(ipaddress.ip_network(v, strict=True)) if isinstance(v, str) else Problem("expected a CIDR")
    except ValueError:
        return Problem("expected a CIDR block with no host bits set, e.g. 10.20.0.0/16")


class EgressRule(Model):
    """One more destination: an IP block, or pods of a namespace (optionally by labels)."""

    cidr: With(_network, {"type": "string"}) | None = None
    namespace: LABEL | None = None
    pod_selector: Labels | None = None
    ports: list[PortSpec] = Field(min_length=1, description="expected a non-empty list of {port, protocol}")

    @model_validator(mode="after")
    def _one(self) -> EgressRule:
        if (self.cidr is None) == (self.namespace is None):
            raise fail("expected exactly one of cidr (e.g. 10.0.0.0/16) or namespace (+ podSelector)")
        if self.pod_selector is not None and self.cidr is not None:
            raise fail("only applies with namespace, not with cidr", at="podSelector")
        return self


class NetworkPolicy(Model):
    enabled: Bool() = True
    # None: ingress-nginx, or the router's policy group on OpenShift (settings.py decides).
    ingress_namespace: LABEL | None = None
    extra_egress: dict[Choice(*SERVICES), list[EgressRule]] = Field(
        default={}, json_schema_extra={"propertyNames": {"enum": list(SERVICES)}}
    )


class Rotate(Model):
    UNKNOWN = {
        "mongoPassword": "not rotatable by this stack: its generated password is protected with the data "
        "(pulumi up refuses to replace it) and mongo does not restart when its Secret changes, although "
        "components/mongo.py's postStart hook sets the Secret's password at every mongo start; follow "
        "docs/runbook.md's manual procedure"
    }
    api_key: Int(0, 2**31 - 1) | None = None
    rasa_token: Int(0, 2**31 - 1) | None = None


class SecurityOverride(Model):
    """What a stack may relax for an image that needs it; runAsUser 0 (root) is refused."""

    run_as_user: Int(1, 2**31 - 1) | None = None
    read_only_root_filesystem: Bool() | None = None


class Security(Model):
    botfront: SecurityOverride | None = None
    botfront_api: SecurityOverride | None = None
    duckling: SecurityOverride | None = None
    rasa: SecurityOverride | None = None
    actions: SecurityOverride | None = None


class RasaUrls(Model):
    development: Url | None = None
    production: Url | None = None


class ModelServer(Model):  # Rasa's `models:` endpoint, as components/rasa_config.py `models` writes it
    url: Url
    wait_time_between_pulls: Int(1, 86400) | None = None  # seconds; unset: Rasa's own 100


class ModelServers(Model):
    development: ModelServer | None = None
    production: ModelServer | None = None


class ProjectEntry(Model):
    id: PROJECT_ID
    name: str | None = Field(None, description="the project in Kubernetes names; default: the id")
    environments: Unique(Choice(*ENVIRONMENTS)) = Field(["development"], min_length=1)
    rasa_url: RasaUrls = RasaUrls()
    model_server: ModelServers = ModelServers()
    resources: ResourceOverride | None = None
    actions: Actions | None = None


class AutoScaling(Model):
    """Atlas auto-scaling of the cluster's electable nodes (dedicated tiers only)."""

    disk: Bool() | None = None
    compute_min: Tier | None = None  # set: Atlas may also scale down, to this tier
    compute_max: Tier | None = None  # set: Atlas may scale the tier up, to this tier

    @property
    def compute(self) -> bool:
        return self.compute_max is not None


class AccessObject(Model):
    """One IP access list entry: a CIDR block allowed to connect to the project's clusters."""

    cidr: Cidr
    comment: Comment | None = None


AccessItem = Annotated[
    Annotated[Cidr, Tag("~text")] | Annotated[AccessObject, Tag("~object")],
    Discriminator(lambda v: "~object" if isinstance(v, dict) else "~text"),
]


class Atlas(Model):
    org_id: ObjectId | None = Field(None, description="create a project in this organization")
    project_id: ObjectId | None = Field(None, description="or use this existing project")
    project_name: (
        Text(
            r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$",
            "an Atlas project name: 1-64 letters, digits, spaces, '_', '.' or '-', starting with a letter "
            "or digit",
            64,
        )
        | None
    ) = None
    cluster_name: (
        Text(
            r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$",
            "an Atlas cluster name: 1-64 ASCII letters, digits or '-', starting and ending with a letter "
            "or digit (a new name replaces the cluster)",
            64,
        )
        | None
    ) = None
    provider: Choice(*PROVIDERS) = "AWS"
    region: With(_region, {"type": "string"}) = Field(
        description="the Atlas region name nearest your Kubernetes cluster, e.g. EU_WEST_1 (AWS), "
        "WESTERN_EUROPE (GCP) or EUROPE_WEST (AZURE)"
    )
    instance_size: Tier = "M10"
    node_count: Int(3, 7) | None = None
    mongo_version: With(_mongo_version, {"enum": list(MONGO_VERSIONS)}) | None = None
    disk_size_gb: Int(10, 4096) | None = None
    auto_scaling: AutoScaling = AutoScaling()
    backup: Bool() | None = Field(None, description="default: on for protected dedicated clusters")
    backup_retention_days: Int(1, 3650) | None = None
    backup_retention_weeks: Int(0, 520) | None = None
    backup_retention_months: Int(0, 120) | None = None
    backup_hour_utc: Int(0, 23) | None = None
    point_in_time: Bool() | None = None
    access_list: list[AccessItem] = []
    allow_anywhere: Bool() = False
    botfront_reads_oplog_v2: Bool() = False


class Backup(Model):
    enabled: Bool() = True
    schedule: With(
        lambda v: (
            Problem(f"a quoted string; {backups.CRON_HELP}")
            if not isinstance(v, str)
            else Problem(f"{why}; {backups.CRON_HELP}")
            if (why := backups.cron_problem(v))
            else " ".join(v.split())
        ),
        {"type": "string"},
    ) = backups.DEFAULT_SCHEDULE
    retention: Int(1, 1000, ": how many of the newest archives are kept (must be at least 1)") = (
        backups.DEFAULT_RETENTION
    )
    size: Bytes = backups.DEFAULT_SIZE
    storage_class: STORAGE_CLASS | None = None


Archive = With(
    lambda v: Problem(why) if (why := backups.archive_name_problem(v)) else v,
    {"type": "string", "pattern": f"^{backups.ARCHIVE_PATTERN}$"},
)
SECRET_KEYS = {
    "mailUrl": "SMTP URL for password resets (MAIL_URL): pulumi config set --secret botfront:mailUrl smtp://...",
    "chatbaseApiKey": "written to Rasa's tracker store config (only Botfront <= 0.21 reads it)",
}


class StackConfig(Model):
    """Every `botfront:*` key but the secrets (SECRET_KEYS), in the order the README lists them.

    Each key's docstring is its description in Pulumi.yaml, the README and the JSON Schema (read by
    ops/schema.py from this source: pydantic's use_attribute_docstrings would cost every plan ~50 ms).
    """

    release: Choice(*CATALOG) = DEFAULT_RELEASE
    """Botfront release from the catalog (components/releases.py)"""
    namespace: LABEL = "botfront"
    """Kubernetes namespace of every object of the stack (DNS-1123 label; not default or kube-*)"""
    project_id: PROJECT_ID = "bf"
    """Botfront project id served by Rasa (BF_PROJECT_ID)"""
    root_url: Url
    """public URL of the Botfront UI (ROOT_URL), http or https; required"""
    rasa_url: Url | None = None
    """public URL of Rasa (webchat base_url), another host than rootUrl; empty: rasa.<host of rootUrl>,
    same scheme"""
    platform: Choice("kubernetes", "openshift") = "kubernetes"
    """kubernetes or openshift"""
    protect: Bool() = True
    """protect the namespace, databases and volumes from deletion (false only for ephemeral stacks)"""
    database: Database = Database()  # type: ignore[call-arg]
    """mode (incluster: MongoDB 4.4 replica set on a PVC, atlas, or external: urlSecret and
    oplogUrlSecret {name, key} of your Secret), name (1-16 of letters, digits, _ and
    -), oplog (MONGO_OPLOG_URL; default true in the cluster, false on Atlas); in the cluster also size and
    storageClass of MongoDB's volume"""
    images: Images = Images()
    """per-service image overrides (botfront, rasa, duckling, botfrontApi, mongo), each pinned by a tag
    other than latest or an @sha256 digest"""
    actions: Actions | None = None
    """custom action server of projectId: {image: <pinned image>, env: {NAME: value}, envFrom:
    [{secretRef: {name}} | {configMapRef: {name}}]}; empty: none"""
    duckling: Bool() = True
    """run Duckling (needed by DucklingHTTPExtractor)"""
    models: ModelsVolume = ModelsVolume()
    """the /app/models volume shared by botfront and rasa: size, storageClass, accessMode (ReadWriteOnce
    or ReadWriteMany)"""
    tracker: Tracker = Tracker()
    """Rasa tracker store: maxEvents kept in memory (0: all), persistTime (seconds of inactivity before a
    conversation leaves memory)"""
    ingress: Ingress = Ingress()
    """Ingresses of the UI and Rasa: enabled, className, tlsSecretName (your certificate for every host)
    or clusterIssuer (cert-manager; not both), annotations"""
    resources: ResourceOverrides = ResourceOverrides()
    """per-service {requests, limits} of cpu/memory (botfront, botfrontApi, duckling, rasa, actions,
    mongo); what is not given keeps the installation document's defaults"""
    replicas: Replicas = Replicas()
    """replicas of botfront, duckling, actions, botfrontApi (1-20); rasa and mongo run one; more than one
    botfront of a release that writes models needs models.accessMode ReadWriteMany"""
    render_to: str | None = None
    """write manifests to this directory instead of deploying (a stack that never deploys; secrets are
    written in plain text there)"""
    verify: Bool() = True
    """run the verification Job after every deploy; off in render mode"""
    atlas: Atlas | None = None
    """MongoDB Atlas settings for database.mode atlas (docs/atlas.md)"""
    network_policy: NetworkPolicy = NetworkPolicy()
    """default-deny NetworkPolicies plus the allowed paths: enabled, ingressNamespace (where the ingress
    controller runs; default ingress-nginx, on OpenShift the router's policy group), extraEgress
    ({<service>: [{cidr | namespace (+ podSelector), ports: [{port, protocol}]}]})"""
    projects: list[ProjectEntry] = []
    """Botfront projects and their environments, one Rasa each: [{id, name, environments, rasaUrl: {env:
    url}, modelServer: {env: {url, waitTimeBetweenPulls}}, resources, actions}]; empty: the single
    projectId in development"""
    backup: Backup | None = None
    """scheduled mongodump of the in-cluster MongoDB: enabled, schedule (cron, UTC), retention (archives
    kept), size, storageClass; empty: none (docs/backup-restore.md)"""
    restore_from: Archive | None = None
    """archive on the backups volume to restore with mongorestore --drop, e.g.
    bf-20240131T023000Z.archive.gz; unset it once verified"""
    security: Security = Security()
    """per-service relaxations for images that need them: {<service>: {runAsUser,
    readOnlyRootFilesystem}} (botfront, botfrontApi, duckling, rasa, actions)"""
    image_pull_secrets: Unique(SECRET_NAME) = []
    """names of existing Secrets in the namespace that every pod (jobs included) pulls its images with"""
    placement: Placements = Placements()
    """where pods run: {default | botfront | rasa | duckling | actions | botfrontApi | mongo | jobs:
    {nodeSelector, tolerations, affinity}}; a service's field replaces the default's same field"""
    create_namespace: Bool() = True
    """false: deploy into an existing namespace (OpenShift projects, tenant clusters), creating no
    Namespace object"""
    rotate: Rotate = Rotate()
    """secret generations {apiKey, rasaToken}: bumping one regenerates that secret and rolls exactly the
    pods that read it"""


def _pulumi_type(annotation: Any) -> str:
    kinds = (
        [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType)
        else [annotation]
    )
    kind = get_args(kinds[0])[0] if get_origin(kinds[0]) is Annotated else kinds[0]
    if get_origin(kind) is list:
        return "array"
    if isinstance(kind, type) and issubclass(kind, Model):
        return "object"
    return {bool: "boolean", int: "integer"}.get(kind, "string")


# The Pulumi.yaml `type:` of each key, as the CLI checks stack values against it before the program runs.
PULUMI_TYPES = {f.alias or n: _pulumi_type(f.annotation) for n, f in StackConfig.model_fields.items()}
