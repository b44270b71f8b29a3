"""Warn when `database.name` changes under an in-cluster MongoDB that already holds data.

The program cannot see the previous configuration, so the name the data was initialised with
is kept in the stack's state: a pulumi-random RandomId (no cloud object, no value used anywhere)
whose `keepers` hold the name, with `ignore_changes` on them. The engine then replaces the new
inputs with the recorded ones before diffing (pulumi/pulumi@v3.259.0, the newest mirrored tag:
pkg/resource/deploy/step_generator.go `processIgnoreChanges`, "sets the value for each
ignoreChanges property in inputs to the value from oldInputs"), so the resource never changes
and its `keepers` output stays the first name, in preview and up alike.

That first name is where the data is. components/mongo.py's postStart hook resets the application
user's roles to readWrite on the CURRENT database.name at every start, so after a rename Botfront
comes up on a new, empty database: the old data stays intact but the application user can no
longer reach it. After a deliberate migration (the warning says how), `pulumi state delete <urn of
database-name-record>` lets the next `pulumi up` record the new name. ASSUMPTION: a stack deployed
before this record existed starts with the name it has at that deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

RECORD = "database-name-record"


def database_rename_warning(old: str, new: str) -> str:
    return (
        f"botfront:database.name changed from {old!r} to {new!r} on the in-cluster MongoDB: the data "
        f"stays in {old!r}, and on its next start MongoDB's postStart hook gives the application user "
        f"rights on {new!r} only, so Botfront comes up on an EMPTY database (the old data intact but "
        f"unreachable to it). To regain the data, set database.name back to {old!r} and pulumi up. To "
        f"move it: 1. with the old name, back up first (botfront:backup; an archive "
        f"{old}-<time>.archive.gz); 2. set the new name and pulumi config set botfront:restoreFrom "
        f"<that archive>, then pulumi up (the restore Job renames {old}.* to {new}.*); 3. pulumi "
        f"state delete the RandomId {RECORD} (its URN: pulumi stack --show-urns) so the stack "
        f"records {new!r}."
    )


def record_database_name(name: str, opts: pulumi.ResourceOptions | None = None) -> random.RandomId:
    record = random.RandomId(
        RECORD,
        byte_length=4,
        keepers={"database": name},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["keepers"])),
    )

    def check(keepers: Mapping[str, str] | None) -> None:
        old = (keepers or {}).get("database")
        if old and old != name:
            pulumi.log.warn(database_rename_warning(old, name), resource=record)

    record.keepers.apply(check)
    return record
