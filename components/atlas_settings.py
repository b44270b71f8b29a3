"""Settings of `database.mode: atlas`: the `botfront:atlas` object, validated.

Pure: no resource is registered here. `parse_atlas` adds every problem it finds to the shared
`Problems` (each naming the key, the value and what is allowed) and returns `AtlasSettings`
only when the block is usable. docs/atlas.md explains every key and the reasons behind the rules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.validation import Problems

ATLAS_KEYS = (
    "orgId", "projectId", "projectName", "clusterName", "provider", "region", "instanceSize",
    "nodeCount", "mongoVersion", "diskSizeGb", "autoScaling", "backup", "backupRetentionDays",
    "backupRetentionWeeks", "backupRetentionMonths", "backupHourUtc", "pointInTime",
    "accessList", "allowAnywhere", "botfrontReadsOplogV2",
)  # fmt: skip
AUTO_SCALING_KEYS = ("disk", "computeMin", "computeMax")
ACCESS_ENTRY_KEYS = ("cidr", "comment")

PROVIDERS = ("AWS", "GCP", "AZURE")
# Major versions Atlas offers for new dedicated clusters. Botfront 1.0.5 runs the 3.6 node driver
# (Meteor 2.0), which MongoDB's compatibility table marks "works, without the new features" for
# both; 4.4/5.0/6.0 are end of life and Atlas no longer creates them. docs/atlas.md has the detail.
MONGO_VERSIONS = ("7.0", "8.0")
DEFAULT_MONGO_VERSION = "8.0"
NODE_COUNTS = (3, 5, 7)
DEFAULT_INSTANCE_SIZE = "M10"
ANYWHERE = "0.0.0.0/0"

FREE = "M0"
FLEX = "FLEX"
RETIRED_SHARED = ("M2", "M5")

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")
_REGION = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_DEDICATED = re.compile(r"^(?P<family>[MR])(?P<size>[0-9]{2,3})(?P<variant>_NVME|_GEN_2)?$")
_COMMENT_MAX = 80
_RESERVED_DATABASES = ("admin", "local", "config")


@dataclass(frozen=True)
class AccessEntry:
    """One IP access list entry: a CIDR block allowed to connect to the project's clusters."""

    cidr: str
    comment: str | None = None


@dataclass(frozen=True)
class AutoScaling:
    """Atlas auto-scaling of the cluster's electable nodes (dedicated tiers only)."""

    disk: bool = False
    compute_min: str | None = None  # set: Atlas may also scale down, to this tier
    compute_max: str | None = None  # set: Atlas may scale the tier up, to this tier

    @property
    def compute(self) -> bool:
        return self.compute_max is not None


@dataclass(frozen=True)
class BackupPolicy:
    """The cloud backup schedule: how long each kind of snapshot is kept."""

    daily_days: int = 7
    weekly_weeks: int = 0  # 0: no weekly snapshots kept beyond the daily ones
    monthly_months: int = 0  # 0: no monthly snapshots
    hour_utc: int | None = None  # None: Atlas picks the snapshot time
    point_in_time: bool = False  # Continuous Cloud Backup (pit_enabled)


@dataclass(frozen=True)
class AtlasSettings:
    provider: str  # AWS, GCP or AZURE (for M0 and Flex: the backing provider)
    region: str  # Atlas region name, e.g. EU_WEST_1
    instance_size: str  # M10.., R40.., Mxx_NVME, Mxx_GEN_2, or M0 / FLEX
    org_id: str | None = None  # create a project in this organization ...
    project_id: str | None = None  # ... or use this existing project (exactly one is set)
    project_name: str | None = None  # None: default_project_name(stack)
    cluster_name: str | None = None  # None: default_cluster_name(stack)
    node_count: int = 3
    mongo_version: str | None = DEFAULT_MONGO_VERSION  # None on M0 / Flex (Atlas picks)
    disk_size_gb: int | None = None  # None: the tier's default storage
    auto_scaling: AutoScaling = field(default_factory=AutoScaling)
    backup: BackupPolicy | None = None  # None: no Atlas cloud backups
    access_list: tuple[AccessEntry, ...] = ()  # includes 0.0.0.0/0 when allow_anywhere
    allow_anywhere: bool = False

    @property
    def tier(self) -> str:
        """One of "dedicated", "free" (M0) or "flex"."""
        return tier_of(self.instance_size)

    @property
    def dedicated(self) -> bool:
        return self.tier == "dedicated"


