"""Release catalog: what each Botfront release runs, and what its images need.

Pure data and pure functions (no Pulumi runtime), so it can be tested and reviewed on its own.
This is the one place that says how the upstream images behave; every fact carries its upstream
source (`owner/repo@tag:path`), read at the exact tag. Services, probes, the Rasa launcher, the
network policies and the Rasa routes are derived from it (components/services.py, network.py,
platform.py). Tags come from `cli/project-template/.botfront/botfront.yml` at each Botfront tag,
the file the Botfront CLI itself uses as its compatibility matrix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# ---- services, their ports and the image facts every release shares -------------------------

BOTFRONT, RASA, DUCKLING, ACTIONS, BOTFRONT_API, MONGO = (
    "botfront",
    "rasa",
    "duckling",
    "actions",
    "botfront-api",
    "mongo",
)
# The names and ports Botfront seeds into its defaults (instance http://rasa:5005, endpoints
# http://botfront:3000/graphql and http://actions:5055/webhook, bfApiHost http://botfront-api:8080):
# botfront/botfront@v1.0.5:botfront/private/defaults/private.yaml (same at v0.27.5). Duckling's
# 8000 is the image's `-p 8000` (RasaHQ/duckling@f7bcca0:Dockerfile CMD); MongoDB's 27017 is its
# default port.
PORTS: Mapping[str, int] = {
    BOTFRONT: 3000,
    RASA: 5005,
    DUCKLING: 8000,
    ACTIONS: 5055,
    BOTFRONT_API: 8080,
    MONGO: 27017,
}

# `botfront/duckling` only ever published `latest`. RasaHQ's Duckling image serves the same
# HTTP API (`POST /parse`, `GET /` answers "quack!": RasaHQ/duckling@f7bcca0:exe/ExampleMain.hs).
DUCKLING_IMAGE = "rasa/duckling:0.2.0.2"
# The server's own flags: snap-server's `commandLineConfig` logs accesses and errors to files unless
# told not to, and `setupLogs` then creates log/ in the working directory
# (RasaHQ/duckling@f7bcca0:exe/ExampleMain.hs `setupLogs`, `main`). RasaHQ's image passes
# `--no-access-log --no-error-log` since RasaHQ/duckling@3944979:Dockerfile ("no logging by
# default"), so the binary takes them. ASSUMPTION: rasa/duckling:0.2.0.2 was built from that
# branch (the mirror has no tag for it), which is why the command is set here, not trusted.
DUCKLING_COMMAND = ("duckling-example-exe", "-p", str(PORTS[DUCKLING]), "--no-access-log", "--no-error-log")
# Botfront 1.0.5 ships the 3.6.x node driver (Meteor 2.0, npm-mongo 3.8.1), which predates
# MongoDB 5. 4.4.29 has CVE-2025-14847 (zlib message compression, unauthenticated memory
# disclosure); docker-library republished 4.4 as 4.4.30 for it
# (docker-library/mongo@f91923968:4.4/Dockerfile `ENV MONGO_VERSION 4.4.30`, versions.json "4.4").
# ASSUMPTION: the tag is on Docker Hub; the directory was removed again in docker-library/mongo
# 7f63818a5 "once builds for the CVE-2025-14847 updates are officially published".
MONGO_IMAGE = "mongo:4.4.30"

# Rasa's working directory is /app in every rasa-for-botfront image
# (botfront/rasa-for-botfront@v2.3.3-bf.3:docker/Dockerfile.botfront `WORKDIR /app`,
# @v2.2.5-bf.5 and @v1.10.16-bf.1:docker/Dockerfile_botfront); the program mounts both files there.
RASA_ENDPOINTS = "/app/endpoints.yml"
RASA_CREDENTIALS = "/app/credentials.yml"
# Before v2.3.3-bf.2 `set_endpoints_credentials_args_from_remote` returns early only when both
# --endpoints and --credentials are given, and otherwise polls BF_URL for the config without end
# (botfront/rasa-for-botfront@v2.2.5-bf.5:rasa/utils/botfront.py, @v1.10.16-bf.1:same path);
# v2.3.3-bf.3 also picks up endpoints.yml/credentials.yml in the working directory
# (@v2.3.3-bf.3:rasa/utils/botfront.py, rasa-for-botfront#48). Passing both flags works for all.
RASA_CONFIG_FLAGS = ("--endpoints", RASA_ENDPOINTS, "--credentials", RASA_CREDENTIALS)
# The only paths of Rasa the public needs: input channels are registered under /webhooks/
# (botfront/rasa-for-botfront@v2.3.3-bf.3:rasa/core/run.py `route="/webhooks/"`, same at
# @v1.10.16-bf.1) and the webchat's socket.io server under `socketio_path`, default /socket.io
# (@v2.3.3-bf.3:rasa_addons/core/channels/webchat.py, same at @v1.10.16-bf.1). The HTTP API
# (/model/train, /model, /status, /conversations...) is for Botfront inside the cluster only.
RASA_PUBLIC_PATHS = ("/socket.io/", "/webhooks/")
# botfront-api's image runs `npm start`, i.e. `node app.js` from WORKDIR /app
# (botfront/botfront@v0.27.5:api/Dockerfile, api/package.json "start"); npm wants a writable HOME.
BOTFRONT_API_COMMAND = ("node", "app.js")
# Botfront's images run on node:12 (botfront/botfront@v1.0.5:Dockerfile `FROM node:12-buster-slim`,
# @v0.27.5:Dockerfile `FROM node:12-alpine`): `node` is on PATH for an exec probe.
BOTFRONT_NODE = "node"


# What each image answers for probes. Botfront's runs the GraphQL healthCheck (MongoDB connected)
# and needs the API key except at 1.0.5 (`Release.health_open`;
# botfront/botfront@v1.0.5:botfront/imports/startup/server/apollo.js `/health`).
BOTFRONT_HEALTH = "/health"
# Rasa's `hello` (botfront/rasa-for-botfront@v2.3.3-bf.3:rasa/server.py `@app.get("/")`, the same
# at v1.10.16-bf.1) answers once the server is up; the webchat channel's GET / under its prefix
# (@v2.3.3-bf.3:rasa_addons/core/channels/webchat.py, the same at v1.10.16-bf.1) once the
# credentials are loaded and the channels registered.
RASA_HEALTH = "/"
RASA_CHANNELS_HEALTH = "/webhooks/webchat/"
DUCKLING_HEALTH = "/"  # `ifTop (writeBS "quack!")` (RasaHQ/duckling@f7bcca0:exe/ExampleMain.hs)
# ASSUMPTION: rasa-sdk (not mirrored) serves GET /health on its action server, as the facts note
# says (RasaHQ/rasa-sdk rasa_sdk/endpoint.py).
ACTIONS_HEALTH = "/health"
BOTFRONT_API_HEALTH = "/health-check"  # botfront/botfront@v0.27.5:api/routes/index.js


@dataclass(frozen=True)
class Scratch:
    """Where an image writes outside its volumes (each path becomes a bounded emptyDir, so the
    root filesystem stays read-only), and the bound of each."""

    paths: tuple[str, ...]
    size: str


# No image needs its own user: each runs under the arbitrary UID the pods set
# (components/workload.py RUN_AS_USER), with HOME pointed at /tmp where a tool wants a home.
# rasa-for-botfront declares USER 1001 with /app group-0 writable, and VOLUME /tmp
# (botfront/rasa-for-botfront@v2.3.3-bf.3:docker/Dockerfile.botfront); the others run as root
# by default; the MongoDB entrypoint switches users only when started as root
# (docker-library/mongo@f91923968:4.4/docker-entrypoint.sh, `id -u`). The sizes are ours
# (ASSUMPTION): the kubelet evicts a pod that writes past them.
SCRATCH: Mapping[str, Scratch] = {
    # Botfront 1.0.x clones a project's git repository to /tmp/<md5(url)>
    # (botfront/botfront@v1.0.5:botfront/imports/api/importExport/export.methods.js `getRemote`).
    BOTFRONT: Scratch(("/tmp",), "512Mi"),
    # Training unpacks and packs models in temporary directories; HOME=/tmp holds
    # ~/.config/rasa/global.yml (botfront/rasa-for-botfront@v2.3.3-bf.3:rasa/constants.py
    # GLOBAL_USER_CONFIG_PATH, the same at v2.2.5-bf.5 and v1.10.16-bf.1) and MPLCONFIGDIR.
    RASA: Scratch(("/tmp",), "1Gi"),
    # With DUCKLING_COMMAND's flags Duckling writes no file at all; /tmp is the usual spare.
    DUCKLING: Scratch(("/tmp",), "64Mi"),
    ACTIONS: Scratch(("/tmp",), "256Mi"),  # the user's code: a conventional /tmp
    BOTFRONT_API: Scratch(("/tmp",), "64Mi"),  # HOME, for node and npm
    # mongod's socket file and the shell's history (HOME=/tmp); /data/configdb is a VOLUME of
    # the image (docker-library/mongo@f91923968:4.4/Dockerfile), unused by a replica set member.
    MONGO: Scratch(("/tmp", "/data/configdb"), "64Mi"),
}


@dataclass(frozen=True)
class Call:
    """Pods of `source` open `target`'s port (PORTS) for `why`; `cited` is where the call is made."""

    source: str
    target: str
    why: str
    cited: str

    @property
    def port(self) -> int:
        return PORTS[self.target]


