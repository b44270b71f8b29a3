"""Effects of the day-2 keys on the planned objects: the real program under the SDK's mocks."""

from __future__ import annotations

from typing import Any

import pytest

from ops.bench import changed_resources, short
from ops.offline import Plan, run_program
from ops.plan import schema_errors
from tests.conftest import container, deployment, env_of, kubernetes_objects, plan_for

RESTORE = "bf-20240101T000000Z.archive.gz"
ACTIONS = {"image": "example/actions:1.0.0"}
DEPLOYMENT, CRON_JOB, JOB = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:batch/v1:Job",
)


def pod_specs(plan: Plan) -> dict[str, dict[str, Any]]:
    """Every pod template of the plan, by object name: Deployments, CronJobs and Jobs."""
    pods = {d.name: d.inputs["spec"]["template"]["spec"] for d in plan.of_type(DEPLOYMENT)}
    for cron in plan.of_type(CRON_JOB):
        pods[cron.name] = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for job in plan.of_type(JOB):
        pods[job.name] = job.inputs["spec"]["template"]["spec"]
    return pods


def assert_schema_valid(plan: Plan) -> None:
    for r in kubernetes_objects(plan):
        assert schema_errors(r.inputs) == [], r.name


# ---- imagePullSecrets -------------------------------------------------------------------------


def test_image_pull_secrets_on_every_pod_jobs_included() -> None:
    plan = plan_for("dev", actions=ACTIONS, restoreFrom=RESTORE, imagePullSecrets=["regcred", "quay"])
    pods = pod_specs(plan)
    assert {"botfront", "rasa", "duckling", "actions", "mongo", "mongo-backup"} <= set(pods)
    assert any(name.startswith("mongo-restore-") for name in pods)
    for name, pod in pods.items():
        assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "quay"}], name
    assert_schema_valid(plan)
    for name, pod in pod_specs(plan_for("dev")).items():
        assert "imagePullSecrets" not in pod, name


# ---- placement --------------------------------------------------------------------------------

TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "bots", "effect": "NoSchedule"}
ANTI_AFFINITY = {
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "topologyKey": "topology.kubernetes.io/zone",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "mongo"}},
                },
            }
        ]
    }
}


def test_placement_reaches_each_pod_with_service_fields_replacing_the_defaults() -> None:
    placement = {
        "default": {"nodeSelector": {"pool": "general"}, "tolerations": [TOLERATION]},
        "rasa": {"nodeSelector": {"pool": "highmem"}},
        "mongo": {"affinity": ANTI_AFFINITY},
        "jobs": {"nodeSelector": {"pool": "batch"}, "tolerations": []},
        "actions": {"tolerations": [{"operator": "Exists"}]},
    }
    plan = plan_for("dev", actions=ACTIONS, restoreFrom=RESTORE, placement=placement)
    pods = pod_specs(plan)
    assert pods["botfront"]["nodeSelector"] == {"pool": "general"}
    assert pods["botfront"]["tolerations"] == [TOLERATION]
    assert pods["duckling"]["nodeSelector"] == {"pool": "general"}
    assert pods["rasa"]["nodeSelector"] == {"pool": "highmem"}
    assert pods["rasa"]["tolerations"] == [TOLERATION]  # not set for rasa: the default's
    assert pods["actions"]["tolerations"] == [{"operator": "Exists"}]
    assert pods["mongo"]["affinity"] == ANTI_AFFINITY and pods["mongo"]["tolerations"] == [TOLERATION]
    jobs = [name for name in pods if name.startswith("mongo-") and name != "mongo"]
    assert len(jobs) == 2
    for name in jobs:
        assert pods[name]["nodeSelector"] == {"pool": "batch"}
        assert "tolerations" not in pods[name]  # an empty list replaces the default's: none
    assert_schema_valid(plan)


