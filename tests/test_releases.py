"""The release catalog: exact pins from the facts file, and what counts as pinned."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.releases import CATALOG, DEFAULT_RELEASE, pinning_problem


def test_catalog_has_the_supported_releases_with_their_exact_tags() -> None:
    assert DEFAULT_RELEASE == "1.0.5"
    expected = {
        "1.0.5": ("botfront/botfront:v1.0.5", "botfront/rasa-for-botfront:v2.3.3-bf.3", None),
        "1.0.4": ("botfront/botfront:v1.0.4", "botfront/rasa-for-botfront:v2.3.3-bf.3-rc.2", None),
        "1.0.3": ("botfront/botfront:v1.0.3", "botfront/rasa-for-botfront:v2.2.5-bf.5", None),
        "0.27.5": (
            "botfront/botfront:v0.27.5",
            "botfront/rasa-for-botfront:v1.10.16-bf.1",
            "botfront/botfront-api:v0.27.5",
        ),
    }
    assert {v: (r.botfront, r.rasa, r.botfront_api) for v, r in CATALOG.items()} == expected


@pytest.mark.parametrize("release", sorted(CATALOG))
def test_every_catalog_image_is_pinned(release: str) -> None:
    for service, image in CATALOG[release].images.items():
        assert pinning_problem(image) is None, (release, service, image)


def test_duckling_and_mongo_defaults_are_pinned_and_mongo_is_4_4() -> None:
    images = CATALOG["1.0.5"].images
    assert images["duckling"].startswith("rasa/duckling:0.")
    assert images["mongo"] == "mongo:4.4.30"  # CVE-2025-14847 is fixed from 4.4.30


def test_only_0_2x_releases_have_botfront_api() -> None:
    assert {v for v, r in CATALOG.items() if r.botfront_api} == {"0.27.5"}
    assert "botfrontApi" in CATALOG["0.27.5"].images
    assert "botfrontApi" not in CATALOG["1.0.5"].images


@pytest.mark.parametrize(
    "image",
    [
        "botfront/botfront:v1.0.5",
        "registry.example.com:5000/team/rasa:2.3.3-bf.3",
        "mongo:4.4.29",
        "ghcr.io/acme/actions@sha256:" + "a" * 64,
        "ghcr.io/acme/actions:1.2@sha256:" + "0123456789abcdef" * 4,
    ],
)
def test_pinned_references_are_accepted(image: str) -> None:
    assert pinning_problem(image) is None


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("botfront/duckling:latest", "latest"),
        ("botfront/duckling", "no tag"),
        ("registry.example.com:5000/rasa", "no tag"),
        ("acme/actions@sha256:abc", "malformed digest"),
        ("acme/actions@sha1:" + "a" * 40, "malformed digest"),
        ("", "non-empty"),
        (" mongo:4.4", "non-empty"),
        ("UPPER/case:1.0", "invalid repository"),
    ],
)
def test_unpinned_references_are_refused_with_the_reason(image: str, reason: str) -> None:
    problem = pinning_problem(image)
    assert problem is not None and reason in problem


@given(
    repo=st.from_regex(r"[a-z0-9]{1,10}(/[a-z0-9]{1,10})?", fullmatch=True),
    tag=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
)
def test_any_tag_but_latest_pins_an_image(repo: str, tag: str) -> None:
    problem = pinning_problem(f"{repo}:{tag}")
    assert (problem is None) == (tag != "latest")


CITATION = re.compile(r"^[\w.-]+/[\w.-]+@[\w.-]+:\S+")


@pytest.mark.parametrize("release", sorted(CATALOG))
def test_every_fact_of_a_release_cites_its_source_at_the_release_tags(release: str) -> None:
    r = CATALOG[release]
    facts = {
        "images",
        "botfront_writes_models",
        "regression_test_channel",
        "health_open",
        "rasa_token",
        "calls",
        "engineio",
    }
    assert set(r.sources) == facts
    tag = r.botfront.rsplit(":", 1)[1]
    rasa_tag = r.rasa.rsplit(":", 1)[1]
    for fact, source in r.sources.items():
        for citation in source.split(", "):
            assert CITATION.match(citation), (fact, citation)
            assert f"@{tag}:" in citation or f"@{rasa_tag}:" in citation, (fact, citation)
    for call in (*r.calls, *r.external_calls):
        assert call.why
        for citation in call.cited.split(", "):
            assert CITATION.match(citation), (call, citation)
            # Each call is cited at this release's own tags, not another release's.
            assert f"@{tag}:" in citation or f"@{rasa_tag}:" in citation, (release, call, citation)


# ---- every citation of botfront's repositories names a file that exists at that tag -----------

MIRRORS = Path("/work/.mirror")
UPSTREAM = re.compile(
    r"botfront/(botfront|rasa-for-botfront)@([A-Za-z0-9_.-]+):([A-Za-z0-9_./-]*[A-Za-z0-9_/-])"
)
ROOT = Path(__file__).resolve().parent.parent


def _citations() -> list[tuple[str, str, str, str]]:
    """(where, repository, tag, path) of every full `botfront/<repo>@TAG:PATH` citation: the
    catalog's facts and calls, and the text of the program and its docs."""
    found: list[tuple[str, str, str, str]] = []
    for version, r in CATALOG.items():
        texts = [*r.sources.values(), *(c.cited for c in (*r.calls, *r.external_calls))]
        for text in texts:
            found += [(f"CATALOG[{version}]", *m.groups()) for m in UPSTREAM.finditer(text)]
    files = [ROOT / "__main__.py", ROOT / "README.md", *ROOT.glob("components/*.py"), *ROOT.glob("docs/*.md")]
    for file in files:
        found += [(file.name, *m.groups()) for m in UPSTREAM.finditer(file.read_text())]
    return found


def test_citations_are_collected() -> None:
    # The collector itself: it sees the catalog's calls and the comments alike.
    citations = _citations()
    assert ("CATALOG[0.27.5]", "botfront", "v0.27.5", "api/server/utils.js") in citations
    assert any(where == "releases.py" and tag == "v2.3.3-bf.3" for where, _, tag, _ in citations)
    assert len({c[1:] for c in citations}) > 40


@pytest.mark.parametrize("repo", ["botfront", "rasa-for-botfront"])
def test_every_citation_exists_at_its_tag_in_the_mirror(repo: str) -> None:
    git_dir = MIRRORS / f"botfront+{repo}" / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no mirror of botfront/{repo} at {git_dir} (CI has none): citations unchecked")
    missing = []
    for where, cited_repo, tag, path in sorted(set(_citations())):
        if cited_repo != repo:
            continue
        spec = f"{tag}:{path.rstrip('/')}"
        result = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", spec], capture_output=True)
        if result.returncode != 0:
            missing.append(f"{where}: botfront/{repo}@{spec}")
    assert missing == []


def test_release_facts_read_at_the_tags() -> None:
    # Only v1.0.5's apollo.js exempts the health check; only 0.27.5 trains without a token and
    # calls botfront-api; 0.27.5's Rasa has no regression-test channel.
    assert {v for v, r in CATALOG.items() if r.health_open} == {"1.0.5"}
    assert {v for v, r in CATALOG.items() if not r.rasa_token} == {"0.27.5"}
    assert {v for v, r in CATALOG.items() if any(c.target == "botfront-api" for c in r.calls)} == {"0.27.5"}
    assert {v for v, r in CATALOG.items() if not r.regression_test_channel} == {"0.27.5"}
    assert {v for v, r in CATALOG.items() if r.botfront_writes_models} == {"1.0.3", "0.27.5"}
