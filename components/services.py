"""What each Botfront service is, as data: a `ServiceSpec` per service from the settings.

Facts (ports, env vars, health paths, image users) come from shared/reference/botfront-facts.md.
No Pulumi resources here: `components/platform.py` feeds these specs to the shared builder.
"""

from __future__ import annotations

from dataclasses import replace

from components.rasa_config import BOTFRONT_GRAPHQL_URL, DUCKLING_URL
from components.settings import Project, RasaInstance, Settings
from components.workload import RUN_AS_USER, Env, Mount, Probe, Probes, Security, ServiceSpec, Volume

# Names in-cluster clients use: Botfront seeds exactly these hosts into its default endpoints
# and instance settings (ORCHESTRATOR=docker-compose defaults).
BOTFRONT, RASA, DUCKLING, ACTIONS, BOTFRONT_API = "botfront", "rasa", "duckling", "actions", "botfront-api"
PORTS = {BOTFRONT: 3000, RASA: 5005, DUCKLING: 8000, ACTIONS: 5055, BOTFRONT_API: 8080}

SECRET_NAME = "botfront-secrets"  # API key, Rasa token, Mongo URLs, mail URL
MODELS_CLAIM = "models"
MODELS_PATH = "/app/models"


class SecretKeys:
    """Keys of the stack's Secret; containers reach them by secretKeyRef only."""

    API_KEY = "api-key"
    RASA_AUTH_TOKEN = "rasa-auth-token"
    MONGO_URL = "mongo-url"
    MONGO_OPLOG_URL = "mongo-oplog-url"
    MAIL_URL = "mail-url"


# Both pods that write /app/models share this group (fsGroup), so files either one writes stay
# writable for the other on the shared volume.
MODELS_GROUP = RUN_AS_USER

# Every rasa-for-botfront image's own CMD expands the token into `rasa run --auth-token $TOKEN`
# (or takes it only as an argument), where any process listing shows it. This launcher passes it
# from the environment to Rasa's argument parser inside Python: it is in no pod spec and no
# process's argv. It also leaves out the images' `--debug`, which logs message contents.
_RASA_LAUNCH = (
    "python",
    "-c",
    "import os, sys\n"
    "from rasa.__main__ import main\n"
    "sys.argv = ['rasa', 'run', '--enable-api', '--auth-token', os.environ['AUTH_TOKEN'],"
    " '--model', os.environ['MODEL_PATH']]\n"
    "main()\n",
)


def _security(settings: Settings, key: str, default: Security) -> Security:
    """The service's restricted default, with the stack's `botfront:security.<key>` relaxations."""
    override = settings.security.get(key)
    if override is None:
        return default
    return replace(
        default,
        run_as_user=override.run_as_user if override.run_as_user is not None else default.run_as_user,
        read_only_root_filesystem=override.read_only_root_filesystem
        if override.read_only_root_filesystem is not None
        else default.read_only_root_filesystem,
    )


def mongo_env(settings: Settings, name: str) -> Env:
    """MONGO_URL / MONGO_OPLOG_URL: from the stack's Secret, or (database.mode external) by
    reference from the user's own Secret, whose content the stack never sees."""
    database = settings.database
    ref = database.url_secret if name == "MONGO_URL" else database.oplog_url_secret
    if database.mode == "external" and ref is not None:
        return Env(name, secret_key=ref.key, secret_name=ref.name)
    return Env(name, secret_key=SecretKeys.MONGO_URL if name == "MONGO_URL" else SecretKeys.MONGO_OPLOG_URL)


def botfront_spec(settings: Settings) -> ServiceSpec:
    env = [
        Env("ROOT_URL", settings.root_url),
        Env("PORT", str(PORTS[BOTFRONT])),  # /health calls localhost:3000: keep 3000
        mongo_env(settings, "MONGO_URL"),
        Env("API_KEY", secret_key=SecretKeys.API_KEY),
        Env("BF_PROJECT_ID", settings.project_id),
        # Seeds endpoints, credentials and instance with the docker-compose host names, which
        # are this stack's Service names.
        Env("ORCHESTRATOR", "docker-compose"),
    ]
    if settings.database.oplog:
        env.append(mongo_env(settings, "MONGO_OPLOG_URL"))
    if settings.mail_url is not None:
        env.append(Env("MAIL_URL", secret_key=SecretKeys.MAIL_URL))
    # Botfront <= 1.0.3 writes the trained model to the shared volume and PUTs it to Rasa; later
    # releases let Rasa store and load its own model, and Botfront needs no volume (nor a node
    # shared with Rasa).
    writes_models = settings.release.botfront_writes_models
    if writes_models:
        env.append(Env("MODELS_LOCAL_PATH", MODELS_PATH + "/"))
    return ServiceSpec(
        name=BOTFRONT,
        image=settings.images["botfront"],
        port=PORTS[BOTFRONT],
        env=tuple(env),
        probes=Probes(
            # The entrypoint waits for MongoDB before Meteor opens the port.
            startup=Probe(period=10, failure_threshold=30),
            liveness=Probe(period=20, failure_threshold=3),
            # /health runs the GraphQL healthCheck: Mongo connected (exempt from API_KEY).
            readiness=Probe(path="/health", period=10, failure_threshold=3),
        ),
        resources=settings.resources["botfront"],
        replicas=settings.replicas["botfront"],
        volumes=(Volume(name="models", claim=MODELS_CLAIM),) if writes_models else (),
        mounts=(Mount(volume="models", path=MODELS_PATH),) if writes_models else (),
        security=_security(settings, "botfront", Security(fs_group=MODELS_GROUP)),
        co_locate=MODELS_CLAIM if writes_models and settings.models.shared_by_node else None,
    )


