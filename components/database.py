"""What the platform needs from a database, whichever component provides it."""

from __future__ import annotations

import pulumi


class MongoDatabase(pulumi.ComponentResource):
    """Base of `InClusterMongo` and `AtlasDatabase`: the platform only reads these two secret
    Outputs, whichever component it got."""

    mongo_url: pulumi.Output[str]
    # None when the stack turns the oplog off (Meteor then polls).
    mongo_oplog_url: pulumi.Output[str] | None


def keep_data(protect: bool) -> pulumi.ResourceOptions:
    """Options for anything holding data: protected, and left in place if ever deleted.

    Ephemeral stacks pass False so that `pulumi destroy` removes everything.
    """
    return pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
