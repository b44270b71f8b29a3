"""MongoBackup: scheduled `mongodump` archives of the in-cluster MongoDB, and a restore on demand.

- PVC `mongo-backups`: the archives, `<db>-<UTC timestamp>.archive.gz`, kept like the data itself
  (protected and retained on delete in long-lived stacks).
- CronJob `mongo-backup`: deletes all but the newest `retention` archives of the database, takes a
  `mongodump --archive --gzip` through the replica set, then prunes to `retention` again.
- Job `mongo-restore-<hash>` (only while `botfront:restoreFrom` names an archive):
  `mongorestore --drop` from it. The name follows the archive, so a new archive is a new Job; a
  failed one is replaced by the next `pulumi up`. Scheduled backups are suspended meanwhile and
  never prune that archive. docs/backup-restore.md walks through a restore.

Every pod runs as UID/GID 10001 with fsGroup 10001 (`RUN_AS_USER`, not the image's mongodb user
999) under the same restricted security contexts as the services (components/workload.py). The
database password is the `tools-config.yaml` key of the mongo component's Secret, mounted as a
read-only Secret volume file (mode 0440, readable through the fsGroup): it never appears in a
manifest, an environment variable or on a command line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.batch.v1 as batch
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta

from components.backup_settings import BackupSettings
from components.database import data_volume
from components.model import Placement
from components.mongo import (
    APP_USER,
    CREDENTIALS_SECRET,
    PORT,
    REPLICA_SET,
    SECRETS_DIR,
    SERVICE,
    TOOLS_CONFIG_KEY,
)
from components.pod_options import pod_scheduling
from components.settings import Resources
from components.workload import (
    NAME_LABEL,
    PART_OF,
    PART_OF_LABEL,
    RUN_AS_USER,
    Security,
    analyzer_skips,
    container_security_context,
    image_version,
    pod_security_context,
)

BACKUP_CLAIM = "mongo-backups"
BACKUP_JOB = "mongo-backup"  # CronJob name and pod name label (components/network.py allows it)
RESTORE_JOB = "mongo-restore"  # Job name prefix and pod name label
BACKUP_DIR = "/backup"
TIME_ZONE = "Etc/UTC"  # the schedule and the archive timestamps are both UTC
# No credentials here: the user name comes from --username, the password from --config. The pods
# get it as MONGO_SERVER: names like MONGO_URI are taken for credential-bearing URLs by the policy
# pack, which wants those from Secrets.
MONGO_URI = f"mongodb://{SERVICE}:{PORT}/?replicaSet={REPLICA_SET}&authSource=admin"

BACKUP_DEADLINE_SECONDS = 3600  # one dump may run this long before Kubernetes stops it
RESTORE_DEADLINE_SECONDS = 3600
STARTING_DEADLINE_SECONDS = 600  # a run missed by more than this (controller down...) is skipped
HISTORY_LIMIT = 3  # finished Jobs (and their pods' logs) kept, of each outcome

BACKUP_RESOURCES = Resources(
    requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"}
)
# mongodump/mongorestore write nothing outside the volumes below; HOME would be /data/db.
SECURITY = Security(fs_group=RUN_AS_USER, writable_paths=("/tmp",))

# The password reaches the tools through a YAML file named by --config, which the MongoDB
# Database Tools read since 100.3.0 (TOOLS-2779, "Add --config option for password values";
# keys password, uri, sslPEMKeyPassword). The mongo:4.4 images install mongodb-org-tools, which
# pulls in the database tools 100.x from MongoDB's repository (4.4.29: built in 2024, so well past
# 100.3.0). The file is a key of the mongo component's Secret, mounted read-only: the password is
# in no environment variable and no process's argv. Archives get umask 027: the pod's user and
# fsGroup can read them, nobody else.
TOOLS_CONFIG = f"{SECRETS_DIR}/{TOOLS_CONFIG_KEY}"

BACKUP_SCRIPT = """\
set -euo pipefail
umask 027
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="${MONGO_DATABASE}-${stamp}.archive.gz"
partial="${BACKUP_DIR}/.${name}.partial"
# Set before anything is written: a dump that fails (ENOSPC...) exits through `set -e` and leaves
# no partial file behind.
trap 'rm -f -- "$partial"' EXIT
# Keeps the newest $BACKUP_RETENTION archives of this database. Newest by name, not by mtime: the
# name carries the dump's UTC time, while a copied-in file gets a fresh mtime. Only names of
# exactly this pattern are ever deleted (nothing else on the volume, e.g. lost+found), and never
# the archive a pending restore names ($RESTORE_ARCHIVE, set only while botfront:restoreFrom is).
prune() {
  { ls -1 -- "$BACKUP_DIR" | grep -E "^${MONGO_DATABASE}-[0-9]{8}T[0-9]{6}Z\\.archive\\.gz\\$" || true; } \\
    | sort -r \\
    | tail -n "+$((BACKUP_RETENTION + 1))" \\
    | while read -r old; do
        if [ "$old" = "${RESTORE_ARCHIVE:-}" ]; then
          echo "kept $old: botfront:restoreFrom names it"
        else
          rm -f -- "$BACKUP_DIR/$old" && echo "pruned $old"
        fi
      done
}
# A run stopped by its deadline may have left a partial dump behind (runs never overlap).
rm -f -- "$BACKUP_DIR"/.*.partial
# Prune before the dump as well: a full volume then gets room back (e.g. once retention is
# lowered) instead of failing every run before the prune below. Nothing is lost that the prune
# after a successful dump would keep.
prune
mongodump --config="$TOOLS_CONFIG" --uri="$MONGO_SERVER" --username="$MONGO_USERNAME" \\
  --db="$MONGO_DATABASE" --archive="$partial" --gzip
