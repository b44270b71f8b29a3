"""How a `botfront:rotate` generation reaches pulumi-random: the `keepers` of a generated secret."""

from __future__ import annotations

from collections.abc import Mapping


def keepers(rotate: Mapping[str, int], key: str) -> dict[str, str] | None:
    """None until the first bump, so existing stacks keep their values (adding keepers to a
    RandomPassword replaces it). Any change of the generation regenerates, going back to 0
    included: generations are meant to only go up."""
    generation = rotate.get(key, 0)
    return {"generation": str(generation)} if generation else None
