"""AtlasDatabase: the MongoDB Atlas project, cluster, user, access list and backups -> URLs.

Uses the default `mongodbatlas` provider, so credentials come from stack config
(`mongodbatlas:clientId`/`clientSecret`, or `publicKey`/`privateKey`) or the environment
(docs/atlas.md). The URL helpers are pure functions, tested on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_mongodbatlas as atlas
import pulumi_random as random

from components.atlas_catalog import default_cluster_name, default_project_name
from components.atlas_settings import AtlasSettings
from components.database import MongoDatabase, keep_data

AUTH_DATABASE = "admin"
OPLOG_DATABASE = "local"
MONGO_QUERY = "retryWrites=true&w=majority&authSource=admin"
OPLOG_QUERY = "authSource=admin"
# Some of these need percent-encoding in a URL ('#', '%', '?'): build_mongo_url encodes the
# password, so any character would do. Quotes, '$', '`', '\\' and spaces are left out anyway.
PASSWORD_SPECIALS = "-_.~!#%*+=?"
PASSWORD_LENGTH = 32


def srv_host(standard_srv: str) -> str:
    """`mongodb+srv://bf-dev.abcde.mongodb.net` -> `bf-dev.abcde.mongodb.net`."""
    prefix = "mongodb+srv://"
    if not standard_srv or not standard_srv.startswith(prefix):
        raise ValueError(f"expected a mongodb+srv:// connection string from Atlas, got {standard_srv!r}")
    host = standard_srv[len(prefix) :].split("/", 1)[0].split("?", 1)[0]
    if not host or "@" in host:
        raise ValueError(f"expected a mongodb+srv:// connection string from Atlas, got {standard_srv!r}")
    return host


def build_mongo_url(standard_srv: str, username: str, password: str, database: str, query: str) -> str:
    """An authenticated SRV URL; user and password percent-encoded (':', '/', '@', '#', ...)."""
    user = quote(username, safe="")
    secret = quote(password, safe="")
    return f"mongodb+srv://{user}:{secret}@{srv_host(standard_srv)}/{database}?{query}"


def access_entry_name(cidr: str) -> str:
    """A stable resource-name suffix per CIDR, so reordering the list replaces nothing."""
    return re.sub(r"[^0-9A-Za-z]+", "-", cidr).strip("-")


@dataclass
class AtlasDatabaseArgs:
    settings: AtlasSettings
    database_name: str
    oplog: bool
    protect: bool  # the stack protects its data: protect=True and Atlas termination protection
    stack: str  # stack name, for the default project and cluster names


class AtlasDatabase(MongoDatabase):
    """A dedicated (or M0/Flex) Atlas replica set with one application user.

    Exposes the interface every database component shares: `mongo_url` and `mongo_oplog_url`,
    both secret (`mongo_oplog_url` is None when the oplog is off).
    """

    mongo_url: pulumi.Output[str]
    mongo_oplog_url: pulumi.Output[str] | None
    project_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    srv_host: pulumi.Output[str]
    username: str
    project: atlas.Project | None
    cluster: atlas.AdvancedCluster
    user: atlas.DatabaseUser
    access_entries: list[atlas.ProjectIpAccessList]
    backup_schedule: atlas.CloudBackupSchedule | None

    def __init__(
        self, name: str, args: AtlasDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("botfront:atlas:AtlasDatabase", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        # Data-bearing resources: protected (and retained on delete) in stacks that protect their
        # data, and only there, as for the in-cluster database's volume.
        data = pulumi.ResourceOptions.merge(keep_data(args.protect), pulumi.ResourceOptions(parent=self))

        self.project = None
        if s.project_id is not None:
            project_id: pulumi.Output[str] = pulumi.Output.from_input(s.project_id)
        else:
            self.project = atlas.Project(
                f"{name}-project",
                atlas.ProjectArgs(
                    org_id=s.org_id or "",
                    name=s.project_name or default_project_name(args.stack),
                ),
                opts=data,
            )
            project_id = self.project.id

        self.access_entries = [
            atlas.ProjectIpAccessList(
                f"{name}-access-{access_entry_name(entry.cidr)}",
                atlas.ProjectIpAccessListArgs(
                    project_id=project_id,
                    cidr_block=entry.cidr,
                    comment=entry.comment or f"botfront {args.stack}"[:80],
                ),
                # Any change replaces an entry, and Atlas answers a create of an existing CIDR
                # with the existing entry: create-then-delete would delete the only copy.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for entry in s.access_list
        ]

        cluster_name = s.cluster_name or default_cluster_name(args.stack)
        backup = s.backup
        self.cluster = atlas.AdvancedCluster(
            f"{name}-cluster",
            atlas.AdvancedClusterArgs(
                project_id=project_id,
                name=cluster_name,
                cluster_type="REPLICASET",
                replication_specs=[
                    atlas.AdvancedClusterReplicationSpecArgs(region_configs=[_region_config(s)])
                ],
                mongo_db_major_version=s.mongo_version if s.dedicated else None,
                backup_enabled=(backup is not None) if s.dedicated else None,
                pit_enabled=(backup.point_in_time if backup else False) if s.dedicated else None,
                # Snapshots outlive the cluster whenever backups are on, protected or not. The
                # provider reads this flag only on delete, from the state, i.e. as the last update
                # left it (mongodb/terraform-provider-mongodbatlas@v2.16.0:
                # internal/service/advancedcluster/resource.go, Delete: `retainBackups :=
                # ...state.RetainBackupsEnabled`). Tied to `protect`, the update that switches
                # protection off would also switch this off, and the delete that follows would
                # take every snapshot with the cluster. (v2.16.0 is what pulumi-mongodbatlas
                # v4.14.0 bridges, the newest mirrored; we pin 4.18.0: ASSUMPTION, unchanged.)
                retain_backups_enabled=(backup is not None) if s.dedicated else None,
                termination_protection_enabled=args.protect,
                # Keep the configured specs in state while Atlas auto-scales (no drift, no
                # ignore_changes); only meaningful on dedicated tiers, and never toggled later.
                use_effective_fields=True if s.dedicated else None,
            ),
            opts=data,
        )

        self.backup_schedule = None
        if backup is not None:
            self.backup_schedule = atlas.CloudBackupSchedule(
                f"{name}-backup",
                atlas.CloudBackupScheduleArgs(
                    # The cluster's own outputs, as the resource's docs require.
                    project_id=self.cluster.project_id,
                    cluster_name=self.cluster.name,
                    reference_hour_of_day=backup.hour_utc,
                    reference_minute_of_hour=0 if backup.hour_utc is not None else None,
                    policy_item_daily=atlas.CloudBackupSchedulePolicyItemDailyArgs(
                        frequency_interval=1, retention_unit="days", retention_value=backup.daily_days
                    ),
                    policy_item_weeklies=[
                        atlas.CloudBackupSchedulePolicyItemWeeklyArgs(
                            frequency_interval=7,  # Sunday
                            retention_unit="weeks",
                            retention_value=backup.weekly_weeks,
                        )
                    ]
                    if backup.weekly_weeks
                    else None,
                    policy_item_monthlies=[
                        atlas.CloudBackupSchedulePolicyItemMonthlyArgs(
                            frequency_interval=1,  # the first day of the month
                            retention_unit="months",
                            retention_value=backup.monthly_months,
                        )
                    ]
                    if backup.monthly_months
                    else None,
                ),
                opts=data,
            )

        self.username = f"{cluster_name}-app"
        password = random.RandomPassword(
            f"{name}-password",
            random.RandomPasswordArgs(
                length=PASSWORD_LENGTH,
                special=True,
                override_special=PASSWORD_SPECIALS,
                min_lower=2,
                min_upper=2,
                min_numeric=2,
                min_special=2,
            ),
            opts=child,
        )
        roles = [atlas.DatabaseUserRoleArgs(role_name="readWrite", database_name=args.database_name)]
        if args.oplog:
            # Meteor tails local.oplog.rs; readAnyDatabase would not cover `local`.
            roles.append(atlas.DatabaseUserRoleArgs(role_name="read", database_name=OPLOG_DATABASE))
        self.user = atlas.DatabaseUser(
            f"{name}-user",
            atlas.DatabaseUserArgs(
                project_id=project_id,
                username=self.username,
                password=password.result,
                auth_database_name=AUTH_DATABASE,
                roles=roles,
                # Only this cluster: without scopes a user reaches every cluster in the project.
                scopes=[atlas.DatabaseUserScopeArgs(name=self.cluster.name, type="CLUSTER")],
                description=f"Botfront {args.stack}: {args.database_name}",
            ),
            opts=child,
        )

        self.project_id = project_id
        self.cluster_name = self.cluster.name
        standard_srv = self.cluster.connection_strings.apply(lambda cs: cs.standard_srv if cs else None)
        self.srv_host = standard_srv.apply(lambda srv: srv_host(srv or ""))
        # The URLs wait for the user and every access list entry: the app cannot log in before.
        ready = pulumi.Output.all(self.user.id, *[entry.id for entry in self.access_entries])

        def url(database: str, query: str) -> pulumi.Output[str]:
            parts = pulumi.Output.all(standard_srv, self.user.username, password.result, ready)
            return pulumi.Output.secret(
                parts.apply(lambda v: build_mongo_url(v[0] or "", v[1], v[2], database, query))
            )

        self.mongo_url = url(args.database_name, MONGO_QUERY)
        self.mongo_oplog_url = url(OPLOG_DATABASE, OPLOG_QUERY) if args.oplog else None

        self.register_outputs(
            {
                "mongoUrl": self.mongo_url,
                "mongoOplogUrl": self.mongo_oplog_url,
                "projectId": self.project_id,
                "clusterName": self.cluster_name,
                "srvHost": self.srv_host,
                "username": self.username,
            }
        )


def _region_config(s: AtlasSettings) -> atlas.AdvancedClusterReplicationSpecRegionConfigArgs:
    """One region, priority 7 (the only electable region)."""
    if s.tier == "free":
        return atlas.AdvancedClusterReplicationSpecRegionConfigArgs(
            provider_name="TENANT",
            backing_provider_name=s.provider,
            region_name=s.region,
            priority=7,
            electable_specs=atlas.AdvancedClusterReplicationSpecRegionConfigElectableSpecsArgs(
                instance_size=s.instance_size
            ),
        )
    if s.tier == "flex":
        return atlas.AdvancedClusterReplicationSpecRegionConfigArgs(
            provider_name="FLEX", backing_provider_name=s.provider, region_name=s.region, priority=7
        )
    scaling = s.auto_scaling
    return atlas.AdvancedClusterReplicationSpecRegionConfigArgs(
        provider_name=s.provider,
        region_name=s.region,
        priority=7,
        electable_specs=atlas.AdvancedClusterReplicationSpecRegionConfigElectableSpecsArgs(
            instance_size=s.instance_size,
            node_count=s.node_count,
            disk_size_gb=s.disk_size_gb,
        ),
        auto_scaling=atlas.AdvancedClusterReplicationSpecRegionConfigAutoScalingArgs(
            disk_gb_enabled=scaling.disk,
            compute_enabled=scaling.compute,
            compute_scale_down_enabled=scaling.compute_min is not None,
            compute_min_instance_size=scaling.compute_min,
            compute_max_instance_size=scaling.compute_max,
        ),
    )