# Only a complete gzip stream becomes an archive, under its final name.
gzip -t -- "$partial"
mv -- "$partial" "$BACKUP_DIR/$name"
echo "wrote $name ($(du -h -- "$BACKUP_DIR/$name" | cut -f1))"
prune
"""

RESTORE_SCRIPT = """\
set -euo pipefail
archive="$BACKUP_DIR/$RESTORE_ARCHIVE"
if [ ! -f "$archive" ]; then
  echo "no archive $RESTORE_ARCHIVE on volume mongo-backups; archives there:" >&2
  { ls -1 -- "$BACKUP_DIR" | grep -E '\\.archive\\.gz$' || echo "(none)"; } >&2
  exit 1
fi
gzip -t -- "$archive"
echo "restoring $RESTORE_ARCHIVE ($RESTORE_SOURCE_DATABASE) into database $MONGO_DATABASE;" \\
  "each collection in the archive is dropped first"
mongorestore --config="$TOOLS_CONFIG" --uri="$MONGO_SERVER" --username="$MONGO_USERNAME" \\
  --archive="$archive" --gzip --drop --stopOnError \\
  --nsInclude="$RESTORE_SOURCE_DATABASE.*" \\
  --nsFrom="$RESTORE_SOURCE_DATABASE.*" --nsTo="$MONGO_DATABASE.*"
