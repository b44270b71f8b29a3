"""What MongoDB Atlas offers, as data: providers, MongoDB versions, cluster tiers and their sizes,
and the names the stack gives the Atlas objects it creates. components/atlas_settings.py checks
`botfront:atlas` against these facts; components/atlas.py creates the objects. docs/atlas.md has the
sources and the reasons."""

from __future__ import annotations

import re

PROVIDERS = ("AWS", "GCP", "AZURE")
# Major versions Atlas offers for new dedicated clusters. Botfront 1.0.5 runs the 3.6 node driver
# (Meteor 2.0), which MongoDB's compatibility table marks "works, without the new features" for
# both; 4.4/5.0/6.0 are end of life and Atlas no longer creates them. docs/atlas.md has the detail.
MONGO_VERSIONS = ("7.0", "8.0")
DEFAULT_MONGO_VERSION = "8.0"
NODE_COUNTS = (3, 5, 7)
ANYWHERE = "0.0.0.0/0"

FREE = "M0"
FLEX = "FLEX"
RETIRED_SHARED = ("M2", "M5")

_DEDICATED = re.compile(r"^(?P<family>[MR])(?P<size>[0-9]{2,3})(?P<variant>_NVME|_GEN_2)?$")


def tier_of(instance_size: str) -> str:
    if instance_size == FREE:
        return "free"
    if instance_size == FLEX:
        return "flex"
    if instance_size in RETIRED_SHARED:
        return "retired"
    return "dedicated" if dedicated_size(instance_size) is not None else "unknown"


def dedicated_size(instance_size: str) -> tuple[str, int, str] | None:
    """(family, number, variant) of a dedicated tier name, e.g. ("M", 30, "_GEN_2")."""
    match = _DEDICATED.match(instance_size)
    if not match:
        return None
    family, size, variant = match.group("family"), int(match.group("size")), match.group("variant")
    if size < (10 if family == "M" else 40):
        return None
    return family, size, variant or ""


def default_cluster_name(stack: str) -> str:
    """`bf-<stack>` made a valid Atlas cluster name (letters, digits, '-'; at most 64)."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    return f"bf-{slug}"[:64].rstrip("-")


def default_project_name(stack: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stack).strip("-") or "stack"
    return f"botfront-{slug}"[:64]


# ASSUMPTION (Atlas docs "Cloud Providers" > cluster configuration options; the provider sources do
# not list tiers): the general (M) and low-CPU (R) tiers each cloud offers, and the RAM in GB of each
# size (the smallest figure among the clouds). Gen2 sizes (`_GEN_2`, e.g. M30_GEN_2) exist on AWS
# only ("AWS Gen2 dedicated clusters", M30_GEN_2 or greater):
# mongodb/terraform-provider-mongodbatlas@v2.16.0:docs/resources/advanced_cluster.md:764,769.
OFFERED = {
    "AWS": ((10, 20, 30, 40, 50, 60, 80, 140, 200, 300, 400, 700), (40, 50, 60, 80, 200, 300, 400, 700)),
    "GCP": ((10, 20, 30, 40, 50, 60, 80, 140, 200, 250, 300, 400), (40, 50, 60, 80, 200, 300, 400)),
    "AZURE": ((10, 20, 30, 40, 50, 60, 80, 90, 200, 300), (40, 50, 60, 80, 200, 300, 400)),
}
RAM_GB = {10: 2, 20: 4, 30: 7.5, 40: 15, 50: 30, 60: 60, 80: 120, 90: 172, 140: 180, 200: 240, 250: 360,
          300: 360, 400: 488, 700: 768}  # fmt: skip
# "The maximum value for disk storage cannot exceed 50 times the maximum RAM for the selected
# cluster": mongodb/terraform-provider-mongodbatlas@v2.16.0:docs/resources/advanced_cluster.md:779.
DISK_PER_RAM = 50
