"""ExternalDatabase: a MongoDB the team already runs (`database.mode: external`).

Nothing is created for it. Its URLs stay in the user's own Secret in the stack's namespace; the
services read them by secretKeyRef (components/services.py `mongo_env`), so the stack never sees
them, keeps none in its state and exports no mongoUrl.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.database import MongoDatabase
from components.model import SecretKeyRef


@dataclass
class ExternalDatabaseArgs:
    url_secret: SecretKeyRef
    oplog_url_secret: SecretKeyRef | None = None


class ExternalDatabase(MongoDatabase):
    url_secret: SecretKeyRef
    oplog_url_secret: SecretKeyRef | None

    def __init__(self, name: str, args: ExternalDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("botfront:database:ExternalDatabase", name, None, opts)
        self.url_secret = args.url_secret
        self.oplog_url_secret = args.oplog_url_secret
        self.mongo_url = None
        self.mongo_oplog_url = None
        self.register_outputs(
            {
                "urlSecret": f"{args.url_secret.name}/{args.url_secret.key}",
                "oplogUrlSecret": f"{args.oplog_url_secret.name}/{args.oplog_url_secret.key}"
                if args.oplog_url_secret
                else None,
            }
        )
