"""`botfront:atlas` across keys (docs/atlas.md gives the reasons behind each rule)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from components.atlas_catalog import (
    ANYWHERE,
    DEFAULT_MONGO_VERSION,
    DISK_PER_RAM,
    FLEX,
    NODE_COUNTS,
    OFFERED,
    RAM_GB,
    dedicated_size,
    tier_of,
)
from components.model import AccessObject, AutoScaling
from components.validation import Problems


@dataclass(frozen=True)
class BackupPolicy:
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
    auto_scaling: AutoScaling = field(default_factory=AutoScaling)  # disk: None on shared tiers
    backup: BackupPolicy | None = None  # None: no Atlas cloud backups
    access_list: tuple[AccessObject, ...] = ()  # includes 0.0.0.0/0 when allow_anywhere
    allow_anywhere: bool = False

    @property
    def tier(self) -> str:  # "dedicated", "free" (M0) or "flex"
        return tier_of(self.instance_size)

    @property
    def dedicated(self) -> bool:
        return self.tier == "dedicated"


def build_atlas(
    p: Problems, a: Any, raw: Any, *, mode: str, oplog: bool, protect: bool, stack: str = ""
) -> AtlasSettings | None:
    if mode != "atlas":
        if a is not None:
            p.add("atlas", raw, "the atlas block only applies to database.mode atlas (database.mode is "
                  f"{mode}): remove botfront:atlas or set database.mode: atlas")  # fmt: skip
        return None
    if a is None:
        p.add("atlas", raw, "required when database.mode is atlas: an object with orgId or projectId, "
              "provider, region, instanceSize and accessList (see docs/atlas.md)")  # fmt: skip
        return None
    before = len(p.items)
    size, tier = a.instance_size, tier_of(a.instance_size)
    dedicated, shared = tier == "dedicated", f"{a.instance_size} clusters"
    if a.org_id and a.project_id:
        p.add("atlas.projectId", a.project_id, "set exactly one of atlas.orgId (create a project in that "
              "organization) and atlas.projectId (use an existing project), not both")  # fmt: skip
    elif not (a.org_id or a.project_id):
        p.add("atlas.orgId", None, "required: set atlas.orgId (a new project is created in that "
              "organization) or atlas.projectId (an existing project is used)")  # fmt: skip
    if a.project_name and a.project_id:
        p.add("atlas.projectName", a.project_name, "only applies when a project is created (atlas.orgId); "
              "an existing project (atlas.projectId) keeps its name")  # fmt: skip
    if oplog and not dedicated:
        p.add("atlas.instanceSize", size, "M0 and Flex clusters (and the retired M2/M5) give no oplog "
              "access (Flex: none at all; M0: only limited reads of local.oplog.rs), but database.oplog is "
              "true: use a dedicated tier (M10 or larger) or set database.oplog: false "
              "(Meteor then polls)")  # fmt: skip
    if oplog and not a.botfront_reads_oplog_v2:
        p.add("database.oplog", oplog, "Botfront's Meteor 2.0 cannot tail the oplog of MongoDB 5.0 or "
              "later (updates are logged in the $v:2 format, which Meteor reads only from 2.6; older "
              "Meteor fails with \"Key $v must not start with '$'\") and Atlas runs 7.0 or 8.0: set "
              "database.oplog: false (Meteor polls instead), use database.mode incluster (MongoDB 4.4), or "
              "set atlas.botfrontReadsOplogV2: true if images.botfront is built on Meteor "
              "2.6 or later")  # fmt: skip
    if not oplog and a.botfront_reads_oplog_v2:
        p.add("atlas.botfrontReadsOplogV2", True, "only applies when database.oplog is true")
    if not dedicated:
        for key, value, why in (
            ("mongoVersion", a.mongo_version, f"{shared} run the MongoDB version Atlas picks (8.0 today) and "
             "cannot be pinned: remove atlas.mongoVersion or use a dedicated tier (M10 or larger)"),
            ("nodeCount", a.node_count, f"only applies to dedicated tiers; {size} is shared"),
            ("diskSizeGb", a.disk_size_gb, f"{shared} have fixed storage: remove atlas.diskSizeGb or use M10 "
             "or larger"),
            ("autoScaling", (raw or {}).get("autoScaling"), "auto-scaling applies to dedicated tiers only; "
             f"{size} is shared: remove it"),
        ):  # fmt: skip
            if value:
                p.add(f"atlas.{key}", value, why)
    if a.node_count is not None and a.node_count not in NODE_COUNTS:
        p.add("atlas.nodeCount", a.node_count, "allowed: 3, 5 or 7 (a replica set needs an odd count)")
    if dedicated:
        _disk(p, a)
        _offered(p, a)
    _policy(p, a, raw, dedicated, protect, stack)
    scaling = _auto_scaling(p, a, raw) if dedicated else AutoScaling()
    backup = _backup(p, a, dedicated, protect)
    access = _access_list(p, a, (raw or {}).get("accessList"))
    if len(p.items) > before:
        return None
    same = ("provider", "region", "instance_size", "org_id", "project_id", "project_name", "cluster_name",
            "disk_size_gb", "allow_anywhere")  # fmt: skip
    return AtlasSettings(
        **{k: getattr(a, k) for k in same},
        node_count=a.node_count or 3,
        mongo_version=(a.mongo_version or DEFAULT_MONGO_VERSION) if dedicated else None,
        auto_scaling=scaling,
        backup=backup,
        access_list=access,
    )


# policy/policies.py `atlas-cluster-protected` with its default config (protectedStacks).
POLICY_PROTECTED_STACKS = ("staging", "prod")


def _offered(p: Problems, a: Any) -> None:
    own = dedicated_size(a.instance_size)
    if own is None:
        return
    family, number, variant = own
    general, low_cpu = OFFERED[a.provider]
    sizes = general if family == "M" else low_cpu
    if variant == "_GEN_2" and (a.provider != "AWS" or number < 30):
        p.add("atlas.instanceSize", a.instance_size, "Gen2 tiers exist on AWS only, from M30_GEN_2 "
              f"(provider is {a.provider}): use {family}{number} or another provider")  # fmt: skip
    elif number not in sizes:
        names = ", ".join(f"{family}{n}" for n in sizes)
        p.add("atlas.instanceSize", a.instance_size, f"{a.provider} offers {names}")
    elif a.disk_size_gb and number in RAM_GB and a.disk_size_gb > DISK_PER_RAM * RAM_GB[number]:
        limit = int(DISK_PER_RAM * RAM_GB[number])
        p.add("atlas.diskSizeGb", a.disk_size_gb, f"at most {limit} GB on {a.instance_size} (Atlas allows "
              f"{DISK_PER_RAM} times the tier's RAM): use a larger tier or a smaller disk")  # fmt: skip


def _policy(p: Problems, a: Any, raw: Any, dedicated: bool, protect: bool, stack: str) -> None:
    # What the mandatory `atlas-cluster-protected` policy would refuse at preview time.
    if not protect and stack in POLICY_PROTECTED_STACKS:
        p.add("protect", protect, "the policy pack protects Atlas clusters of stacks named "
              f"{' and '.join(POLICY_PROTECTED_STACKS)} (termination protection and backups): keep "
              "botfront:protect true on this stack")  # fmt: skip
    elif protect and not dedicated:
        p.add("atlas.instanceSize", a.instance_size, "a protected stack's cluster needs backups (policy "
              "atlas-cluster-protected) and M0/Flex clusters have no backup schedule: use M10 or larger, "
              "or botfront:protect false for a throwaway stack")  # fmt: skip
    elif protect and a.backup is False:
        p.add("atlas.backup", (raw or {}).get("backup"), "a protected stack's dedicated cluster keeps "
              "cloud backups (policy atlas-cluster-protected): remove atlas.backup: false, or set "
              "botfront:protect false")  # fmt: skip


# The shipped staging and prod stack files' examples: an all-zero organization and RFC 5737
# documentation ranges, which never reach Atlas from a real update.
PLACEHOLDER_ORG = "0" * 24
DOCUMENTATION_NETS = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def placeholders(a: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [("atlas.orgId", a.org_id)] if a.org_id == PLACEHOLDER_ORG else []
    for index, item in enumerate(a.access_list):
        cidr = ipaddress.IPv4Network(item if isinstance(item, str) else item.cidr)
        if any(cidr.subnet_of(net) for net in DOCUMENTATION_NETS):
            found.append((f"atlas.accessList[{index}]", str(cidr)))
    return found


def _disk(p: Problems, a: Any) -> None:
    if a.disk_size_gb is None and a.provider == "GCP":
        p.add("atlas.diskSizeGb", None, "required on GCP (the provider needs it to pick the disk's IOPS "
              "range): a whole number of GB, at least the tier's default storage (M10: 10, M20: 20, M30: "
              "40)")  # fmt: skip
    if a.disk_size_gb is not None and a.provider == "AWS":
        p.add("atlas.diskSizeGb", a.disk_size_gb, "on AWS the Atlas provider supports diskSizeGb only with "
              "Provisioned IOPS storage, which this program does not configure: remove it (Atlas gives "
              "each tier its default storage) and keep autoScaling.disk: true to grow the "
              "disk")  # fmt: skip


def _auto_scaling(p: Problems, a: Any, raw: Any) -> AutoScaling:
    own, s = dedicated_size(a.instance_size), a.auto_scaling
    if own is None:  # not a dedicated tier: refused before
        return AutoScaling()
    for key, bound, ok, rule in (
        ("computeMax", s.compute_max, lambda b: b >= own[1], "at least"),
        ("computeMin", s.compute_min, lambda b: b <= own[1], "at most"),
    ):
        parsed = dedicated_size(bound) if bound else None
        if bound and (parsed is None or parsed[0] != own[0] or parsed[2] != own[2]):
            p.add(f"atlas.autoScaling.{key}", bound, "expected a dedicated tier of the same kind as "
                  f"atlas.instanceSize ({a.instance_size}), e.g. M30 for M10")  # fmt: skip
        elif parsed and not ok(parsed[1]):
            p.add(f"atlas.autoScaling.{key}", bound, f"must be {rule} atlas.instanceSize ({a.instance_size})")
    if s.compute_min and not s.compute_max:
        p.add("atlas.autoScaling.computeMin", s.compute_min, "scaling down needs compute auto-scaling: "
              "also set atlas.autoScaling.computeMax")  # fmt: skip
    return s.model_copy(update={"disk": True if s.disk is None else s.disk})


def _backup(p: Problems, a: Any, dedicated: bool, protect: bool) -> BackupPolicy | None:
    enabled = (protect and dedicated) if a.backup is None else a.backup
    if enabled and not dedicated:
        why = ("Flex clusters take fixed daily snapshots that cannot be scheduled" if a.instance_size == FLEX
               else f"{a.instance_size} clusters have no cloud backups")  # fmt: skip
        p.add("atlas.backup", a.backup, f"{why}: set atlas.backup: false or use a dedicated tier (M10 or "
              "larger)")  # fmt: skip
        return None
    keys = ("backupRetentionDays", "backupRetentionWeeks", "backupRetentionMonths", "backupHourUtc",
            "pointInTime")  # fmt: skip
    values = {k: getattr(a, re.sub(r"([A-Z])", r"_\1", k).lower()) for k in keys}
    if not enabled:
        for key, value in values.items():
            if value is not None:
                p.add(f"atlas.{key}", value, "only applies with atlas.backup: true")
        return None
    days, weeks = a.backup_retention_days or 7, a.backup_retention_weeks or 0
    months = a.backup_retention_months or 0
    # Atlas: a less frequent snapshot must be kept at least as long as a more frequent one.
    if weeks and weeks * 7 < days:
        p.add("atlas.backupRetentionWeeks", weeks, "weekly snapshots must be kept at least as long as "
              f"daily ones ({days} days): at least {-(-days // 7)}, or 0 for none")  # fmt: skip
    longest = max(days, weeks * 7)
    if months and months * 31 < longest:
        p.add("atlas.backupRetentionMonths", months, "monthly snapshots must be kept at least as long as "
              f"daily and weekly ones ({longest} days): at least {-(-longest // 31)}, or 0 "
              "for none")  # fmt: skip
    return BackupPolicy(days, weeks, months, a.backup_hour_utc, bool(a.point_in_time))


def _access_list(p: Problems, a: Any, raw: Any) -> tuple[AccessObject, ...]:
    entries: list[AccessObject] = []
    for index, item in enumerate(a.access_list):
        cidr, comment = (item, None) if isinstance(item, str) else (item.cidr, item.comment)
        path = f"atlas.accessList[{index}]" + ("" if isinstance(item, str) else ".cidr")
        if cidr == ANYWHERE and not a.allow_anywhere:
            p.add(path, raw[index] if isinstance(item, str) else raw[index]["cidr"], "opens the database "
                  "to the whole internet: list your cluster's egress CIDRs instead, or set "
                  "atlas.allowAnywhere: true to say so explicitly")  # fmt: skip
        elif cidr in (e.cidr for e in entries):
            p.add("atlas.accessList", cidr, "listed twice (Atlas does not detect duplicate entries): keep "
                  "one")  # fmt: skip
        else:
            anywhere = "allowAnywhere: any IPv4 address" if cidr == ANYWHERE else None
            entries.append(AccessObject(cidr=cidr, comment=comment or anywhere))
    if a.allow_anywhere and ANYWHERE not in (e.cidr for e in entries):
        entries.append(AccessObject(cidr=ANYWHERE, comment="allowAnywhere: any IPv4 address"))
    if not entries and a.org_id:
        p.add("atlas.accessList", raw if raw is not None else [], "required when a project is created: the "
              "CIDR blocks your Kubernetes nodes connect from (their NAT or egress addresses), e.g. "
              "[203.0.113.0/24]; to allow any address set atlas.allowAnywhere: true instead")  # fmt: skip
    return tuple(entries)