def rasa_spec(settings: Settings, instance: RasaInstance) -> ServiceSpec:
    env = [
        Env("BF_URL", BOTFRONT_GRAPHQL_URL),
        Env("BF_PROJECT_ID", instance.project_id),
        Env("BOTFRONT_ENV", instance.environment),
        Env("API_KEY", secret_key=SecretKeys.API_KEY),
        Env("AUTH_TOKEN", secret_key=instance.token_key),
        Env("MODEL_PATH", MODELS_PATH),
        Env("MPLCONFIGDIR", "/tmp/.matplotlib"),
        # An arbitrary UID has no home directory; Rasa and its libraries keep caches under HOME.
        Env("HOME", "/tmp"),
    ]
    if settings.duckling:
        env.append(Env("RASA_DUCKLING_HTTP_URL", DUCKLING_URL))
    # Only the default instance shares its volume with botfront (and so its node), and only for
    # releases where botfront writes the models.
    shares_node = (
        instance.default and settings.release.botfront_writes_models and settings.models.shared_by_node
    )
    return ServiceSpec(
        name=instance.name,
        image=settings.images["rasa"],
        port=PORTS[RASA],
        env=tuple(env),
        command=_RASA_LAUNCH,
        probes=Probes(
            # Loading a large model can take minutes; until then only the startup probe runs.
            startup=Probe(path="/", period=10, failure_threshold=60),
            liveness=Probe(path="/", period=20, timeout=10, failure_threshold=6),
            # The webchat channel answers once Rasa has loaded its credentials and channels.
            readiness=Probe(path="/webhooks/webchat/", period=10, failure_threshold=3),
        ),
        resources=instance.resources,
        volumes=(
            Volume(name="models", claim=instance.models_claim),
            Volume(name="rasa-config", secret=instance.config_secret, default_mode=0o440),
        ),
        mounts=(
            Mount(volume="models", path=MODELS_PATH),
            Mount(volume="rasa-config", path="/app/endpoints.yml", sub_path="endpoints.yml", read_only=True),
            Mount(
                volume="rasa-config", path="/app/credentials.yml", sub_path="credentials.yml", read_only=True
            ),
        ),
        # One replica per project and environment: trackers live in process memory.
        replicas=1,
        recreate=settings.models.shared_by_node,
        # Rasa and matplotlib write config under /.config and scratch files under /tmp.
        security=_security(
            settings, "rasa", Security(fs_group=MODELS_GROUP, writable_paths=("/tmp", "/.config"))
        ),
        co_locate=MODELS_CLAIM if shares_node else None,
    )


def duckling_spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=DUCKLING,
        image=settings.images["duckling"],
        port=PORTS[DUCKLING],
        probes=Probes(
            startup=Probe(path="/", period=5, failure_threshold=24),
            liveness=Probe(path="/", period=20, failure_threshold=3),
            readiness=Probe(path="/", period=10, failure_threshold=2),
        ),
        resources=settings.resources["duckling"],
        replicas=settings.replicas["duckling"],
        # duckling-example-exe creates log/ in its working directory at start: make that the
        # writable /tmp rather than the read-only image root (its zoneinfo/ lookup is relative
        # too, and already finds nothing in the image's own directory).
        working_dir="/tmp",
        security=_security(settings, "duckling", Security()),
    )


def actions_spec(settings: Settings, name: str, project: Project) -> ServiceSpec:
    assert project.actions_image is not None
    return ServiceSpec(
        name=name,
        image=project.actions_image,
        port=PORTS[ACTIONS],
        env=(
            Env("BF_URL", BOTFRONT_GRAPHQL_URL),
            Env("BF_PROJECT_ID", project.id),
            # botfront:actions.env (day2_settings refuses names of credentials and the two above).
            *(Env(name, value) for name, value in sorted(project.actions_env.items())),
        ),
        env_from=tuple(project.actions_env_from),
        probes=Probes(
            startup=Probe(path="/health", period=5, failure_threshold=24),
            liveness=Probe(path="/health", period=20, failure_threshold=3),
            readiness=Probe(path="/health", period=10, failure_threshold=2),
        ),
        resources=settings.resources["actions"],
        replicas=settings.replicas["actions"],
        security=_security(settings, "actions", Security()),
    )


def botfront_api_spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=BOTFRONT_API,
        image=settings.images["botfrontApi"],
        port=PORTS[BOTFRONT_API],
        env=(
            mongo_env(settings, "MONGO_URL"),
            Env("PORT", str(PORTS[BOTFRONT_API])),
            Env("NODE_ENV", "production"),
        ),
        probes=Probes(
            # botfront-api listens only once MongoDB answers, then /health-check reports health.
            startup=Probe(period=10, failure_threshold=30),
            liveness=Probe(period=20, failure_threshold=3),
            readiness=Probe(path="/health-check", period=10, failure_threshold=3),
        ),
        resources=settings.resources["botfrontApi"],
        replicas=settings.replicas["botfrontApi"],
        security=_security(settings, "botfrontApi", Security()),
    )


def application_specs(settings: Settings) -> list[ServiceSpec]:
    """Every Botfront service the stack runs (the database is built by its own component)."""
    specs = [botfront_spec(settings)]
    specs += [rasa_spec(settings, instance) for instance in settings.rasa_instances]
    if settings.botfront_api:
        specs.append(botfront_api_spec(settings))
    if settings.duckling:
        specs.append(duckling_spec(settings))
    specs += [actions_spec(settings, name, project) for name, project in settings.actions]
    return specs
