"""What the platform needs from a database, whichever component provides it."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta


class MongoDatabase(pulumi.ComponentResource):
    """Base of `InClusterMongo` and `AtlasDatabase`: the platform only reads these two secret
    Outputs, whichever component it got."""

    # None when the URL lives only in the user's own Secret (ExternalDatabase).
    mongo_url: pulumi.Output[str] | None
    # None when the stack turns the oplog off (Meteor then polls).
    mongo_oplog_url: pulumi.Output[str] | None


def keep_data(protect: bool) -> pulumi.ResourceOptions:
    """Options for anything holding data: protected, and left in place if ever deleted.

    Ephemeral stacks pass False so that `pulumi destroy` removes everything.
    """
    return pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)


def data_volume(
    name: str,
    *,
    namespace: pulumi.Input[str],
    size: str,
    storage_class: str | None,
    protect: bool,
    parent: pulumi.Resource,
    labels: Mapping[str, str],
    access_mode: str = "ReadWriteOnce",
) -> core.PersistentVolumeClaim:
    """A PVC holding data (database, models, backups): kept like data (`keep_data`)."""
    return core.PersistentVolumeClaim(
        name,
        metadata=meta.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=[access_mode],
            storage_class_name=storage_class,
            resources=core.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), keep_data(protect)),
    )