@dataclass(frozen=True)
class ExternalCall:
    """Pods of `source` open `ports` on hosts outside the cluster for `why`; `cited` as for Call."""

    source: str
    ports: tuple[int, ...]
    why: str
    cited: str


# Rasa 1.10's DucklingHTTPExtractor became DucklingEntityExtractor in Rasa 2; both read
# RASA_DUCKLING_HTTP_URL (`_url`, line 101 at each of the catalog's rasa tags).
DUCKLING_EXTRACTOR_1 = "rasa/nlu/extractors/duckling_http_extractor.py"
DUCKLING_EXTRACTOR_2 = "rasa/nlu/extractors/duckling_entity_extractor.py"


def _calls(bf_tag: str, rasa_tag: str, duckling_extractor: str) -> tuple[Call, ...]:
    """Who calls whom in every release, each call cited at that release's own tags (the paths
    are the same at every catalog tag except Duckling's extractor, renamed in Rasa 2)."""
    bf, rasa = f"botfront/botfront@{bf_tag}:", f"botfront/rasa-for-botfront@{rasa_tag}:"
    return (
        Call(
            BOTFRONT,
            RASA,
            "status poll, /model/train, /model/parse, /model/test/intents (and PUT /model up to 1.0.3)",
            f"{bf}botfront/server/startup.js, {bf}botfront/imports/api/instances/instances.methods.js",
        ),
        Call(
            RASA,
            BOTFRONT,
            "GraphQL: NLG, tracker store, webchat session props (endpoints.yml, BF_URL)",
            f"{rasa}rasa_addons/core/tracker_stores/botfront.py, {rasa}rasa_addons/core/nlg/graphql.py",
        ),
        # The action_endpoint Botfront seeds (http://actions:5055/webhook).
        Call(
            RASA,
            ACTIONS,
            "custom actions (endpoints.yml action_endpoint)",
            f"{bf}botfront/private/defaults/private.yaml",
        ),
        Call(
            RASA,
            DUCKLING,
            "the Duckling HTTP extractor (RASA_DUCKLING_HTTP_URL)",
            rasa + duckling_extractor,
        ),
        # ASSUMPTION: the action server is the user's code. Botfront's own project template
        # gives it BF_URL (botfront.yml `env: bf_url: http://botfront:3000/graphql` becomes .env,
        # which the template's `actions` service reads through `env_file`), so it may call
        # Botfront's GraphQL API.
        Call(
            ACTIONS,
            BOTFRONT,
            "GraphQL (BF_URL), as the CLI's project template gives it to actions",
            f"{bf}cli/project-template/.botfront/botfront.yml, "
            f"{bf}cli/project-template/.botfront/docker-compose-template.yml",
        ),
        Call(
            BOTFRONT,
            MONGO,
            "all data (MONGO_URL, MONGO_OPLOG_URL)",
            f"{bf}botfront/imports/startup/server/apollo.js",
        ),
    )