echo "restored $RESTORE_ARCHIVE"
"""


@dataclass
class MongoBackupArgs:
    namespace: pulumi.Input[str]
    image: str  # the pinned MongoDB image of the stack: its tools match the server
    database_name: str
    settings: BackupSettings
    protect: bool
    resources: Resources = BACKUP_RESOURCES
    openshift: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    placement: Placement = field(default_factory=Placement)


def restore_job_name(archive: str) -> str:
    """`mongo-restore-<8 hex>`: a new archive name gives a new Job (Jobs are immutable)."""
    return f"{RESTORE_JOB}-{hashlib.sha256(archive.encode()).hexdigest()[:8]}"


class MongoBackup(pulumi.ComponentResource):
    volume: core.PersistentVolumeClaim
    cron_job: batch.CronJob
    restore_job: batch.Job | None

    def __init__(self, name: str, args: MongoBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:backup:MongoBackup", name, None, opts)
        settings = args.settings
        labels = {
            **args.labels,
            PART_OF_LABEL: PART_OF,
            "app.kubernetes.io/component": "backup",
            "app.kubernetes.io/managed-by": "pulumi",
        }

        self.volume = data_volume(
            BACKUP_CLAIM,
            namespace=args.namespace,
            size=settings.size,
            storage_class=settings.storage_class,
            protect=args.protect,
            parent=self,
            labels=labels,
        )

        restoring = settings.restore_from is not None
        if restoring:
            pulumi.log.warn(
                f"botfront:restoreFrom is set ({settings.restore_from}): scheduled backups are "
                "suspended until you unset it (pulumi config rm botfront:restoreFrom; pulumi up)",
                resource=self,
            )
        backup_labels = {**labels, NAME_LABEL: BACKUP_JOB}
        self.cron_job = batch.CronJob(
            BACKUP_JOB,
            metadata=meta.ObjectMetaArgs(
                name=BACKUP_JOB,
                namespace=args.namespace,
                labels=backup_labels,
                annotations=analyzer_skips(args.image) or None,
            ),
            spec=batch.CronJobSpecArgs(
                schedule=settings.schedule,
                time_zone=TIME_ZONE,
                concurrency_policy="Forbid",
                starting_deadline_seconds=STARTING_DEADLINE_SECONDS,
                successful_jobs_history_limit=HISTORY_LIMIT,
                failed_jobs_history_limit=HISTORY_LIMIT,
                # A dump taken while a restore runs would archive a half-restored database.
                suspend=restoring,
                job_template=batch.JobTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=backup_labels),
                    spec=_job_spec(
                        args,
                        BACKUP_JOB,
                        backup_labels,
                        BACKUP_SCRIPT,
                        (
                            ("BACKUP_RETENTION", str(settings.retention)),
                            # Suspending stops only the schedule: a run started by hand (kubectl
                            # create job --from=cronjob/...) still prunes, so it must know which
                            # archive to keep. A run already under way keeps its old environment
                            # (docs/backup-restore.md: wait for it before setting restoreFrom).
                            *((("RESTORE_ARCHIVE", settings.restore_from),) if restoring else ()),
                        ),
                        deadline=BACKUP_DEADLINE_SECONDS,
                        backoff_limit=2,
                    ),
                ),
            ),
            # No depends_on the claim: its consumers never wait for it (database.py, data_volume).
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.restore_job = None
        if settings.restore_from is not None:
            archive = settings.restore_from
            job_name = restore_job_name(archive)
            restore_labels = {**labels, NAME_LABEL: RESTORE_JOB}
            self.restore_job = batch.Job(
                job_name,
                metadata=meta.ObjectMetaArgs(
                    name=job_name,
                    namespace=args.namespace,
                    labels=restore_labels,
                    annotations={
                        "botfront.dev/restore-from": archive,
                        # A failed restore Job is kept in the state with init errors, and the next
                        # `pulumi up` would only await it again, failing at once on its Failed
                        # condition. With this annotation the provider's Diff reads the live Job
                        # and, unless it completed, replaces it (delete first: the name is fixed),
                        # so fixing the cause and running `pulumi up` retries the restore while
                        # backups stay suspended. pulumi/pulumi-kubernetes@v4.32.0:
                        # provider/pkg/provider/provider.go (Diff, metadata.ReplaceUnready;
                        # deleteBeforeReplace for named objects), provider/pkg/await/checker/job/
                        # check.go (ready = started and Complete=True); documented on
                        # sdk/python/pulumi_kubernetes/batch/v1/Job.py.
                        "pulumi.com/replaceUnready": "true",
                        **analyzer_skips(args.image),
                    },
                ),
                spec=_job_spec(
                    args,
                    RESTORE_JOB,
                    restore_labels,
                    RESTORE_SCRIPT,
                    (
                        ("RESTORE_ARCHIVE", archive),
                        ("RESTORE_SOURCE_DATABASE", settings.restore_source_database or args.database_name),
                    ),
                    deadline=RESTORE_DEADLINE_SECONDS,
                    # One retry for a transient failure; each attempt drops and restores again.
                    backoff_limit=1,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # Children do not inherit the component's depends_on: restore only once the
                    # database the caller named (its Deployment ready, its Secret there) exists.
                    # The CronJob too: its update suspends the schedule and names the archive to
                    # keep before the restore starts.
                    depends_on=[*_resources_in(opts), self.cron_job],
                    # Never re-run a completed restore because the program changed (a new image,
                    # new resources): a replaced Job would restore again over newer data. Only a
                    # new archive name (a new Job name), or the failure of this one (above), runs
                    # a new restore; the replacement keeps the failed Job's spec (the engine puts
                    # ignored inputs back: pulumi@v3.259.0 step_generator.go processIgnoreChanges).
                    ignore_changes=["spec"],
                    # What the provider decides for a named object anyway (see above): the new
                    # Job has the same name, so the failed one must go first.
                    delete_before_replace=True,
                    # `pulumi up` waits for the Job to complete and fails if the restore fails.
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{RESTORE_DEADLINE_SECONDS // 60 + 5}m"),
                ),
            )

        self.register_outputs(
            {
                "volume": self.volume.metadata.name,
                "cronJob": self.cron_job.metadata.name,
                "schedule": settings.schedule,
                "retention": settings.retention,
                "restoreJob": self.restore_job.metadata.name if self.restore_job else None,
            }
        )


def _job_spec(
    args: MongoBackupArgs,
    name: str,
    labels: Mapping[str, str],
    script: str,
    extra_env: Sequence[tuple[str, str]],
    deadline: int,
    backoff_limit: int,
) -> batch.JobSpecArgs:
    env = [
        core.EnvVarArgs(name="MONGO_SERVER", value=MONGO_URI),
        core.EnvVarArgs(name="MONGO_USERNAME", value=APP_USER),
        core.EnvVarArgs(name="MONGO_DATABASE", value=args.database_name),
        core.EnvVarArgs(name="BACKUP_DIR", value=BACKUP_DIR),
        core.EnvVarArgs(name="TOOLS_CONFIG", value=TOOLS_CONFIG),
        core.EnvVarArgs(name="HOME", value="/tmp"),
        *(core.EnvVarArgs(name=key, value=value) for key, value in extra_env),
    ]
    pod_labels = {**labels, "app.kubernetes.io/version": image_version(args.image)}
    return batch.JobSpecArgs(
        backoff_limit=backoff_limit,
        active_deadline_seconds=deadline,
        template=core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(labels=pod_labels),
            spec=core.PodSpecArgs(
                restart_policy="Never",  # a failed attempt's pod stays for `kubectl logs`
                **pod_scheduling(args.image_pull_secrets, args.placement),
                automount_service_account_token=False,
                enable_service_links=False,
                security_context=pod_security_context(SECURITY, openshift=args.openshift),
                containers=[
                    core.ContainerArgs(
                        name=name,
                        image=args.image,
                        image_pull_policy="Always",
                        command=["/bin/bash", "-c", script],
                        env=env,
                        resources=core.ResourceRequirementsArgs(
                            requests=dict(args.resources.requests), limits=dict(args.resources.limits)
                        ),
                        security_context=container_security_context(SECURITY),
                        volume_mounts=[
                            core.VolumeMountArgs(name="backups", mount_path=BACKUP_DIR),
                            core.VolumeMountArgs(name="credentials", mount_path=SECRETS_DIR, read_only=True),
                            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                        ],
                    )
                ],
                volumes=[
                    core.VolumeArgs(
                        name="backups",
                        persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                            claim_name=BACKUP_CLAIM
                        ),
                    ),
                    core.VolumeArgs(
                        name="credentials",
                        secret=core.SecretVolumeSourceArgs(
                            secret_name=CREDENTIALS_SECRET,
                            default_mode=0o440,
                            items=[core.KeyToPathArgs(key=TOOLS_CONFIG_KEY, path=TOOLS_CONFIG_KEY)],
                        ),
                    ),
                    core.VolumeArgs(
                        name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=SECURITY.scratch_size)
                    ),
                ],
            ),
        ),
    )


def _resources_in(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources named in `opts.depends_on` (a resource or a plain list of them)."""
    depends_on = opts.depends_on if opts is not None else None
    if isinstance(depends_on, pulumi.Resource):
        return [depends_on]
    if isinstance(depends_on, (list, tuple)):
        return [r for r in depends_on if isinstance(r, pulumi.Resource)]
    return []
