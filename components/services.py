"""What each Botfront service is, as data: a `ServiceSpec` per service from the settings.

What the images need (ports, probes, launch flags, token support, write paths) is read from the
release's facts in `components/releases.py`, where each one cites its upstream source. No Pulumi
resources here: `components/platform.py` feeds these specs to the shared builder.
"""

from __future__ import annotations

from dataclasses import replace

from components.rasa_config import BOTFRONT_GRAPHQL_URL, DUCKLING_URL
from components.releases import (
    ACTIONS,
    ACTIONS_HEALTH,
    BOTFRONT,
    BOTFRONT_API,
    BOTFRONT_API_COMMAND,
    BOTFRONT_API_HEALTH,
    BOTFRONT_HEALTH,
    BOTFRONT_NODE,
    DUCKLING,
    DUCKLING_COMMAND,
    DUCKLING_HEALTH,
    PORTS,
    RASA,
    RASA_CHANNELS_HEALTH,
    RASA_CONFIG_FLAGS,
    RASA_CREDENTIALS,
    RASA_ENDPOINTS,
    RASA_HEALTH,
    SCRATCH,
    Release,
)
from components.settings import Project, RasaInstance, Settings
from components.workload import RUN_AS_USER, Env, Mount, Probe, Probes, Security, ServiceSpec, Volume

__all__ = ["ACTIONS", "BOTFRONT", "BOTFRONT_API", "DUCKLING", "PORTS", "RASA", "application_specs"]

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

# An arbitrary UID has no home directory; Rasa, matplotlib and npm keep caches under HOME.
SCRATCH_HOME = "/tmp"

# Readiness of Botfront releases whose /health demands the API key: GET /health with
# `authorization` read from the container's own environment (API_KEY, by secretKeyRef), so the
# key is in no pod spec. /health forwards the header to its healthCheck GraphQL query
# (botfront/botfront@v1.0.4:botfront/imports/startup/server/apollo.js, same at v1.0.3, v0.27.5);
# that query answers only while MongoDB is connected. PORT is the container's, 3000.
BOTFRONT_HEALTH_PROBE_JS = f"""\
const req = require('http').get({{
  host: '127.0.0.1', port: process.env.PORT, path: '{BOTFRONT_HEALTH}', timeout: 4000,
  headers: {{ authorization: process.env.API_KEY || '' }},
}}, (res) => {{ res.resume(); process.exit(res.statusCode === 200 ? 0 : 1); }});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
"""


def rasa_launcher(release: Release) -> tuple[str, ...]:
    """`rasa run` from the mounted files, with the token (when the release uses one) from the
    environment.

    Every rasa-for-botfront image's own CMD expands the token into `rasa run --auth-token $TOKEN`
    (or takes it only as an argument), where any process listing shows it; this hands it to
    Rasa's argument parser inside Python, so it is in no pod spec and no process's argv. Both
    config flags always: see RASA_CONFIG_FLAGS. It leaves out the images' `--debug`, which logs
    message contents.

    It relies on `rasa.__main__.main()` taking its arguments from `sys.argv`: `main` calls
    `arg_parser.parse_args()` without arguments, so argparse reads `sys.argv[1:]`, at every
    catalog tag (botfront/rasa-for-botfront@v2.3.3-bf.3:rasa/__main__.py,
    botfront/rasa-for-botfront@v2.3.3-bf.3-rc.2:rasa/__main__.py,
    botfront/rasa-for-botfront@v2.2.5-bf.5:rasa/__main__.py,
    botfront/rasa-for-botfront@v1.10.16-bf.1:rasa/__main__.py, `def main`).
    """
    argv = ["rasa", "run", "--enable-api", *RASA_CONFIG_FLAGS]
    lines = [
        "import os, sys",
        "from rasa.__main__ import main",
        f"sys.argv = {argv!r} + ['--model', os.environ['MODEL_PATH']]",
    ]
    if release.rasa_token:
        lines.append("sys.argv += ['--auth-token', os.environ['AUTH_TOKEN']]")
    lines.append("main()")
    return ("python", "-c", "\n".join(lines) + "\n")


def _security(settings: Settings, key: str, kind: str, fs_group: int | None = None) -> Security:
    """The service's restricted default, writable where its image writes (SCRATCH[kind]), with
    the stack's `botfront:security.<key>` relaxations."""
    scratch = SCRATCH[kind]
    default = Security(fs_group=fs_group, writable_paths=scratch.paths, scratch_size=scratch.size)
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
        # No ORCHESTRATOR: 1.0.x reads it only as `=== 'gke'` (anything else seeds the
        # docker-compose names, this stack's Service names) and 0.27.5 not at all
        # (botfront/botfront@v1.0.5:botfront/imports/api/setup.js; v0.27.5 has no reference).
    ]
    if settings.database.oplog:
        env.append(mongo_env(settings, "MONGO_OPLOG_URL"))
    if settings.mail_url is not None:
        env.append(Env("MAIL_URL", secret_key=SecretKeys.MAIL_URL))
    # Botfront <= 1.0.3 writes the trained model to the shared volume and PUTs it to Rasa; later
    # releases let Rasa store and load its own model, and Botfront needs no volume (nor a node
    # shared with Rasa).
    release = settings.release
    writes_models = release.botfront_writes_models
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
            # /health runs the GraphQL healthCheck: Mongo connected.
            readiness=Probe(path=BOTFRONT_HEALTH, period=10, failure_threshold=3)
            if release.health_open
            else Probe(
                command=(BOTFRONT_NODE, "-e", BOTFRONT_HEALTH_PROBE_JS), period=10, failure_threshold=3
            ),
        ),
        resources=settings.resources["botfront"],
        replicas=settings.replicas["botfront"],
        volumes=(Volume(name="models", claim=MODELS_CLAIM),) if writes_models else (),
        mounts=(Mount(volume="models", path=MODELS_PATH),) if writes_models else (),
        security=_security(settings, "botfront", BOTFRONT, fs_group=MODELS_GROUP),
        co_locate=MODELS_CLAIM if writes_models and settings.models.shared_by_node else None,
    )


