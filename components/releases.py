"""Release catalog: which services a Botfront release has, and their pinned images.

Pure data and pure functions (no Pulumi runtime), so it can be tested and reviewed on its own.
Tags come from `cli/project-template/.botfront/botfront.yml` at each Botfront tag, the file the
Botfront CLI itself uses as its compatibility matrix (see shared/reference/botfront-facts.md §0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# `botfront/duckling` only ever published `latest`. RasaHQ's Duckling image serves the same
# HTTP API (`POST /parse`, `GET /` answers "quack!") under versioned tags.
DUCKLING_IMAGE = "rasa/duckling:0.2.0.2"
# Botfront 1.0.5 ships the 3.6.x node driver (Meteor 2.0, npm-mongo 3.8.1), which predates
# MongoDB 5; 4.4.29 is the last 4.4 patch release.
MONGO_IMAGE = "mongo:4.4.29"

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class Release:
    """What one Botfront release runs, and the quirks of its images."""

    version: str
    botfront: str
    rasa: str
    actions_base: str
    botfront_api: str | None = None
    # Botfront <= 1.0.3 writes the trained model itself to MODELS_LOCAL_PATH and PUTs it to Rasa.
    botfront_writes_models: bool = False
    # Channels this release's rasa-for-botfront image ships, for credentials.yml.
    regression_test_channel: bool = True

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


CATALOG: dict[str, Release] = {
    r.version: r
    for r in (
        Release(
            version="1.0.5",
            botfront="botfront/botfront:v1.0.5",
            rasa="botfront/rasa-for-botfront:v2.3.3-bf.3",
            actions_base="rasa/rasa-sdk:2.1.2",
        ),
        Release(
            version="1.0.4",
            botfront="botfront/botfront:v1.0.4",
            rasa="botfront/rasa-for-botfront:v2.3.3-bf.3-rc.2",
            actions_base="rasa/rasa-sdk:2.1.2",
        ),
        Release(
            version="1.0.3",
            botfront="botfront/botfront:v1.0.3",
            rasa="botfront/rasa-for-botfront:v2.2.5-bf.5",
            actions_base="rasa/rasa-sdk:2.1.2",
            botfront_writes_models=True,
        ),
        Release(
            version="0.27.5",
            botfront="botfront/botfront:v0.27.5",
            rasa="botfront/rasa-for-botfront:v1.10.16-bf.1",
            actions_base="rasa/rasa-sdk:1.10.1",
            botfront_api="botfront/botfront-api:v0.27.5",
            botfront_writes_models=True,
            regression_test_channel=False,
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