# Botfront 0.27.5 exports and imports projects through botfront-api (settings.private.bfApiHost,
# seeded http://botfront-api:8080), which reads and writes MongoDB itself.
BOTFRONT_API_CALLS = (
    Call(
        BOTFRONT,
        BOTFRONT_API,
        "project export and import (GET /project/:id/export, PUT /project/:id/import)",
        "botfront/botfront@v0.27.5:botfront/imports/api/importExport/export.methods.js, "
        "botfront/botfront@v0.27.5:botfront/imports/api/importExport/import.methods.js",
    ),
    Call(BOTFRONT_API, MONGO, "all data (MONGO_URL)", "botfront/botfront@v0.27.5:api/server/utils.js"),
)


def _git_over_ssh(bf_tag: str) -> ExternalCall:
    """Botfront 1.0.x pushes and pulls a project's git repository (its gitString) with nodegit;
    any URL without `https` authenticates with the project's SSH key (`getConnectionOpts` ->
    `nodegit.Cred.sshKeyMemoryNew`): SSH, port 22 for `git@host:org/repo` URLs. 0.27.5 has no
    git integration (no nodegit in botfront/package.json at v0.27.5). HTTPS remotes use 443,
    already open for webhooks. A remote on another SSH port needs networkPolicy.extraEgress."""
    return ExternalCall(
        BOTFRONT,
        (22,),
        "git push/pull of a project over SSH (gitString, SSH key)",
        f"botfront/botfront@{bf_tag}:botfront/imports/api/importExport/export.methods.js",
    )


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class Release:
    """What one Botfront release runs, and what its images need (facts cited in `sources`)."""

    version: str
    botfront: str
    rasa: str
    actions_base: str
    botfront_api: str | None = None
    # Botfront <= 1.0.3 writes the trained model itself to MODELS_LOCAL_PATH and PUTs it to Rasa.
    botfront_writes_models: bool = False
    # Channels this release's rasa-for-botfront image ships, for credentials.yml.
    regression_test_channel: bool = True
    # Botfront's `/health` answers a request without `authorization` (only 1.0.5 exempts the
    # healthCheck query from API_KEY); otherwise the probe must send the key.
    health_open: bool = False
    # Botfront sends the instance token on every call to Rasa, so Rasa may require one.
    rasa_token: bool = True
    # Engine.IO protocol revision of the release's Rasa: python-engineio 3.x speaks EIO=3, 4.x
    # only EIO=4 (it answers 400 to any other); the webchat handshake must use it.
    engineio: int = 4
    # Pod-to-pod calls (components/network.py opens exactly these), and calls out of the cluster.
    calls: tuple[Call, ...] = ()
    external_calls: tuple[ExternalCall, ...] = ()
    # fact (field name) -> where it was read: `owner/repo@tag:path`.
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def images(self) -> dict[str, str]:
        """Default image per service key (the keys of `botfront:images`)."""
        images = {
            "botfront": self.botfront,
            "rasa": self.rasa,
            "duckling": DUCKLING_IMAGE,
            "mongo": MONGO_IMAGE,
        }
        if self.botfront_api:
            images["botfrontApi"] = self.botfront_api
        return images