def test_user_affinity_is_merged_with_the_models_volume_co_location() -> None:
    """Release 1.0.3 writes models from botfront: botfront and rasa must share the RWO volume's
    node. The user's affinity is kept, and the stack's required pod-affinity term is added."""
    user = {
        **ANTI_AFFINITY,
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "topologyKey": "topology.kubernetes.io/zone",
                    "labelSelector": {"matchLabels": {"tier": "bots"}},
                }
            ]
        },
    }
    bare = pod_specs(plan_for("dev", release="1.0.3"))
    plan = plan_for("dev", release="1.0.3", placement={"default": {"affinity": user}})
    pods = pod_specs(plan)
    for name in ("botfront", "rasa"):
        own = bare[name]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert len(own) == 1 and own[0]["labelSelector"]["matchLabels"] == {
            "botfront.dev/shares-volume": "models"
        }
        merged = pods[name]["affinity"]
        assert merged["podAntiAffinity"] == ANTI_AFFINITY["podAntiAffinity"]
        assert merged["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [
            *user["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            *own,
        ]
    assert pods["duckling"]["affinity"] == user  # no volume: exactly the user's
    assert_schema_valid(plan)


def test_no_placement_no_scheduling_fields() -> None:
    for name, pod in pod_specs(plan_for("dev")).items():
        assert not {"nodeSelector", "tolerations", "affinity"} & set(pod), name


# ---- actions env / envFrom --------------------------------------------------------------------


def test_actions_env_and_env_from_on_the_actions_pod_only() -> None:
    actions = {
        **ACTIONS,
        "env": {"SHOP_API_URL": "https://shop.example.com"},
        "envFrom": [{"secretRef": {"name": "shop-credentials"}}, {"configMapRef": {"name": "shop"}}],
    }
    plan = plan_for("dev", actions=actions)
    env = env_of(plan, "actions")
    assert env["SHOP_API_URL"] == "https://shop.example.com" and env["BF_PROJECT_ID"] == "bf"
    assert container(plan, "actions")["envFrom"] == [
        {"secretRef": {"name": "shop-credentials"}},
        {"configMapRef": {"name": "shop"}},
    ]
    # checkov's CKV_K8S_35 is skipped (with the reason) only where secrets reach the environment.
    annotations = deployment(plan, "actions")["metadata"]["annotations"]
    assert any(v.startswith("CKV_K8S_35=") for v in annotations.values())
    for name in ("botfront", "rasa", "duckling"):
        assert "envFrom" not in container(plan, name)
    assert_schema_valid(plan)


def test_each_projects_actions_server_gets_its_own_env() -> None:
    projects = [
        {"id": "bf"},
        {"id": "shop", "actions": {**ACTIONS, "envFrom": [{"secretRef": {"name": "shop"}}]}},
    ]
    plan = plan_for("dev", actions={**ACTIONS, "env": {"WHO": "bf"}}, projects=projects)
    assert env_of(plan, "actions")["WHO"] == "bf"
    assert "WHO" not in env_of(plan, "actions-shop")
    assert container(plan, "actions-shop")["envFrom"] == [{"secretRef": {"name": "shop"}}]
    assert "envFrom" not in container(plan, "actions")


# ---- networkPolicy.extraEgress ----------------------------------------------------------------


def test_extra_egress_adds_policies_and_changes_none_of_the_others() -> None:
    extra = {
        "actions": [
            {"cidr": "10.20.0.0/16", "ports": [{"port": 5432}]},
            {"namespace": "shop", "podSelector": {"app": "api"}, "ports": [{"port": 8080}]},
        ],
        "rasa": [{"namespace": "monitoring", "ports": [{"port": 4317}, {"port": 53, "protocol": "UDP"}]}],
    }
    projects = [{"id": "bf", "environments": ["development", "production"]}]
    before = run_program("dev", {"actions": ACTIONS, "projects": projects})
    after = plan_for("dev", actions=ACTIONS, projects=projects, networkPolicy={"extraEgress": extra})
    diff = changed_resources(before, after)
    assert diff["changed"] == [] and diff["removed"] == []
    assert {short(u) for u in diff["added"]} == {
        "botfront:network:ExtraEgress extra-egress",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy extra-egress-actions",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy extra-egress-rasa",
    }
    policy = after.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "extra-egress-actions").inputs
    assert policy["metadata"]["namespace"] == "botfront-dev"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert policy["spec"]["podSelector"] == {
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["actions"]}]
    }
    assert policy["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
                    "podSelector": {"matchLabels": {"app": "api"}},
                }
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        },
    ]
    rasa = after.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "extra-egress-rasa").inputs["spec"]
    # Every Rasa instance of the stack.
    assert rasa["podSelector"]["matchExpressions"][0]["values"] == ["rasa", "rasa-bf-production"]
    assert rasa["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert_schema_valid(after)


def test_extra_egress_needs_network_policies_on() -> None:
    plan = plan_for(
        "dev",
        actions=ACTIONS,
        networkPolicy={
            "enabled": False,
            "extraEgress": {"actions": [{"cidr": "10.0.0.0/8", "ports": [{"port": 1}]}]},
        },
    )
    assert plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") == []


# ---- createNamespace --------------------------------------------------------------------------


def test_create_namespace_false_deploys_into_the_existing_namespace() -> None:
    plan = plan_for("dev", createNamespace=False)
    objects = kubernetes_objects(plan)
    assert [r for r in objects if r.inputs["kind"] == "Namespace"] == []
    assert {r.inputs["metadata"]["namespace"] for r in objects} == {"botfront-dev"}
    assert plan.outputs["namespace"] == "botfront-dev"
    # The same objects as with a namespace of the stack's own, less the Namespace.
    created = plan_for("dev")
    assert len(kubernetes_objects(created)) == len(objects) + 1
    assert [r.name for r in kubernetes_objects(created) if r.inputs["kind"] == "Namespace"] == [
        "botfront-dev"
    ]


# ---- database.mode external -------------------------------------------------------------------

EXTERNAL = {
    "mode": "external",
    "name": "bots",
    "urlSecret": {"name": "team-mongo", "key": "url"},
    "oplogUrlSecret": {"name": "team-mongo", "key": "oplog-url"},
}


def test_external_database_creates_nothing_and_reads_the_users_secret() -> None:
    plan = plan_for("dev", database=EXTERNAL, backup=None, release="0.27.5")
    names = {(r.inputs["kind"], r.name) for r in kubernetes_objects(plan)}
    assert not {n for n in names if n[1].startswith("mongo")}, names
    assert not [r for r in plan.resources if r.type == "botfront:mongo:InClusterMongo"]
    assert [r.name for r in plan.resources if r.type == "botfront:database:ExternalDatabase"] == ["database"]
    for service in ("botfront", "botfront-api"):
        assert env_of(plan, service)["MONGO_URL"] == ("secret", "team-mongo", "url")
    assert env_of(plan, "botfront")["MONGO_OPLOG_URL"] == ("secret", "team-mongo", "oplog-url")
    stack_secret = plan.get("kubernetes:core/v1:Secret", "botfront-secrets").secret_inputs["stringData"]
    assert "mongo-url" not in stack_secret and "mongo-oplog-url" not in stack_secret
    assert "mongoUrl" not in plan.outputs
    assert_schema_valid(plan)


def test_external_database_without_oplog() -> None:
    database = {k: v for k, v in EXTERNAL.items() if k != "oplogUrlSecret"}
    plan = plan_for("dev", database=database, backup=None)
    assert "MONGO_OPLOG_URL" not in env_of(plan, "botfront")


def test_external_database_refuses_backup() -> None:
    from components.validation import ConfigError

    with pytest.raises(ConfigError) as info:
        run_program("dev", {"database": EXTERNAL})  # dev has a backup block
    assert any(p.startswith("botfront:backup: got ") and "external" in p for p in info.value.problems)


# ---- rotate -----------------------------------------------------------------------------------


def rotation_radius(rotate: dict[str, int], **overrides: Any) -> set[str]:
    diff = changed_resources(plan_for("dev", **overrides), plan_for("dev", rotate=rotate, **overrides))
    return {short(u) for u in diff["changed"] + diff["added"] + diff["removed"]}


def test_rotating_the_api_key_rolls_exactly_its_readers() -> None:
    assert rotation_radius({"apiKey": 1}, release="0.27.5") == {
        "random:index/randomPassword:RandomPassword secrets-graphql-api-key",
        "kubernetes:core/v1:Secret botfront-secrets",
        "kubernetes:apps/v1:Deployment botfront",
        "kubernetes:apps/v1:Deployment rasa",
        # botfront-api reads only MONGO_URL: it stays.
        # The verification Job reads the key and re-runs whenever a workload it checks changes.
        "kubernetes:batch/v1:Job verify",
    }


def test_rotating_rasa_tokens_rolls_every_rasa_and_nothing_else() -> None:
    projects = [{"id": "bf", "environments": ["development", "production"]}]
    assert rotation_radius({"rasaToken": 1}, projects=projects) == {
        "random:index/randomPassword:RandomPassword secrets-rasa-auth-token",
        "random:index/randomPassword:RandomPassword secrets-rasa-auth-token-bf-production",
        "kubernetes:core/v1:Secret botfront-secrets",
        "kubernetes:apps/v1:Deployment rasa",
        "kubernetes:apps/v1:Deployment rasa-bf-production",
        "kubernetes:batch/v1:Job verify",  # reads the tokens; re-runs with the workloads
    }


def test_a_new_generation_is_a_new_value_and_zero_changes_nothing() -> None:
    plan = plan_for("dev", rotate={"apiKey": 2})
    password = plan.get("random:index/randomPassword:RandomPassword", "secrets-graphql-api-key")
    assert password.inputs["keepers"] == {"generation": "2"}
    first = plan_for("dev", rotate={"apiKey": 1}).get("kubernetes:core/v1:Secret", "botfront-secrets")
    second = plan.get("kubernetes:core/v1:Secret", "botfront-secrets")
    assert first.secret_inputs["stringData"]["api-key"] != second.secret_inputs["stringData"]["api-key"]
    assert rotation_radius({"apiKey": 0, "rasaToken": 0}) == set()


# ---- per-pod checksums ------------------------------------------------------------------------


def test_each_pods_checksum_covers_only_the_keys_it_reads() -> None:
    """mailUrl is read by botfront only: setting it changes botfront's checksum and no other."""
    before = run_program("dev", {"release": "0.27.5"})
    after = run_program("dev", {"release": "0.27.5"}, secrets={"mailUrl": "smtp://u:p@mail.example.com"})

    def checksums(plan: Plan) -> dict[str, str | None]:
        return {
            d.name: (d.inputs["spec"]["template"].get("metadata", {}).get("annotations") or {}).get(
                "checksum/secrets"
            )
            for d in plan.of_type(DEPLOYMENT)
        }

    old, new = checksums(before), checksums(after)
    assert old["botfront"] != new["botfront"]
    assert {k: v for k, v in old.items() if k != "botfront"} == {
        k: v for k, v in new.items() if k != "botfront"
    }
    assert old["botfront-api"] is not None and old["rasa"] is not None  # they do have checksums


# ---- database.name changed on an in-cluster database --------------------------------------------


def test_a_changed_database_name_warns_with_the_migration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The record keeps the first name (ignore_changes): a state holding 'bf' while the stack now
    says 'bots' warns, naming both and how to migrate; the same name does not."""
    import pulumi

    import ops.offline

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    real = ops.offline.OfflineMocks.new_resource

    def recorded_state(self: Any, args: Any) -> Any:
        resource_id, state = real(self, args)
        if args.name == "database-name-record":
            state = {**state, "keepers": {"database": "bf"}}  # what an earlier deploy left
        return resource_id, state

    monkeypatch.setattr(ops.offline.OfflineMocks, "new_resource", recorded_state)
    plan = run_program("dev", {"database": {"mode": "incluster", "name": "bots"}})
    record = plan.get("random:index/randomId:RandomId", "database-name-record")
    assert record.inputs["keepers"] == {"database": "bots"}
    (warning,) = [w for w in warnings if "database.name" in w]
    # The postStart hook moves the app user's rights to the new name (components/mongo.py): Botfront
    # comes up on an empty database; the migration goes through a backup and restoreFrom.
    assert "from 'bf' to 'bots'" in warning and "EMPTY database" in warning
    assert (
        "back up first" in warning
        and "restoreFrom" in warning
        and "set database.name back to 'bf'" in warning
    )
    warnings.clear()
    run_program("dev")
    assert [w for w in warnings if "database.name" in w] == []


def test_the_database_name_record_is_only_for_in_cluster_databases() -> None:
    assert plan_for("dev").of_type("random:index/randomId:RandomId")
    for plan in (plan_for("prod"), plan_for("dev", database=EXTERNAL, backup=None)):
        assert plan.of_type("random:index/randomId:RandomId") == []
