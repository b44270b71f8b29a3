"""InClusterMongo: a pinned MongoDB 4.4 single-node replica set on a PVC.

A replica set (even of one) is what gives Meteor an oplog to tail, so `MONGO_OPLOG_URL` works
without an Atlas account. The server's bootstrap credentials (root password, replica-set key)
live in this component's own Secret: the database never depends on the application's Secret,
and the application's Secret only needs the URLs this component exposes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta
import pulumi_random as random

from components.database import MongoDatabase, data_volume, keep_data
from components.database_record import record_database_name
from components.model import Placement
from components.releases import MONGO, SCRATCH
from components.settings import Resources
from components.workload import (
    RUN_AS_USER,
    Env,
    InitContainer,
    Mount,
    Probe,
    Probes,
    Security,
    ServiceSpec,
    Volume,
    Workload,
    WorkloadArgs,
)

SERVICE = MONGO
PORT = 27017
REPLICA_SET = "rs0"
ROOT_USER = "root"
APP_USER = "botfront"
CREDENTIALS_SECRET = "mongo-credentials"
DATA_CLAIM = "mongo-data"
SECRETS_DIR = "/run/secrets/mongo"  # the credentials Secret, mounted read-only
# The MongoDB Database Tools' --config file (`password: ...`): mongodump and mongorestore read the
# password from it instead of from argv (components/backup.py).
TOOLS_CONFIG_KEY = "tools-config.yaml"

KEYFILE_SOURCE = "/keyfile-source"  # the Secret's key, group-readable
KEYFILE_DIR = "/run/mongo"  # an emptyDir, kept across container and pod-sandbox restarts

# mongod refuses a key file readable by group or others, and Secret volumes with an fsGroup are
# group-readable: copy it with mode 0400. The init container runs again over the kept emptyDir
# after a pod-sandbox restart (node reboot), where `cp` onto the existing 0400 file fails for a
# non-root user without capabilities. So write a fresh file beside it and rename it over the old
# one: that needs only the directory's write permission, and it picks up a rotated key too.
KEYFILE_INIT = f"""\
set -eu
umask 0277
rm -f {KEYFILE_DIR}/keyfile.new
cp {KEYFILE_SOURCE}/keyfile {KEYFILE_DIR}/keyfile.new
chmod 0400 {KEYFILE_DIR}/keyfile.new
mv -f {KEYFILE_DIR}/keyfile.new {KEYFILE_DIR}/keyfile
"""

# The postStart hook, on every start of the server. The entrypoint strips --replSet from the
# temporary server it runs its first-start scripts on, and runs those scripts only while the data
# directory is empty (docker-library/mongo@f91923968:4.4/docker-entrypoint.sh,
# `shouldPerformInitdb`): a first start that failed after the data files existed would never
# create the application user. So this hook initiates the set when it is not yet initiated and,
# once this member is primary, creates the application user or resets its password and roles to
# the stack's: both idempotent. It gives up after MONGO_BOOTSTRAP_ATTEMPTS tries
# MONGO_BOOTSTRAP_INTERVAL seconds apart (defaults 150 x 2 s; each shell call is cut after
# MONGO_BOOTSTRAP_CALL_TIMEOUT, 20 s) with a non-zero exit, so the kubelet kills and restarts the
# container (a failed postStart hook) instead of keeping a server without its set or its user;
# the container is not Running, so not Ready, until the hook succeeds.
# Passwords go from the mounted Secret files into the shell's stdin through a pipe written by the
# `printf` builtin: never into an environment variable of the pod spec, any process's argv or a
# file. Not a heredoc (nor a here-string): the image is Ubuntu focal
# (docker-library/mongo@f91923968:4.4/Dockerfile `FROM ubuntu:focal`), whose bash is 5.0, and
# ASSUMPTION (bash's source is not mirrored): bash before 5.1 writes every here-document to a
# temporary file under $TMPDIR or /tmp, here the node-disk emptyDir. The JavaScript lives in a
# non-exported shell variable, which no other process can read; the JS is byte for byte what
# the heredoc sent (tests/test_mongo.py asserts it).
BOOTSTRAP = f"""\
attempts="${{MONGO_BOOTSTRAP_ATTEMPTS:-150}}"
interval="${{MONGO_BOOTSTRAP_INTERVAL:-2}}"
call_timeout="${{MONGO_BOOTSTRAP_CALL_TIMEOUT:-20}}"
roles='{{role: "readWrite", db: "'"$MONGO_APP_DATABASE"'"}}'
if [ "$MONGO_APP_OPLOG" = "true" ]; then
  roles="$roles, {{role: \\"read\\", db: \\"local\\"}}"
