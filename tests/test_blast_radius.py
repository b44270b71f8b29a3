"""Canonical one-line changes touch exactly what reads them, and never data or Services."""

from __future__ import annotations

import itertools

import pytest

from ops.bench import CANONICAL_CHANGES, blast_radius, footprint
from ops.offline import run_program

EXPECTED = {
    "bump the rasa image": {"kubernetes:apps/v1:Deployment rasa"},
    "tracker.maxEvents 100 -> 50": {
        "kubernetes:core/v1:Secret rasa-config",
        "kubernetes:apps/v1:Deployment rasa",
    },
    "rootUrl (rasaUrl derived)": {
        "kubernetes:apps/v1:Deployment botfront",
        "kubernetes:networking.k8s.io/v1:Ingress botfront",
        # The derived rasaUrl reads rootUrl: Rasa's webchat base_url and its host.
        "kubernetes:core/v1:Secret rasa-config",
        "kubernetes:apps/v1:Deployment rasa",
        "kubernetes:networking.k8s.io/v1:Ingress rasa",
    },
    "rootUrl (rasaUrl explicit)": {
        "kubernetes:apps/v1:Deployment botfront",
        "kubernetes:networking.k8s.io/v1:Ingress botfront",
    },
    "botfront replicas 2 -> 3": {"kubernetes:apps/v1:Deployment botfront"},
    # Only new objects and the shared ones that list every Rasa: each pod's checksum covers the
    # keys it reads, so the new token in botfront-secrets rolls no existing workload.
    "add a project": {
        "botfront:workload:Workload rasa-shop-production",
        "kubernetes:apps/v1:Deployment rasa-shop-production",
        "kubernetes:core/v1:Service rasa-shop-production",
        "kubernetes:core/v1:PersistentVolumeClaim models-shop-production",
        "kubernetes:core/v1:Secret rasa-config-shop-production",
        "kubernetes:networking.k8s.io/v1:Ingress rasa-shop-production",
        "random:index/randomPassword:RandomPassword secrets-rasa-auth-token-shop-production",
        "kubernetes:core/v1:Secret botfront-secrets",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-to-rasa-shop-production",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-from-rasa-shop-production",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-to-botfront",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-from-botfront",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-to-duckling",
    },
    # botfront reads MAIL_URL and may now reach SMTP; rasa (API key, token) does not roll.
    "set mailUrl": {
        "kubernetes:core/v1:Secret botfront-secrets",
        "kubernetes:apps/v1:Deployment botfront",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy allow-from-botfront",
    },
}


@pytest.mark.parametrize("change", sorted(CANONICAL_CHANGES))
def test_blast_radius_of_canonical_changes(change: str) -> None:
    result = blast_radius(change)
    assert set(result["resources"]) == EXPECTED[change]
    assert result["count"] == len(EXPECTED[change])
    assert result["data_or_service_touched"] == []
    # Every canonical change reaches a workload, so the verification Job runs again (apart).
    assert result["verification_reruns"] is True


def test_adding_a_project_leaves_every_existing_workload_untouched() -> None:
    from ops.bench import CANONICAL_CHANGES, changed_resources, is_verification

    stack, overrides = CANONICAL_CHANGES["add a project"]
    diff = changed_resources(run_program(stack), run_program(stack, overrides))
    kinds = ("Deployment", "StatefulSet", "CronJob", "Job", "Service", "PersistentVolumeClaim")
    touched = [u for u in diff["changed"] + diff["removed"] if any(f":{k}::" in u for k in kinds)]
    # The verification Job re-runs by design (it checks the new Rasa too), and only it.
    assert [u for u in touched if not is_verification(u)] == []
    assert touched and all(is_verification(u) for u in touched)


def test_ephemeral_footprint_is_at_most_half_of_prod_and_has_no_atlas() -> None:
    prod, ephemeral = footprint(run_program("prod")), footprint(run_program("ephemeral"))
    assert ephemeral["cpu"] <= prod["cpu"] / 2
    assert ephemeral["memory_gib"] <= prod["memory_gib"] / 2
    assert ephemeral["atlas_cluster"] is False and prod["atlas_cluster"] is True


def test_default_requests_meet_the_installation_document() -> None:
    dev = footprint(run_program("dev"))
    assert dev["cpu"] >= dev["document_cpu"] and dev["memory_gib"] >= dev["document_memory_gib"]


def test_each_additional_rasa_instance_adds_the_same_resources() -> None:
    from ops.bench import scaling

    points = scaling(runs=1)["points"]
    per_pair = {
        (b["resources"] - a["resources"]) / (b["pairs"] - a["pairs"]) for a, b in itertools.pairwise(points)
    }
    # Deployment, Service, PVC, config Secret, Ingress, two NetworkPolicies, the Workload
    # component, the auth token and the verification Job's ingress policy on the new Rasa: the
    # same for every pair.
    assert per_pair == {10}