def _sources(botfront_tag: str, rasa_tag: str) -> dict[str, str]:
    bf, rasa = f"botfront/botfront@{botfront_tag}:", f"botfront/rasa-for-botfront@{rasa_tag}:"
    return {
        "images": bf + "cli/project-template/.botfront/botfront.yml",
        "botfront_writes_models": bf + "botfront/imports/api/instances/instances.methods.js (rasa.train)",
        "regression_test_channel": rasa + "rasa_addons/core/channels/",
        "health_open": bf + "botfront/imports/startup/server/apollo.js (context; /health)",
        "rasa_token": bf
        + "botfront/imports/api/instances/instances.methods.js, "
        + bf
        + "botfront/server/startup.js",
        "calls": bf + "botfront/private/defaults/private.yaml",
        "engineio": rasa + "poetry.lock (python-engineio)",
    }


CATALOG: dict[str, Release] = {
    r.version: r
    for r in (
        Release(
            version="1.0.5",
            botfront="botfront/botfront:v1.0.5",
            rasa="botfront/rasa-for-botfront:v2.3.3-bf.3",
            actions_base="rasa/rasa-sdk:2.1.2",
            health_open=True,  # `isHealthcheck`
            calls=_calls("v1.0.5", "v2.3.3-bf.3", DUCKLING_EXTRACTOR_2),
            external_calls=(_git_over_ssh("v1.0.5"),),
            sources=_sources("v1.0.5", "v2.3.3-bf.3"),
        ),
        Release(
            version="1.0.4",
            botfront="botfront/botfront:v1.0.4",
            rasa="botfront/rasa-for-botfront:v2.3.3-bf.3-rc.2",
            actions_base="rasa/rasa-sdk:2.1.2",
            calls=_calls("v1.0.4", "v2.3.3-bf.3-rc.2", DUCKLING_EXTRACTOR_2),
            external_calls=(_git_over_ssh("v1.0.4"),),
            sources=_sources("v1.0.4", "v2.3.3-bf.3-rc.2"),
        ),
        Release(
            version="1.0.3",
            botfront="botfront/botfront:v1.0.3",
            rasa="botfront/rasa-for-botfront:v2.2.5-bf.5",
            actions_base="rasa/rasa-sdk:2.1.2",
            botfront_writes_models=True,
            engineio=3,  # python-engineio 3.13.2
            calls=_calls("v1.0.3", "v2.2.5-bf.5", DUCKLING_EXTRACTOR_2),
            external_calls=(_git_over_ssh("v1.0.3"),),
            sources=_sources("v1.0.3", "v2.2.5-bf.5"),
        ),
        Release(
            version="0.27.5",
            botfront="botfront/botfront:v0.27.5",
            rasa="botfront/rasa-for-botfront:v1.10.16-bf.1",
            actions_base="rasa/rasa-sdk:1.10.1",
            botfront_api="botfront/botfront-api:v0.27.5",
            botfront_writes_models=True,
            regression_test_channel=False,  # no bot_regression_test.py in v1.10.16-bf.1
            # train, PUT /model and the /status poll go out without `token`
            # (instances.methods.js `rasa.train`, server/startup.js): a token would fail them.
            rasa_token=False,
            engineio=3,  # python-engineio 3.12.1
            calls=_calls("v0.27.5", "v1.10.16-bf.1", DUCKLING_EXTRACTOR_1) + BOTFRONT_API_CALLS,
            sources=_sources("v0.27.5", "v1.10.16-bf.1"),
        ),
    )
}

DEFAULT_RELEASE = "1.0.5"


def pinning_problem(image: str) -> str | None:
    """Why `image` is not a pinned reference, or None when it is.

    Pinned means a full `@sha256:` digest, or a tag other than `latest`.
    """
    if not isinstance(image, str) or not image or image != image.strip():
        return "must be a non-empty image reference without spaces"
    name = image
    if "@" in image:
        if not _DIGEST.search(image):
            return "has a malformed digest: expected @sha256: followed by 64 hex digits"
        name = image[: image.index("@")]
        # A tag before the digest is allowed (docker ignores it) but must itself be well formed.
        tag_match = _TAG.search(name)
        if tag_match:
            name = name[: tag_match.start()]
        return None if _REPOSITORY.match(name) else "has an invalid repository name"
    tag_match = _TAG.search(name)
    if not tag_match:
        return "has no tag: pin a version tag (not latest) or an @sha256: digest"
    if tag_match.group(0) == ":latest":
        return "uses the floating tag 'latest': pin a version tag or an @sha256: digest"
    if not _REPOSITORY.match(name[: tag_match.start()]):
        return "has an invalid repository name"
    return None