def tier_of(instance_size: str) -> str:
    if instance_size == FREE:
        return "free"
    if instance_size == FLEX:
        return "flex"
    if instance_size in RETIRED_SHARED:
        return "retired"
    return "dedicated" if _dedicated_size(instance_size) is not None else "unknown"


def _dedicated_size(instance_size: str) -> tuple[str, int, str] | None:
    """(family, number, variant) of a dedicated tier name, e.g. ("M", 30, "_GEN_2")."""
    match = _DEDICATED.match(instance_size)
    if not match:
        return None
    family, size, variant = match.group("family"), int(match.group("size")), match.group("variant")
    if size < (10 if family == "M" else 40):
        return None
    return family, size, variant or ""


def default_cluster_name(stack: str) -> str:
    """`bf-<stack>` made a valid Atlas cluster name (letters, digits, '-'; at most 64)."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    return f"bf-{slug}"[:64].rstrip("-")


def default_project_name(stack: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stack).strip("-") or "stack"
    return f"botfront-{slug}"[:64]


def parse_atlas(
    p: Problems, value: Any, *, mode: str, db_name: str, oplog: bool, protect: bool
) -> AtlasSettings | None:
    """The `botfront:atlas` object for `database.mode: atlas`; problems go to `p`."""
    if mode != "atlas":
        if value is not None:
            p.add(
                "atlas", value,
                f"the atlas block only applies to database.mode atlas (database.mode is {mode}): "
                "remove botfront:atlas or set database.mode: atlas",
            )  # fmt: skip
        return None
    if value is None:
        p.add(
            "atlas", value,
            "required when database.mode is atlas: an object with orgId or projectId, provider, "
            "region, instanceSize and accessList (see docs/atlas.md)",
        )  # fmt: skip
        return None
    if not isinstance(value, Mapping):
        p.add("atlas", value, "expected an object (a YAML mapping), see docs/atlas.md")
        return None

    before = len(p.items)
    raw = p.mapping("atlas", value, ATLAS_KEYS)

    if db_name.lower() in _RESERVED_DATABASES:
        p.add(
            "database.name", db_name,
            "admin, local and config are MongoDB's own databases: pick a short name of your own, "
            "e.g. bf",
        )  # fmt: skip

    org_id, project_id, project_name = _project(p, raw)
    cluster_name = p.string(
        "atlas.clusterName", raw.get("clusterName"), "", _CLUSTER_NAME,
        "an Atlas cluster name: 1-64 ASCII letters, digits or '-', starting and ending with a "
        "letter or digit (it cannot be changed later: a new name replaces the cluster)",
    ) or None  # fmt: skip
    provider = p.choice("atlas.provider", raw.get("provider"), "AWS", PROVIDERS)
    region = _region(p, raw.get("region"))
    instance_size = _instance_size(p, raw.get("instanceSize"))
    tier = tier_of(instance_size)
    dedicated = tier == "dedicated"

    if oplog and tier in ("free", "flex", "retired"):
        p.add(
            "atlas.instanceSize", instance_size,
            "M0 and Flex clusters (and the retired M2/M5) give no oplog access (Flex: none at "
            "all; M0: only limited reads of local.oplog.rs), but database.oplog is true: use a "
            "dedicated tier (M10 or larger) or set database.oplog: false (Meteor then polls)",
        )  # fmt: skip
    reads_v2 = p.boolean("atlas.botfrontReadsOplogV2", raw.get("botfrontReadsOplogV2"), False)
    if oplog and not reads_v2:
        p.add(
            "database.oplog", oplog,
            "Botfront's Meteor 2.0 cannot tail the oplog of MongoDB 5.0 or later (updates are "
            "logged in the $v:2 format, which Meteor reads only from 2.6; older Meteor fails with "
            "\"Key $v must not start with '$'\") and Atlas runs 7.0 or 8.0: set "
            "database.oplog: false (Meteor polls instead), use database.mode incluster "
            "(MongoDB 4.4), or set atlas.botfrontReadsOplogV2: true if images.botfront is built "
            "on Meteor 2.6 or later",
        )  # fmt: skip
    if not oplog and "botfrontReadsOplogV2" in raw and reads_v2:
        p.add(
            "atlas.botfrontReadsOplogV2", raw["botfrontReadsOplogV2"],
            "only applies when database.oplog is true",
        )  # fmt: skip

    mongo_version = _mongo_version(p, raw.get("mongoVersion"), dedicated, instance_size)
    node_count = _node_count(p, raw.get("nodeCount"), dedicated, instance_size)
    disk_size_gb = _disk_size(p, raw.get("diskSizeGb"), dedicated, instance_size, provider)
    auto_scaling = _auto_scaling(p, raw.get("autoScaling"), dedicated, instance_size)
    backup = _backup(p, raw, dedicated, instance_size, protect)
    allow_anywhere = p.boolean("atlas.allowAnywhere", raw.get("allowAnywhere"), False)
    access_list = _access_list(p, raw.get("accessList"), allow_anywhere, creating=org_id is not None)

    if len(p.items) > before:
        return None
    return AtlasSettings(
        provider=provider,
        region=region,
        instance_size=instance_size,
        org_id=org_id,
        project_id=project_id,
        project_name=project_name,
        cluster_name=cluster_name,
        node_count=node_count,
        mongo_version=mongo_version,
        disk_size_gb=disk_size_gb,
        auto_scaling=auto_scaling,
        backup=backup,
        access_list=access_list,
        allow_anywhere=allow_anywhere,
    )


def _object_id(p: Problems, path: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _OBJECT_ID.match(value):
        p.add(
            path, value,
            "expected a 24-character lower-case hex id as shown in the Atlas UI "
            "(Organization Settings or Project Settings), e.g. 5f1e2d3c4b5a697887766554",
        )  # fmt: skip
        return None
    return value


def _project(p: Problems, raw: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    org_id = _object_id(p, "atlas.orgId", raw.get("orgId"))
    project_id = _object_id(p, "atlas.projectId", raw.get("projectId"))
    if raw.get("orgId") is not None and raw.get("projectId") is not None:
        p.add(
            "atlas.projectId", raw.get("projectId"),
            "set exactly one of atlas.orgId (create a project in that organization) and "
            "atlas.projectId (use an existing project), not both",
        )  # fmt: skip
    elif raw.get("orgId") is None and raw.get("projectId") is None:
        p.add(
            "atlas.orgId", None,
            "required: set atlas.orgId (a new project is created in that organization) or "
            "atlas.projectId (an existing project is used)",
        )  # fmt: skip
    project_name = p.string(
        "atlas.projectName", raw.get("projectName"), "", _PROJECT_NAME,
        "an Atlas project name: 1-64 letters, digits, spaces, '_', '.' or '-', starting with a "
        "letter or digit",
    ) or None  # fmt: skip
    if project_name is not None and raw.get("projectId") is not None:
        p.add(
            "atlas.projectName", project_name,
            "only applies when a project is created (atlas.orgId); an existing project "
            "(atlas.projectId) keeps its name",
        )  # fmt: skip
    return org_id, project_id, project_name


def _region(p: Problems, value: Any) -> str:
    if value is None:
        p.add(
            "atlas.region", value,
            "required: the Atlas region name nearest your Kubernetes cluster, e.g. EU_WEST_1 "
            "(AWS), WESTERN_EUROPE (GCP) or EUROPE_WEST (AZURE)",
        )  # fmt: skip
        return ""
    if not isinstance(value, str) or not _REGION.match(value):
        hint = ""
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]+", value):
            hint = f" (did you mean {value.upper().replace('-', '_')}?)"
        p.add(
            "atlas.region", value,
            "expected an Atlas region name: upper-case letters, digits and '_', e.g. EU_WEST_1 "
            f"(not the cloud's own eu-west-1){hint}",
        )  # fmt: skip
        return ""
    return value


def _instance_size(p: Problems, value: Any) -> str:
    if value is None:
        return DEFAULT_INSTANCE_SIZE
    allowed = (
        "expected an Atlas cluster tier: M10, M20, M30, M40, M50, M60, M80, M140, M200, ... "
        "(dedicated), R40 and up (low CPU), M30_GEN_2 and similar; or M0 "
        "/ FLEX (shared: no oplog, no backup schedule)"
    )
    if not isinstance(value, str):
        p.add("atlas.instanceSize", value, allowed)
        return DEFAULT_INSTANCE_SIZE
    if value in RETIRED_SHARED:
        p.add(
            "atlas.instanceSize", value,
            "Atlas no longer creates M2 or M5 clusters (retired in 2025 and migrated to Flex): "
            "use FLEX or M0 (shared), or M10 or larger (dedicated)",
        )  # fmt: skip
        return value
    if tier_of(value) == "unknown":
        hint = f" (did you mean {value.upper()}?)" if tier_of(value.upper()) != "unknown" else ""
        p.add("atlas.instanceSize", value, allowed + hint)
        return DEFAULT_INSTANCE_SIZE
    if value.endswith("_NVME"):
        p.add(
            "atlas.instanceSize", value,
            "NVMe tiers need a PROVISIONED or HIGH_PERFORMANCE volume type, which this program does "
            "not configure (Atlas would refuse the cluster): use a general tier, e.g. "
            + value.removesuffix("_NVME"),
        )  # fmt: skip
        return value
    return value


def _mongo_version(p: Problems, value: Any, dedicated: bool, size: str) -> str | None:
    if not dedicated:
        if value is not None:
            p.add(
                "atlas.mongoVersion", value,
                f"{size} clusters run the MongoDB version Atlas picks (8.0 today) and cannot be "
                "pinned: remove atlas.mongoVersion or use a dedicated tier (M10 or larger)",
            )  # fmt: skip
        return None
    if value is None:
        return DEFAULT_MONGO_VERSION
    # YAML reads an unquoted 8.0 as a number.
    text = f"{value:.1f}" if isinstance(value, float) else value if isinstance(value, str) else None
    if text in MONGO_VERSIONS:
        return text
    why = (
        "MongoDB 6.0 and older are end of life and Atlas no longer creates them (for 4.4 use "
        "database.mode incluster)"
        if isinstance(text, str) and re.fullmatch(r"[0-6]\.[0-9]+", text)
        else "the major versions Atlas offers for dedicated clusters that this program has "
        "checked against Botfront's node driver 3.6 (see docs/atlas.md)"
    )
    p.add("atlas.mongoVersion", value, f"allowed: {', '.join(MONGO_VERSIONS)} (quoted); {why}")
    return DEFAULT_MONGO_VERSION


def _node_count(p: Problems, value: Any, dedicated: bool, size: str) -> int:
    if value is None:
        return 3
    if not dedicated:
        p.add("atlas.nodeCount", value, f"only applies to dedicated tiers; {size} is shared")
        return 3
    count = p.integer("atlas.nodeCount", value, 3, 3, 7)
    if count not in NODE_COUNTS:
        p.add("atlas.nodeCount", value, "allowed: 3, 5 or 7 (a replica set needs an odd count)")
        return 3
    return count


def _disk_size(p: Problems, value: Any, dedicated: bool, size: str, provider: str) -> int | None:
    if not dedicated:
        if value is not None:
            p.add(
                "atlas.diskSizeGb", value,
                f"{size} clusters have fixed storage: remove atlas.diskSizeGb or use M10 or larger",
            )  # fmt: skip
        return None
    if value is None:
        if provider == "GCP":
            p.add(
                "atlas.diskSizeGb", value,
                "required on GCP (the provider needs it to pick the disk's IOPS range): a whole "
                "number of GB, at least the tier's default storage (M10: 10, M20: 20, M30: 40)",
            )  # fmt: skip
        return None
    if provider == "AWS":
        p.add(
            "atlas.diskSizeGb", value,
            "on AWS the Atlas provider supports diskSizeGb only with Provisioned IOPS storage, "
            "which this program does not configure: remove it (Atlas gives each tier its "
            "default storage) and keep autoScaling.disk: true to grow the disk",
        )  # fmt: skip
        return None
    size_gb = p.integer("atlas.diskSizeGb", value, 0, 10, 4096)
    return size_gb or None


def _auto_scaling(p: Problems, value: Any, dedicated: bool, size: str) -> AutoScaling:
    raw = p.mapping("atlas.autoScaling", value, AUTO_SCALING_KEYS)
    if not dedicated:
        if raw:
            p.add(
                "atlas.autoScaling", value,
                f"auto-scaling applies to dedicated tiers only; {size} is shared: remove it",
            )  # fmt: skip
        return AutoScaling()
    own = _dedicated_size(size)
    nvme = own is not None and own[2] == "_NVME"
    disk = p.boolean("atlas.autoScaling.disk", raw.get("disk"), not nvme)
    if nvme and disk:
        p.add(
            "atlas.autoScaling.disk", raw.get("disk"),
            "NVMe tiers have fixed local storage and no disk auto-scaling: set it false",
        )  # fmt: skip
    compute_max = _scaling_bound(p, "atlas.autoScaling.computeMax", raw.get("computeMax"), size)
    compute_min = _scaling_bound(p, "atlas.autoScaling.computeMin", raw.get("computeMin"), size)
    if compute_min is not None and raw.get("computeMax") is None:
        p.add(
            "atlas.autoScaling.computeMin", compute_min,
            "scaling down needs compute auto-scaling: also set atlas.autoScaling.computeMax",
        )  # fmt: skip
    if own is not None:
        for path, bound, ok, rule in (
            ("computeMax", compute_max, lambda b: b >= own[1], "at least"),
            ("computeMin", compute_min, lambda b: b <= own[1], "at most"),
        ):
            parsed = _dedicated_size(bound) if bound else None
            if parsed is not None and not ok(parsed[1]):
                p.add(
                    f"atlas.autoScaling.{path}", bound,
                    f"must be {rule} atlas.instanceSize ({size})",
                )  # fmt: skip
    return AutoScaling(disk=disk, compute_min=compute_min, compute_max=compute_max)


def _scaling_bound(p: Problems, path: str, value: Any, size: str) -> str | None:
    if value is None:
        return None
    own = _dedicated_size(size)
    bound = _dedicated_size(value) if isinstance(value, str) else None
    if bound is None or own is None or bound[0] != own[0] or bound[2] != own[2]:
        p.add(
            path, value,
            f"expected a dedicated tier of the same kind as atlas.instanceSize ({size}), e.g. "
            "M30 for M10; NVMe tiers do not auto-scale",
        )  # fmt: skip
        return None
    if own[2] == "_NVME":
        p.add(path, value, "NVMe tiers do not auto-scale")
        return None
    return str(value)


def _backup(
    p: Problems, raw: Mapping[str, Any], dedicated: bool, size: str, protect: bool
) -> BackupPolicy | None:
    enabled = p.boolean("atlas.backup", raw.get("backup"), protect and dedicated)
    if enabled and not dedicated:
        why = (
            "Flex clusters take fixed daily snapshots that cannot be scheduled"
            if size == FLEX
            else f"{size} clusters have no cloud backups"
        )
        p.add(
            "atlas.backup", raw.get("backup"),
            f"{why}: set atlas.backup: false or use a dedicated tier (M10 or larger)",
        )  # fmt: skip
        enabled = False
    keys = ("backupRetentionDays", "backupRetentionWeeks", "backupRetentionMonths",
            "backupHourUtc", "pointInTime")  # fmt: skip
    if not enabled:
        for key in keys:
            if raw.get(key) is not None:
                p.add(f"atlas.{key}", raw[key], "only applies with atlas.backup: true")
        return None
    days = p.integer("atlas.backupRetentionDays", raw.get("backupRetentionDays"), 7, 1, 3650)
    weeks = p.integer("atlas.backupRetentionWeeks", raw.get("backupRetentionWeeks"), 0, 0, 520)
    months = p.integer("atlas.backupRetentionMonths", raw.get("backupRetentionMonths"), 0, 0, 120)
    hour = p.integer("atlas.backupHourUtc", raw.get("backupHourUtc"), -1, 0, 23)
    # Atlas: a less frequent snapshot must be kept at least as long as a more frequent one.
    if weeks and weeks * 7 < days:
        p.add(
            "atlas.backupRetentionWeeks", weeks,
            f"weekly snapshots must be kept at least as long as daily ones ({days} days): "
            f"at least {-(-days // 7)}, or 0 for none",
        )  # fmt: skip
    longest = max(days, weeks * 7)
    if months and months * 31 < longest:
        p.add(
            "atlas.backupRetentionMonths", months,
            f"monthly snapshots must be kept at least as long as daily and weekly ones "
            f"({longest} days): at least {-(-longest // 31)}, or 0 for none",
        )  # fmt: skip
    return BackupPolicy(
        daily_days=days,
        weekly_weeks=weeks,
        monthly_months=months,
        hour_utc=None if hour < 0 else hour,
        point_in_time=p.boolean("atlas.pointInTime", raw.get("pointInTime"), False),
    )


def _access_list(p: Problems, value: Any, allow_anywhere: bool, creating: bool) -> tuple[AccessEntry, ...]:
    def read(path: str, item: Any) -> AccessEntry | None:
        return _access_entry(p, path, item, allow_anywhere)

    entries = [entry for entry in p.each("atlas.accessList", value, read) if entry is not None]
    seen: set[str] = set()
    for entry in entries:
        if entry.cidr in seen:
            p.add(
                "atlas.accessList", entry.cidr,
                "listed twice (Atlas does not detect duplicate entries): keep one",
            )  # fmt: skip
        seen.add(entry.cidr)
    if allow_anywhere and ANYWHERE not in seen:
        entries.append(AccessEntry(ANYWHERE, "allowAnywhere: any IPv4 address"))
    if not entries and creating and not value:
        p.add(
            "atlas.accessList", value,
            "required when a project is created: the CIDR blocks your Kubernetes nodes connect "
            "from (their NAT or egress addresses), e.g. [203.0.113.0/24]; to allow any address "
            "set atlas.allowAnywhere: true instead",
        )  # fmt: skip
    return tuple(entries)


def _access_entry(p: Problems, path: str, item: Any, allow_anywhere: bool) -> AccessEntry | None:
    """One accessList item: "203.0.113.0/24", "203.0.113.7" or {cidr: ..., comment: ...}."""
    cidr_path, cidr, comment = path, item, None
    if isinstance(item, Mapping):
        entry = p.mapping(path, item, ACCESS_ENTRY_KEYS)
        cidr_path, cidr = f"{path}.cidr", entry.get("cidr")
        comment = entry.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > _COMMENT_MAX):
            p.add(f"{path}.comment", comment, f"expected text of at most {_COMMENT_MAX} characters")
            comment = None
    allowed = (
        "expected an IPv4 CIDR block such as 203.0.113.0/24, or one address such as 203.0.113.7 "
        "(or an object {cidr, comment})"
    )
    if not isinstance(cidr, str):
        p.add(cidr_path, cidr, allowed)
        return None
    try:
        network = ipaddress.IPv4Network(cidr.strip(), strict=False)
    except ValueError:
        p.add(cidr_path, cidr, allowed)
        return None
    if str(network.network_address) != cidr.strip().split("/")[0]:
        p.add(cidr_path, cidr, f"has host bits set: did you mean {network}?")
        return None
    if network.prefixlen == 0:
        if not allow_anywhere:
            p.add(
                cidr_path, cidr,
                "opens the database to the whole internet: list your cluster's egress CIDRs "
                "instead, or set atlas.allowAnywhere: true to say so explicitly",
            )  # fmt: skip
            return None
        return AccessEntry(ANYWHERE, comment or "allowAnywhere: any IPv4 address")
    return AccessEntry(str(network), comment)
