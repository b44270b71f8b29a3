"""Warn when `database.name` changes under an in-cluster MongoDB that already holds data.

The program cannot see the previous configuration, so the name the data was initialised with
is kept in the stack's state: a pulumi-random RandomId (no cloud object, no value used anywhere)
whose `keepers` hold the name, with `ignore_changes` on them. The engine then replaces the new
inputs with the recorded ones before diffing (pulumi/pulumi@v3.259.0, the newest mirrored tag:
pkg/resource/deploy/step_generator.go `processIgnoreChanges`, "sets the value for each
ignoreChanges property in inputs to the value from oldInputs"), so the resource never changes
and its `keepers` output stays the first name, in preview and up alike.

That first name is what matters: components/mongo.py creates the application user once, on an
empty data directory, with readWrite on that database only. After a deliberate migration
(the warning says how), `pulumi state delete <urn of database-name-record>` lets the next
`pulumi up` record the new name. ASSUMPTION: a stack deployed before this record existed starts
with the name it has at that deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.day2_settings import database_rename_warning

RECORD = "database-name-record"


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
