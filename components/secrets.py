"""Generated credentials and the one Kubernetes Secret the Botfront services read.

Values come from pulumi-random (kept in the stack's encrypted state, so they are stable across
updates), land in a single Secret, and reach containers only through secretKeyRef.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta
import pulumi_random as random

from components.rotation import keepers
from components.services import SECRET_NAME, SecretKeys


@dataclass
class GeneratedSecretsArgs:
    namespace: pulumi.Input[str]
    # None with database.mode external: services read the user's Secret instead.
    mongo_url: pulumi.Input[str] | None
    mongo_oplog_url: pulumi.Input[str] | None = None
    mail_url: pulumi.Input[str] | None = None
    # One Rasa auth token per Rasa instance, under these keys of the Secret. Empty when the
    # release's Rasa runs without a token (`Release.rasa_token`, 0.27.5): none is generated.
    rasa_token_keys: Sequence[str] = (SecretKeys.RASA_AUTH_TOKEN,)
    labels: Mapping[str, str] = field(default_factory=dict)
    # botfront:rotate generations: a bump replaces that RandomPassword, so a new value.
    rotate: Mapping[str, int] = field(default_factory=dict)


class GeneratedSecrets(pulumi.ComponentResource):
    api_key: pulumi.Output[str]
    rasa_auth_tokens: dict[str, pulumi.Output[str]]
    rasa_auth_token: pulumi.Output[str] | None  # the first instance's, None without tokens
    secret_name: str
    secret: core.Secret

    def __init__(
        self, name: str, args: GeneratedSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("botfront:secrets:GeneratedSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Alphanumeric: both travel in HTTP headers and query strings (`?token=`) unescaped.
        # `keepers` is pulumi-random's replace trigger (pulumi_random 4.21.4 random_password.py:
        # "Arbitrary map of values that, when changed, will trigger recreation of resource").
        def token(resource_name: str, rotate_key: str) -> pulumi.Output[str]:
            return random.RandomPassword(
                resource_name, length=48, special=False, keepers=keepers(args.rotate, rotate_key), opts=child
            ).result

        self.api_key = token(f"{name}-graphql-api-key", "apiKey")
        self.rasa_auth_tokens = {key: token(f"{name}-{key}", "rasaToken") for key in args.rasa_token_keys}
        # Keys the pods' checksum annotations (components/platform.py). Its own value, not the API
        # key: rotating the API key must roll only the pods that read it.
        self.checksum_key = random.RandomPassword(
            f"{name}-checksum-key", length=32, special=False, opts=child
        ).result
        self.rasa_auth_token = (
            self.rasa_auth_tokens[args.rasa_token_keys[0]] if args.rasa_token_keys else None
        )

        entries: dict[str, pulumi.Input[str]] = {
            SecretKeys.API_KEY: self.api_key,
            **self.rasa_auth_tokens,
        }
        if args.mongo_url is not None:
            entries[SecretKeys.MONGO_URL] = args.mongo_url
        if args.mongo_oplog_url is not None:
            entries[SecretKeys.MONGO_OPLOG_URL] = args.mongo_oplog_url
        if args.mail_url is not None:
            entries[SecretKeys.MAIL_URL] = args.mail_url
        self.secret_name = SECRET_NAME
        self.secret = core.Secret(
            SECRET_NAME,
            metadata=meta.ObjectMetaArgs(
                name=SECRET_NAME, namespace=args.namespace, labels=dict(args.labels)
            ),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in entries.items()},
            opts=child,
        )
        self.entries = entries
        self.register_outputs({"secretName": self.secret.metadata.name})
