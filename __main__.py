"""Botfront on Kubernetes: settings -> cluster -> database -> secrets -> platform -> outputs."""

import pulumi

from components.backup import BACKUP_RESOURCES, MongoBackup, MongoBackupArgs
from components.cluster import KubernetesTarget, KubernetesTargetArgs
from components.database import MongoDatabase
from components.external_database import ExternalDatabase, ExternalDatabaseArgs
from components.extra_egress import extra_egress
from components.mongo import InClusterMongo, InClusterMongoArgs
from components.network import NetworkPolicies, NetworkPoliciesArgs
from components.platform import BotfrontPlatform, BotfrontPlatformArgs
from components.secrets import GeneratedSecrets, GeneratedSecretsArgs
from components.settings import Settings, load_settings
from components.verify import Verification, VerificationArgs, database_specs


def build_database(settings: Settings, target: KubernetesTarget) -> MongoDatabase:
    if settings.database.mode == "external":
        assert settings.database.url_secret is not None  # parse_settings guarantees it
        return ExternalDatabase(
            "database",
            ExternalDatabaseArgs(settings.database.url_secret, settings.database.oplog_url_secret),
        )
    if settings.database.mode == "atlas":
        # Imported here: the Atlas SDK is large, and in-cluster stacks never need it.
        from components.atlas import AtlasDatabase, AtlasDatabaseArgs

        assert settings.atlas is not None  # parse_settings guarantees it in atlas mode
        # The default mongodbatlas provider, so `mongodbatlas:*` stack config applies.
        return AtlasDatabase(
            "database",
            AtlasDatabaseArgs(
                settings=settings.atlas,
                database_name=settings.database.name,
                oplog=settings.database.oplog,
                protect=settings.protect,
                stack=settings.stack,
            ),
        )
    in_cluster = pulumi.ResourceOptions(providers=[target.provider])
    return InClusterMongo(
        "database",
        InClusterMongoArgs(
            namespace=target.namespace_name,
            image=settings.images["mongo"],
            database_name=settings.database.name,
            oplog=settings.database.oplog,
            protect=settings.protect,
            resources=settings.resources["mongo"],
            volume_size=settings.database.size,
            storage_class=settings.database.storage_class,
            openshift=settings.platform == "openshift",
            image_pull_secrets=settings.image_pull_secrets,
            placement=settings.placement_for("mongo"),
        ),
        opts=in_cluster,
    )


settings = load_settings()  # every problem reported before any resource is registered

target = KubernetesTarget(
    "cluster",
    KubernetesTargetArgs(
        namespace=settings.namespace,
        protect=settings.protect,
        render_to=settings.render_to,
        create_namespace=settings.create_namespace,
    ),
)
on_cluster = pulumi.ResourceOptions(providers=[target.provider])

database = build_database(settings, target)

if settings.backup is not None:  # only ever set with database.mode incluster
    MongoBackup(
        "backup",
        MongoBackupArgs(
            namespace=target.namespace_name,
            image=settings.images["mongo"],
            database_name=settings.database.name,
            settings=settings.backup,
            protect=settings.protect,
            openshift=settings.platform == "openshift",
            resources=BACKUP_RESOURCES,
            image_pull_secrets=settings.image_pull_secrets,
            placement=settings.placement_for("jobs"),
        ),
        opts=pulumi.ResourceOptions(providers=[target.provider], depends_on=[database]),
    )

secrets = GeneratedSecrets(
    "secrets",
    GeneratedSecretsArgs(
        namespace=target.namespace_name,
        mongo_url=database.mongo_url,
        mongo_oplog_url=database.mongo_oplog_url,
        mail_url=settings.mail_url,
        # No token at all when the release's Rasa runs without one (0.27.5).
        rasa_token_keys=[instance.token_key for instance in settings.rasa_instances]
        if settings.release.rasa_token
        else [],
        rotate=settings.rotate,
    ),
    opts=on_cluster,
)

platform = BotfrontPlatform(
    "botfront",
    BotfrontPlatformArgs(
        settings=settings,
        namespace=target.namespace_name,
        secret_name=secrets.secret_name,
        checksum_key=secrets.checksum_key,
        secret_entries=secrets.entries,
        depends_on=[secrets.secret],
    ),
    opts=on_cluster,
)

network = None
if settings.network_policy.enabled:
    network = NetworkPolicies(
        "network", NetworkPoliciesArgs(settings=settings, namespace=target.namespace_name), opts=on_cluster
    )
extra_egress(settings, target.namespace_name, on_cluster)

if settings.verify:  # off with botfront:verify false and in render mode
    verification = Verification(
        "verify",
        VerificationArgs(
            settings=settings,
            namespace=target.namespace_name,
            secret_name=secrets.secret_name,
            specs=[platform.workloads[name].deployment.spec for name in sorted(platform.workloads)]
            + database_specs(database),
            depends_on=[platform, database, *([network] if network else [])],
        ),
        opts=on_cluster,
    )
    pulumi.export("verifyLogs", verification.logs_command)

pulumi.export("release", settings.release.version)
pulumi.export("namespace", target.namespace_name)
pulumi.export("botfrontUrl", platform.botfront_url)
pulumi.export("rasaUrl", platform.rasa_url)
pulumi.export("services", sorted(platform.workloads))
# What to enter in Botfront > Settings > Instance so the UI can reach and train each Rasa.
pulumi.export("rasaInstanceHost", platform.rasa_instances[0]["instanceHost"])
pulumi.export("rasaInstances", platform.rasa_instances)
if secrets.rasa_auth_token is not None:  # absent when the release's Rasa takes no token (0.27.5)
    pulumi.export("rasaAuthTokens", pulumi.Output.secret(dict(secrets.rasa_auth_tokens)))
    pulumi.export("rasaAuthToken", pulumi.Output.secret(secrets.rasa_auth_token))
pulumi.export("graphqlApiKey", pulumi.Output.secret(secrets.api_key))
if database.mongo_url is not None:  # None in external mode: the URL is only in the user's Secret
    pulumi.export("mongoUrl", pulumi.Output.secret(database.mongo_url))