def rasa_spec(settings: Settings, instance: RasaInstance) -> ServiceSpec:
    env = [
        Env("BF_URL", BOTFRONT_GRAPHQL_URL),
        Env("BF_PROJECT_ID", instance.project_id),
        Env("BOTFRONT_ENV", instance.environment),
        Env("API_KEY", secret_key=SecretKeys.API_KEY),
        Env("MODEL_PATH", MODELS_PATH),
        Env("MPLCONFIGDIR", "/tmp/.matplotlib"),
        # Rasa's user config (~/.config) lands in the /tmp emptyDir too: see SCRATCH.
        Env("HOME", SCRATCH_HOME),
    ]
    if settings.release.rasa_token:
        env.append(Env("AUTH_TOKEN", secret_key=instance.token_key))
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
        command=rasa_launcher(settings.release),
        probes=Probes(
            # Loading a large model can take minutes; until then only the startup probe runs.
            startup=Probe(path=RASA_HEALTH, period=10, failure_threshold=60),
            liveness=Probe(path=RASA_HEALTH, period=20, timeout=10, failure_threshold=6),
            # The webchat channel answers once Rasa has loaded its credentials and channels.
            readiness=Probe(path=RASA_CHANNELS_HEALTH, period=10, failure_threshold=3),
        ),
        resources=instance.resources,
        volumes=(
            Volume(name="models", claim=instance.models_claim),
            Volume(name="rasa-config", secret=instance.config_secret, default_mode=0o440),
        ),
        mounts=(
            Mount(volume="models", path=MODELS_PATH),
            Mount(volume="rasa-config", path=RASA_ENDPOINTS, sub_path="endpoints.yml", read_only=True),
            Mount(volume="rasa-config", path=RASA_CREDENTIALS, sub_path="credentials.yml", read_only=True),
        ),
        # One replica per project and environment: trackers live in process memory.
        replicas=1,
        recreate=settings.models.shared_by_node,
        security=_security(settings, "rasa", RASA, fs_group=MODELS_GROUP),
        co_locate=MODELS_CLAIM if shares_node else None,
    )


def duckling_spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=DUCKLING,
        image=settings.images["duckling"],
        port=PORTS[DUCKLING],
        probes=Probes(
            startup=Probe(path=DUCKLING_HEALTH, period=5, failure_threshold=24),
            liveness=Probe(path=DUCKLING_HEALTH, period=20, failure_threshold=3),
            readiness=Probe(path=DUCKLING_HEALTH, period=10, failure_threshold=2),
        ),
        resources=settings.resources["duckling"],
        replicas=settings.replicas["duckling"],
        # No access or error log files (and so no log/ directory on the read-only root).
        command=DUCKLING_COMMAND,
        security=_security(settings, "duckling", DUCKLING),
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
            # botfront:actions.env (components/settings.py refuses names of credentials and the two above).
            *(Env(name, value) for name, value in sorted(project.actions_env.items())),
        ),
        env_from=tuple(project.actions_env_from),
        probes=Probes(
            startup=Probe(path=ACTIONS_HEALTH, period=5, failure_threshold=24),
            liveness=Probe(path=ACTIONS_HEALTH, period=20, failure_threshold=3),
            readiness=Probe(path=ACTIONS_HEALTH, period=10, failure_threshold=2),
        ),
        resources=settings.resources["actions"],
        replicas=settings.replicas["actions"],
        security=_security(settings, "actions", ACTIONS),
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
            Env("HOME", SCRATCH_HOME),
        ),
        # The image's `npm start` is `node app.js`; run node directly (no npm cache or log).
        command=BOTFRONT_API_COMMAND,
        probes=Probes(
            # botfront-api listens only once MongoDB answers, then /health-check reports health.
            startup=Probe(period=10, failure_threshold=30),
            liveness=Probe(period=20, failure_threshold=3),
            readiness=Probe(path=BOTFRONT_API_HEALTH, period=10, failure_threshold=3),
        ),
        resources=settings.resources["botfrontApi"],
        replicas=settings.replicas["botfrontApi"],
        security=_security(settings, "botfrontApi", BOTFRONT_API),
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
