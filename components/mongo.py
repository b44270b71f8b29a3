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
from components.day2_settings import Placement
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

SERVICE = "mongo"
PORT = 27017
REPLICA_SET = "rs0"
ROOT_USER = "root"
APP_USER = "botfront"
CREDENTIALS_SECRET = "mongo-credentials"
INIT_SCRIPTS = "mongo-init"
DATA_CLAIM = "mongo-data"
SECRETS_DIR = "/run/secrets/mongo"  # the credentials Secret, mounted read-only
# The MongoDB Database Tools' --config file (`password: ...`): mongodump and mongorestore read the
# password from it instead of from argv (components/backup.py).
TOOLS_CONFIG_KEY = "tools-config.yaml"

# Run by the image's entrypoint once, on an empty data directory, against a temporary server.
# The shell exits 0 on a failed statement read from stdin: a failure quits 1 so that the
# entrypoint (set -e) stops instead of starting a database without its application user.
# Passwords go from the mounted Secret files into the shell's stdin: never into an environment
# variable of the pod spec or any process's argv.
CREATE_APP_USER = f"""\
#!/bin/bash
roles='{{role: "readWrite", db: "'"$MONGO_APP_DATABASE"'"}}'
if [ "$MONGO_APP_OPLOG" = "true" ]; then
  roles="$roles, {{role: \\"read\\", db: \\"local\\"}}"
fi
mongo --quiet admin <<EOF
db.auth("$MONGO_INITDB_ROOT_USERNAME", "$(< {SECRETS_DIR}/root-password)");
try {{
  db.createUser({{user: "$MONGO_APP_USERNAME", pwd: "$(< {SECRETS_DIR}/app-password)", roles: [$roles]}});
}} catch (e) {{ print(e); quit(1); }}
EOF
"""

# The entrypoint strips --replSet from its temporary init server, so the set is initiated once
# the real server is up. Idempotent: an initiated set answers replSetGetStatus with ok.
INITIATE_REPLICA_SET = f"""\
for attempt in $(seq 1 150); do
  state=$(mongo --quiet admin 2>/dev/null <<EOF
db.auth("$MONGO_INITDB_ROOT_USERNAME", "$(< {SECRETS_DIR}/root-password)");
var s = db.adminCommand({{replSetGetStatus: 1}});
if (s.ok) {{ print("ready") }}
else if (s.code === 94) {{
  var r = rs.initiate({{_id: "{REPLICA_SET}", members: [{{_id: 0, host: "{SERVICE}:{PORT}"}}]}});
  print(r.ok ? "initiated" : "retry")
}} else {{ print("retry") }}
EOF
)
  case "$state" in *ready*|*initiated*) exit 0 ;; esac
  sleep 2
done
exit 0
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
        self.init_scripts = core.ConfigMap(
            INIT_SCRIPTS,
            metadata=meta.ObjectMetaArgs(name=INIT_SCRIPTS, namespace=args.namespace, labels=labels),
            data={"create-app-user.sh": CREATE_APP_USER},
            opts=child,
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
            args=("--replSet", REPLICA_SET, "--bind_ip_all", "--keyFile", "/run/mongo/keyfile"),
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
                Volume(name="init-scripts", config_map=INIT_SCRIPTS, default_mode=0o555),
                Volume(name="keyfile-source", secret=CREDENTIALS_SECRET, items=(("keyfile", "keyfile"),)),
                Volume(
                    name="credentials",
                    secret=CREDENTIALS_SECRET,
                    default_mode=0o440,
                    items=(("root-password", "root-password"), ("app-password", "app-password")),
                ),
                Volume(name="keyfile"),
            ),
            mounts=(
                Mount(volume="data", path="/data/db"),
                Mount(volume="init-scripts", path="/docker-entrypoint-initdb.d", read_only=True),
                Mount(volume="keyfile", path="/run/mongo", read_only=True),
                Mount(volume="credentials", path=SECRETS_DIR, read_only=True),
            ),
            # mongod refuses a key file readable by group or others; Secret volumes with an
            # fsGroup are group-readable, so copy it once with mode 0400.
            init_containers=(
                InitContainer(
                    name="keyfile",
                    command=(
                        "sh",
                        "-c",
                        "cp /keyfile-source/keyfile /run/mongo/keyfile && chmod 0400 /run/mongo/keyfile",
                    ),
                    mounts=(
                        Mount(volume="keyfile-source", path="/keyfile-source", read_only=True),
                        Mount(volume="keyfile", path="/run/mongo"),
                    ),
                ),
            ),
            post_start=("bash", "-c", INITIATE_REPLICA_SET),
            recreate=True,  # one writer on a ReadWriteOnce volume
            # Any UID works: the entrypoint only switches users when started as root.
            security=Security(fs_group=RUN_AS_USER, writable_paths=("/tmp", "/data/configdb")),
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.credentials, self.init_scripts]),
        )

        self.mongo_url = connection_url(app_password.result, args.database_name)
        self.mongo_oplog_url = connection_url(app_password.result, "local") if args.oplog else None
        self.register_outputs({"host": f"{SERVICE}:{PORT}", "replicaSet": REPLICA_SET})