fi
for attempt in $(seq 1 "$attempts"); do
  script="db.auth(\\"$MONGO_INITDB_ROOT_USERNAME\\", \\"$(< {SECRETS_DIR}/root-password)\\");
var s = db.adminCommand({{replSetGetStatus: 1}});
if (s.code === 94) {{
  rs.initiate({{_id: \\"{REPLICA_SET}\\", members: [{{_id: 0, host: \\"{SERVICE}:{PORT}\\"}}]}});
  print(\\"initiating\\");
}} else if (s.ok && db.isMaster().ismaster) {{
  var user = {{pwd: \\"$(< {SECRETS_DIR}/app-password)\\", roles: [$roles]}};
  if (db.getUser(\\"$MONGO_APP_USERNAME\\") === null) {{
    db.createUser(Object.assign({{user: \\"$MONGO_APP_USERNAME\\"}}, user));
  }} else {{
    db.updateUser(\\"$MONGO_APP_USERNAME\\", user);
  }}
  print(\\"bootstrapped\\");
}} else {{ print(\\"waiting\\"); }}"
  state=$(printf '%s\\n' "$script" | timeout "$call_timeout" mongo --quiet admin 2>/dev/null)
  script=""
  case "$state" in *bootstrapped*) exit 0 ;; esac
  sleep "$interval"
done
echo "gave up after $attempts attempts: replica set {REPLICA_SET} not initiated" \\
  "or user $MONGO_APP_USERNAME not ensured" >&2
