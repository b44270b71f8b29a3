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
    """A PVC holding data (database, models, backups): kept like data (`keep_data`).

    Nothing waits for it to be Bound, the claim itself included (`pulumi.com/skipAwait`). The
    provider awaits a new claim until Bound unless it can read the claim's StorageClass and finds
    `WaitForFirstConsumer`, then only until Pending (pulumi/pulumi-kubernetes@v4.32.0:
    provider/pkg/await/awaiters.go, untilCoreV1PersistentVolumeClaimReady and pvcBindMode; 5
    minutes). Under such a class (the default on most clouds) a claim binds only once a pod uses
    it: a deploying identity that may not read StorageClasses (docs/rbac.md), or a backups claim
    whose first consumer is tomorrow's CronJob run, would fail `pulumi up` at the timeout, and a
    consumer that depends_on its claim would deadlock. The Deployment's own awaiter still reports
    claims that never bind (provider/pkg/await/deployment.go, checkPersistentVolumeClaimStatus).
    ASSUMPTION: unchanged at the pinned v4.34.2 / v3.272.0 (the mirror stops at v4.32.0/v3.259.0);
    the installed 4.34.2 SDK does not document the claim's await.
    """
    return core.PersistentVolumeClaim(
        name,
        metadata=meta.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels=dict(labels),
            # provider/pkg/metadata/annotations.go: skipAwait is the string "true".
            annotations={"pulumi.com/skipAwait": "true"},
        ),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=[access_mode],
            storage_class_name=storage_class,
            resources=core.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), keep_data(protect)),
    )
