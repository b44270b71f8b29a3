"""`botfront:backup` and `botfront:restoreFrom` across keys, and the cron and archive-name rules.

The cron rules are what Kubernetes accepts for `CronJob.spec.schedule` (robfig/cron's standard
parser): five fields of `*`, values or ranges with an optional `/step`, month and weekday names, `?`
as `*` in the day fields, the `@hourly`-style macros; day-of-week 0-6 (that parser rejects 7).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from components.validation import Problems

DEFAULT_SCHEDULE, DEFAULT_RETENTION, DEFAULT_SIZE = "30 2 * * *", 7, "5Gi"

# `<database.name>-<UTC timestamp>.archive.gz`, as the backup job writes it.
ARCHIVE_PATTERN = r"[A-Za-z0-9_-]{1,16}-[0-9]{8}T[0-9]{6}Z\.archive\.gz"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"  # the shell's `date -u +%Y%m%dT%H%M%SZ`
_ARCHIVE = re.compile(r"^(?P<db>[A-Za-z0-9_-]{1,16})-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.archive\.gz$")
ARCHIVE_EXAMPLE = "bf-20240131T023000Z.archive.gz"


class CronField(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day-of-month", 1, 31),
    CronField("month", 1, 12, tuple(m.upper() for m in calendar.month_abbr[1:])),
    CronField("day-of-week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}  # fmt: skip
CRON_HELP = (
    "expected a cron schedule (UTC) of 5 fields: minute (0-59), hour (0-23), day-of-month (1-31), month "
    "(1-12 or JAN-DEC), day-of-week (0-6 or SUN-SAT, 0 is Sunday); each field a comma list of *, a value "
    "or a range a-b, each with an optional /step, e.g. '30 2 * * *' (daily at 02:30) or '0 */6 * * *' "
    "(every 6 hours); or @daily, @hourly, @weekly, @monthly"
)
_ITEM = re.compile(r"(?P<range>\*|\?|[^-/]+(?:-[^-/]+)?)(?:/(?P<step>.*))?", re.S)


class CronError(ValueError):
    pass


def parse_cron(expression: Any) -> list[frozenset[int]]:
    text = expression.strip() if isinstance(expression, str) else ""
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise CronError("time zones in the schedule are rejected by Kubernetes; the schedule runs in UTC "
                        "(the CronJob sets timeZone: Etc/UTC)")  # fmt: skip
    if text.startswith("@"):  # exactly as written: lower-case names only, nothing after them
        if text not in MACROS:
            raise CronError(f"unknown macro {text!r}; known: " + ", ".join(MACROS))
        text = MACROS[text]
    parts = text.split()
    if len(parts) != len(FIELDS):
        raise CronError(f"{len(parts)} fields instead of 5")
    values = [
        frozenset().union(*(_item(f, i) for i in p.split(","))) for f, p in zip(FIELDS, parts, strict=True)
    ]
    # With a `*` day-of-week only the day-of-month decides (cron ORs the two day fields only when
    # both are restricted): a day that no chosen month has would never come.
    longest = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in values[3]}
    if parts[4] in ("*", "?") and not any(d <= longest[m] for d in values[2] for m in values[3]):
        raise CronError("it never runs: no chosen month has day " + ", ".join(map(str, sorted(values[2]))))
    return values


def cron_problem(expression: Any) -> str | None:
    try:
        parse_cron(expression)
    except CronError as error:
        return str(error)
    return None


def _item(f: CronField, item: str) -> range:
    where = f"{f.name} field {item!r}"
    match = _ITEM.fullmatch(item)
    if not match:
        raise CronError(f"{where}: expected *, a value or a range a-b, with an optional /step")
    text, step = match["range"], match["step"]
    if step is not None and not (re.fullmatch("[0-9]+", step) and int(step) >= 1):
        raise CronError(f"{where}: the step after / must be a whole number of at least 1")
    if text == "?" and f.name not in ("day-of-month", "day-of-week"):
        raise CronError(f"{where}: ? is only allowed in the day-of-month and day-of-week fields")
    if text in ("*", "?"):
        return range(f.low, f.high + 1, int(step or 1))
    start, _, end = text.partition("-")
    # `a/step` means a to the end of the field's range, every step.
    low, high = _value(f, start, where), _value(f, end, where) if end else None
    high = high if high is not None else (f.high if step else low)
    if low > high:
        raise CronError(f"{where}: the range starts after it ends ({low} > {high})")
    return range(low, high + 1, int(step or 1))


def _value(f: CronField, text: str, where: str) -> int:
    if text.upper() in f.names:
        return f.low + f.names.index(text.upper())
    if not re.fullmatch("[0-9]+", text):
        quartz = " (L, W and # are Quartz extensions)" if re.search("[LW#]", text.upper()) else ""
        names = f" or a name {f.names[0]}-{f.names[-1]}" if f.names else ""
        raise CronError(f"{where}: {text!r} is not a number{names}{quartz}")
    if not f.low <= int(text) <= f.high:
        extra = " (0 is Sunday; Kubernetes does not accept 7)" if f.name == "day-of-week" else ""
        raise CronError(f"{where}: {text} is outside {f.low}-{f.high}{extra}")
    return int(text)


@dataclass(frozen=True)
class BackupSettings:
    schedule: str = DEFAULT_SCHEDULE  # cron, UTC
    retention: int = DEFAULT_RETENTION  # archives kept; older ones are deleted after each backup
    size: str = DEFAULT_SIZE  # the backups volume (PVC mongo-backups)
    storage_class: str | None = None  # None: the cluster's default StorageClass
    restore_from: str | None = None  # an archive name on that volume: render the restore Job

    @property
    def restore_source_database(self) -> str | None:
        match = _ARCHIVE.fullmatch(self.restore_from or "")
        return match.group("db") if match else None


def archive_name_problem(name: Any) -> str | None:
    allowed = (
        "expected an archive file name <database>-<UTC timestamp YYYYmmddTHHMMSSZ>.archive.gz as written "
        f"by the backup job, e.g. {ARCHIVE_EXAMPLE} (a name only, no directory; docs/backup-restore.md "
        "shows how to list them)"
    )
    match = _ARCHIVE.fullmatch(name) if isinstance(name, str) else None
    if not match:
        return allowed
    try:
        datetime.strptime(match.group("stamp"), TIMESTAMP_FORMAT)
    except ValueError:
        return f"{match.group('stamp')} is not a real date and time; {allowed}"
    return None


def build_backup(
    p: Problems, block: Any, raw: Any, restore_from: str | None, *, mode: str
) -> BackupSettings | None:
    if mode == "external":
        why = ("database.mode is external: the stack does not run that MongoDB and does not back it up; "
               "use the backups of whoever runs it (mongodump against your own URL); remove "
               "botfront:")  # fmt: skip
        for key, value in (("backup", raw if block is not None else None), ("restoreFrom", restore_from)):
            if value is not None:
                p.add(key, value, why + key)
        return None
    if mode != "incluster":
        if block is not None:
            p.add("backup", raw, f"only applies to database.mode incluster (database.mode is {mode}): "
                  "Atlas backups are configured under botfront:atlas (atlas.backup, "
                  "atlas.backupRetentionDays/Weeks/Months, atlas.backupHourUtc, atlas.pointInTime; see "
                  "docs/atlas.md); remove botfront:backup")  # fmt: skip
        if restore_from is not None:
            p.add("restoreFrom", restore_from, "only applies to database.mode incluster (database.mode is "
                  f"{mode}): restore an Atlas cluster from its cloud backup snapshots (Atlas UI: the "
                  "cluster's Backup tab > Restore; see docs/atlas.md); remove "
                  "botfront:restoreFrom")  # fmt: skip
        return None
    if block is None or not block.enabled:
        if restore_from is not None:
            p.add("restoreFrom", restore_from, "needs backups on (a botfront:backup block without enabled: "
                  "false): the archives live on the backups volume that block creates")  # fmt: skip
        return None
    return BackupSettings(block.schedule, block.retention, block.size, block.storage_class, restore_from)