exit 1
"""


@dataclass
class InClusterMongoArgs:
    namespace: pulumi.Input[str]
    image: str
    database_name: str
    oplog: bool
    protect: bool
    resources: Resources
    volume_size: str = "10Gi"
    storage_class: str | None = None
    openshift: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    placement: Placement = field(default_factory=Placement)


def connection_url(password: pulumi.Input[str], database: str) -> pulumi.Output[str]:
    """`mongodb://botfront:<pw>@mongo:27017/<db>?authSource=admin&replicaSet=rs0`, secret."""
    return pulumi.Output.secret(
        pulumi.Output.from_input(password).apply(
            lambda pw: (
                f"mongodb://{APP_USER}:{quote(pw, safe='')}@{SERVICE}:{PORT}/{database}"
                f"?authSource=admin&replicaSet={REPLICA_SET}"
            )
        )
    )


class InClusterMongo(MongoDatabase):
    mongo_url: pulumi.Output[str]
    mongo_oplog_url: pulumi.Output[str] | None
    workload: Workload
    data_volume: core.PersistentVolumeClaim

    def __init__(self, name: str, args: InClusterMongoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:mongo:InClusterMongo", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The users exist only in the data: the credentials must outlive anything the data does
        # (a retained volume with regenerated passwords would lock Botfront out).
        keep = pulumi.ResourceOptions.merge(child, keep_data(args.protect))
        root_password = random.RandomPassword(f"{name}-root-password", length=32, special=False, opts=keep)
        app_password = random.RandomPassword(f"{name}-app-password", length=32, special=False, opts=keep)
        # Internal authentication between members requires a key file, even for a set of one.
        replica_set_key = random.RandomPassword(
            f"{name}-replica-set-key", length=756, special=False, opts=keep
        )

        labels = {"app.kubernetes.io/part-of": "botfront", **args.labels}
        self.credentials = core.Secret(
            CREDENTIALS_SECRET,
            metadata=meta.ObjectMetaArgs(name=CREDENTIALS_SECRET, namespace=args.namespace, labels=labels),
            type="Opaque",
            string_data={
                "root-password": root_password.result,
                "app-password": app_password.result,
                "keyfile": replica_set_key.result,
                TOOLS_CONFIG_KEY: pulumi.Output.concat("password: ", app_password.result, "\n"),
            },
            opts=keep,
        )
        self.data_volume = data_volume(
            DATA_CLAIM,
            namespace=args.namespace,
            size=args.volume_size,
            storage_class=args.storage_class,
            protect=args.protect,
            parent=self,
            labels=labels,
        )

        spec = ServiceSpec(
            name=SERVICE,
            image=args.image,
            port=PORT,
            port_name="mongo",
            # The entrypoint prepends `mongod` to arguments that start with a dash.
            args=("--replSet", REPLICA_SET, "--bind_ip_all", "--keyFile", f"{KEYFILE_DIR}/keyfile"),
            env=(
                Env("MONGO_INITDB_ROOT_USERNAME", ROOT_USER),
                # The entrypoint reads *_FILE variables: the password stays out of the pod spec.
                Env("MONGO_INITDB_ROOT_PASSWORD_FILE", f"{SECRETS_DIR}/root-password"),
                Env("MONGO_APP_USERNAME", APP_USER),
                Env("MONGO_APP_DATABASE", args.database_name),
                Env("MONGO_APP_OPLOG", "true" if args.oplog else "false"),
                # The mongo shell keeps its history under HOME; an arbitrary UID has none.
                Env("HOME", "/tmp"),
            ),
            probes=Probes(
                startup=Probe(period=5, failure_threshold=60),
                liveness=Probe(period=20, timeout=5, failure_threshold=3),
                # Ready once this member is the primary: clients need a writable set.
                readiness=Probe(
                    command=("mongo", "--quiet", "--eval", "quit(db.isMaster().ismaster ? 0 : 1)"),
                    period=10,
                    timeout=5,
                ),
            ),
            resources=args.resources,
            volumes=(
                Volume(name="data", claim=DATA_CLAIM),
                Volume(name="keyfile-source", secret=CREDENTIALS_SECRET, items=(("keyfile", "keyfile"),)),
                Volume(
                    name="credentials",
                    secret=CREDENTIALS_SECRET,
                    default_mode=0o440,
                    items=(("root-password", "root-password"), ("app-password", "app-password")),
                ),
                Volume(name="keyfile", size_limit="1Mi"),
            ),
            mounts=(
                Mount(volume="data", path="/data/db"),
                Mount(volume="keyfile", path=KEYFILE_DIR, read_only=True),
                Mount(volume="credentials", path=SECRETS_DIR, read_only=True),
            ),
            init_containers=(
                InitContainer(
                    name="keyfile",
                    command=("sh", "-c", KEYFILE_INIT),
                    mounts=(
                        Mount(volume="keyfile-source", path=KEYFILE_SOURCE, read_only=True),
                        Mount(volume="keyfile", path=KEYFILE_DIR),
                    ),
                ),
            ),
            post_start=("bash", "-c", BOOTSTRAP),
            recreate=True,  # one writer on a ReadWriteOnce volume
            # Any UID works: the entrypoint only switches users when started as root.
            security=Security(
                fs_group=RUN_AS_USER,
                writable_paths=SCRATCH[SERVICE].paths,
                scratch_size=SCRATCH[SERVICE].size,
            ),
            headless=True,
        )
        self.workload = Workload(
            SERVICE,
            WorkloadArgs(
                spec=spec,
                namespace=args.namespace,
                secret_name=CREDENTIALS_SECRET,
                openshift=args.openshift,
                labels=dict(args.labels),
                image_pull_secrets=args.image_pull_secrets,
                placement=args.placement,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.credentials]),
        )

        # The name the data was initialised with, kept in state to warn about a rename
        # (components/database_record.py). It was a top-level resource before it moved under this
        # component: the alias names that URN (no parent: pulumi 3.272.0 pulumi/resource.py
        # `ROOT_STACK_RESOURCE`, "the prior name for a resource was created based on it being
        # parented directly by the stack"), so an existing stack keeps its recorded name instead
        # of replacing the record with the new one.
        record_database_name(
            args.database_name,
            pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]),
        )

        self.mongo_url = connection_url(app_password.result, args.database_name)
        self.mongo_oplog_url = connection_url(app_password.result, "local") if args.oplog else None
        self.register_outputs({"host": f"{SERVICE}:{PORT}", "replicaSet": REPLICA_SET})
