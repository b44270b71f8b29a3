"""The whole program, per stack file: invariants that must hold for every environment, and
the wiring of each service (images, env, mounts, ports, secret references, Rasa config)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import yaml

from components.model import SECRET_KEYS
from components.releases import CATALOG, pinning_problem
from ops.offline import Plan, run_program
from ops.plan import schema_errors
from tests.conftest import (
    STACKS,
    USER_SECRETS,
    container,
    deployment,
    env_of,
    kubernetes_objects,
    leaked_secrets,
    plan_for,
    plan_with_user_secrets,
    user_secret_values,
)

SECRET_ENV = {
    "MONGO_URL",
    "MONGO_OPLOG_URL",
    "API_KEY",
    "AUTH_TOKEN",
    "MAIL_URL",
    "MONGO_INITDB_ROOT_PASSWORD",
    "MONGO_APP_PASSWORD",
}
SERVICE_PORTS = {"botfront": 3000, "rasa": 5005, "duckling": 8000, "actions": 5055, "botfront-api": 8080}


def stack_config(stack: str) -> dict[str, Any]:
    from ops.offline import load_stack_config

    values, _ = load_stack_config(stack)
    return {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("botfront:")}


def pod_specs(plan: Plan) -> list[dict[str, Any]]:
    return [d.inputs["spec"]["template"]["spec"] for d in plan.of_type("kubernetes:apps/v1:Deployment")]


def rasa_files(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    data = plan.get("kubernetes:core/v1:Secret", "rasa-config").secret_inputs["stringData"]
    return yaml.safe_load(data["endpoints.yml"]), yaml.safe_load(data["credentials.yml"])


# ---- invariants, checked independently on every stack file ------------------------------------


def test_every_manifest_is_schema_valid(stack_plan: Plan) -> None:
    errors = {r.name: schema_errors(r.inputs) for r in kubernetes_objects(stack_plan)}
    assert {k: v for k, v in errors.items() if v} == {}
    assert len(errors) >= 7


def test_every_image_is_pinned(stack_plan: Plan) -> None:
    for pod in pod_specs(stack_plan):
        for c in pod["containers"] + pod.get("initContainers", []):
            assert pinning_problem(c["image"]) is None, c["image"]


def test_no_generated_secret_appears_in_any_manifest_or_output(stack_plan: Plan) -> None:
    text = json.dumps(stack_plan.as_json())
    assert stack_plan.generated_secrets
    assert leaked_secrets(stack_plan, text) == []
    assert {"rasaAuthToken", "graphqlApiKey", "mongoUrl"} <= stack_plan.secret_outputs


def test_every_user_secret_key_has_a_sentinel() -> None:
    assert set(USER_SECRETS) == set(SECRET_KEYS)


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_appears_in_any_manifest_output_or_log_line(stack: str) -> None:
    """Generated secrets and every user secret (SECRET_KEYS, set to sentinels): not in the plan as it
    is printed (inputs masked where the SDK marks them secret), the outputs, or any log line."""
    logged = plan_with_user_secrets(stack)
    plan = logged.plan
    assert plan.generated_secrets and logged.logs  # the chatbaseApiKey warning at least
    for text in [json.dumps(plan.as_json()), json.dumps(plan.outputs, default=str), *logged.logs]:
        assert leaked_secrets(plan, text, user_secret_values()) == [], text[:200]


SECRET_DATA = ("data", "stringData")


@pytest.mark.parametrize("stack", STACKS)
def test_user_secrets_reach_only_the_data_of_kubernetes_secrets(stack: str) -> None:
    """Unmasked: a sentinel may sit in a Secret's data or stringData (the Kubernetes SDK makes
    them secret: pulumi-kubernetes 4.34.2 pulumi_kubernetes/core/v1/Secret.py _internal_init,
    Output.secret and additional_secret_outputs), nowhere else,
    not even in an input that is itself marked secret."""
    plan = plan_with_user_secrets(stack).plan
    holders = set()
    for r in plan.resources:
        inputs = r.secret_inputs
        if r.type == "kubernetes:core/v1:Secret":
            for key in SECRET_DATA:
                if any(v in json.dumps(inputs.get(key)) for v in user_secret_values()):
                    holders.add(r.name)
                    assert r.inputs.get(key) is not None and "sentinel" not in json.dumps(r.inputs[key])
            inputs = {k: v for k, v in inputs.items() if k not in SECRET_DATA}
        # Generated secrets do sit unmasked in secret inputs (an Atlas user's password): not checked.
        text = json.dumps(inputs)
        assert [v for v in user_secret_values() if v in text or quote(v, safe="") in text] == [], r.name
    # Where they do go: MAIL_URL in the application Secret, the key in Rasa's tracker store config.
    assert {"botfront-secrets", "rasa-config"} <= holders


def test_secret_env_vars_use_secret_key_refs_to_existing_keys(stack_plan: Plan) -> None:
    secrets = {
        r.inputs["metadata"]["name"]: set(r.secret_inputs.get("stringData", {}))
        for r in stack_plan.of_type("kubernetes:core/v1:Secret")
    }
    seen = 0
    for pod in pod_specs(stack_plan):
        for c in pod["containers"]:
            for env in c.get("env", []):
                if env["name"] in SECRET_ENV:
                    seen += 1
                    assert "value" not in env, env
                    ref = env["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in secrets[ref["name"]], ref
    assert seen >= 4


def test_everything_lives_in_the_stack_namespace_through_the_explicit_provider(stack_plan: Plan) -> None:
    namespace = stack_config(stack_plan.stack)["namespace"]
    for r in kubernetes_objects(stack_plan):
        assert r.provider and "pulumi:providers:kubernetes" in r.provider, r.name
        if r.inputs["kind"] != "Namespace":
            assert r.inputs["metadata"]["namespace"] == namespace, r.name


def test_services_have_botfront_default_names_and_ports(stack_plan: Plan) -> None:
    services = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["ports"][0]["port"]
        for r in stack_plan.of_type("kubernetes:core/v1:Service")
    }
    for name, port in services.items():
        if name != "mongo":
            assert SERVICE_PORTS[name] == port
    assert {"botfront", "rasa"} <= set(services)
    config = stack_config(stack_plan.stack)
    assert ("duckling" in services) == (json.loads(config.get("duckling", "true")) is True)


def test_models_volume_is_mounted_where_models_are_written(stack_plan: Plan) -> None:
    config = stack_config(stack_plan.stack)
    models = json.loads(config["models"])
    release = CATALOG[config.get("release", "1.0.5")]
    claim = stack_plan.get("kubernetes:core/v1:PersistentVolumeClaim", "models").inputs
    assert claim["spec"]["accessModes"] == [models.get("accessMode", "ReadWriteOnce")]
    assert {"name": "models", "mountPath": "/app/models"} in container(stack_plan, "rasa")["volumeMounts"]
    botfront_mounts = container(stack_plan, "botfront").get("volumeMounts", [])
    # Botfront <= 1.0.3 writes the trained model to the volume; later Rasa stores its own.
    assert (
        {"name": "models", "mountPath": "/app/models"} in botfront_mounts
    ) == release.botfront_writes_models
    rasa = deployment(stack_plan, "rasa")["spec"]
    read_write_once = models.get("accessMode", "ReadWriteOnce") == "ReadWriteOnce"
    assert (rasa["strategy"]["type"] == "Recreate") == read_write_once
    shares_node = read_write_once and release.botfront_writes_models
    assert ("affinity" in rasa["template"]["spec"]) == shares_node


def test_releases_that_write_models_share_the_volume_and_node() -> None:
    plan = plan_for("dev", release="1.0.3")
    for name in ("botfront", "rasa"):
        assert {"name": "models", "mountPath": "/app/models"} in container(plan, name)["volumeMounts"]
        affinity = deployment(plan, name)["spec"]["template"]["spec"]["affinity"]["podAffinity"]
        (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["labelSelector"]["matchLabels"] == {"botfront.dev/shares-volume": "models"}


def test_data_is_protected_exactly_when_the_stack_says_so(stack_plan: Plan) -> None:
    protect = json.loads(stack_config(stack_plan.stack).get("protect", "true"))
    holders = [
        r
        for r in stack_plan.resources
        if r.type in ("kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace")
    ]
    assert holders
    for r in holders:
        assert (r.protect, r.retain_on_delete) == (protect, protect), r.name
    if not protect:
        assert not any(r.protect or r.retain_on_delete for r in stack_plan.resources)


def test_rasa_config_matches_the_stack(stack_plan: Plan) -> None:
    tracker = json.loads(stack_config(stack_plan.stack).get("tracker", "{}"))
    endpoints, credentials = rasa_files(stack_plan)
    assert endpoints["tracker_store"]["max_events"] == tracker.get("maxEvents", 100)
    assert endpoints["tracker_store"]["tracker_persist_time"] == tracker.get("persistTime", 3600)
    webchat = credentials["rasa_addons.core.channels.webchat.WebchatInput"]
    assert webchat["base_url"] == stack_plan.outputs["rasaUrl"]


def test_ingresses_route_public_hosts_to_the_services(stack_plan: Plan) -> None:
    ingresses = {r.name: r.inputs for r in stack_plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")}
    expected = {"botfront": stack_plan.outputs["botfrontUrl"], "rasa": stack_plan.outputs["rasaUrl"]}
    assert set(ingresses) == set(expected)
    for name, url in expected.items():
        (rule,) = ingresses[name]["spec"]["rules"]
        assert rule["host"] == urlsplit(url).hostname
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": name, "port": {"number": SERVICE_PORTS[name]}}
        assert ingresses[name]["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    # Only Rasa's channel paths are public; its HTTP API is for Botfront inside the cluster.
    paths = [(p["path"], p["pathType"]) for p in ingresses["rasa"]["spec"]["rules"][0]["http"]["paths"]]
    assert paths == [("/socket.io/", "Prefix"), ("/webhooks/", "Prefix")]


def test_every_deployment_has_probes_resources_and_no_token_mount(stack_plan: Plan) -> None:
    for pod in pod_specs(stack_plan):
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(c)
            assert c["readinessProbe"] != c["livenessProbe"]
            assert set(c["resources"]) == {"requests", "limits"}


# ---- wiring of each service (dev stack and variations) ----------------------------------------


def test_botfront_env_follows_the_installation_document() -> None:
    plan = plan_for("dev")
    env = env_of(plan, "botfront")
    assert env == {
        "ROOT_URL": "https://botfront.dev.example.com",
        "PORT": "3000",
        "MONGO_URL": ("secret", "botfront-secrets", "mongo-url"),
        "MONGO_OPLOG_URL": ("secret", "botfront-secrets", "mongo-oplog-url"),
        "API_KEY": ("secret", "botfront-secrets", "api-key"),
        "BF_PROJECT_ID": "bf",
    }
    probes = container(plan, "botfront")
    assert probes["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_rasa_env_and_config_files() -> None:
    plan = plan_for("dev")
    env = env_of(plan, "rasa")
    assert env["BF_URL"] == "http://botfront:3000/graphql"
    assert env["AUTH_TOKEN"] == ("secret", "botfront-secrets", "rasa-auth-token")
    assert env["API_KEY"] == ("secret", "botfront-secrets", "api-key")
    assert env["RASA_DUCKLING_HTTP_URL"] == "http://duckling:8000"
    assert (env["BF_PROJECT_ID"], env["BOTFRONT_ENV"], env["MODEL_PATH"]) == (
        "bf",
        "development",
        "/app/models",
    )
    c = container(plan, "rasa")
    assert c["image"] == CATALOG["1.0.5"].rasa and c["command"][:2] == ["python", "-c"] and "args" not in c
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/app/endpoints.yml"]["subPath"] == "endpoints.yml"
    assert mounts["/app/credentials.yml"]["subPath"] == "credentials.yml"
    endpoints, _ = rasa_files(plan)
    assert "action_endpoint" not in endpoints


def test_the_secret_holds_every_credential_the_services_read() -> None:
    plan = plan_for("dev")
    secret = plan.get("kubernetes:core/v1:Secret", "botfront-secrets").secret_inputs["stringData"]
    assert set(secret) == {"api-key", "rasa-auth-token", "mongo-url", "mongo-oplog-url"}
    assert secret["mongo-url"].startswith("mongodb://botfront:") and "/bf?" in secret["mongo-url"]
    assert secret["api-key"] in plan.generated_secrets


def test_release_0_27_5_adds_botfront_api_and_keeps_the_token_off_the_command_line() -> None:
    plan = plan_for("dev", release="0.27.5")
    assert container(plan, "botfront-api")["image"] == "botfront/botfront-api:v0.27.5"
    assert env_of(plan, "botfront-api")["MONGO_URL"] == ("secret", "botfront-secrets", "mongo-url")
    assert container(plan, "botfront-api")["readinessProbe"]["httpGet"]["path"] == "/health-check"
    service = plan.get("kubernetes:core/v1:Service", "botfront-api").inputs
    assert service["spec"]["ports"][0]["port"] == 8080
    rasa = container(plan, "rasa")
    assert rasa["image"] == "botfront/rasa-for-botfront:v1.10.16-bf.1"
    assert env_of(plan, "botfront")["MODELS_LOCAL_PATH"] == "/app/models/"
    errors = [e for r in kubernetes_objects(plan) for e in schema_errors(r.inputs)]
    assert errors == []


def test_actions_service_and_action_endpoint_when_an_image_is_given() -> None:
    plan = plan_for("dev", actions={"image": "ghcr.io/acme/bot-actions:2.1.0"})
    assert container(plan, "actions")["image"] == "ghcr.io/acme/bot-actions:2.1.0"
    assert env_of(plan, "actions")["BF_URL"] == "http://botfront:3000/graphql"
    endpoints, _ = rasa_files(plan)
    assert endpoints["action_endpoint"] == {"url": "http://actions:5055/webhook"}


def test_writable_places_for_images_that_write_outside_their_volumes() -> None:
    plan = plan_for("dev")
    duckling = container(plan, "duckling")
    # No access or error log files, so no log/ directory on the read-only root.
    assert duckling["command"] == ["duckling-example-exe", "-p", "8000", "--no-access-log", "--no-error-log"]
    assert duckling["securityContext"]["readOnlyRootFilesystem"] is True
    assert env_of(plan, "rasa")["HOME"] == "/tmp"
    # ~/.config is under HOME=/tmp: no emptyDir at /.config.
    assert [m["mountPath"] for m in container(plan, "rasa")["volumeMounts"] if m["name"] != "models"] == [
        "/app/endpoints.yml",
        "/app/credentials.yml",
        "/tmp",
    ]


def test_no_duckling_means_no_service_and_no_duckling_url() -> None:
    plan = plan_for("dev", duckling=False)
    assert not [r for r in plan.resources if r.name == "duckling"]
    assert "RASA_DUCKLING_HTTP_URL" not in env_of(plan, "rasa")


def test_mail_url_is_a_secret_reference_and_never_written() -> None:
    plan = run_program("dev", secrets={"mailUrl": "smtp://user:hunter2@smtp.example.com:587"})
    assert env_of(plan, "botfront")["MAIL_URL"] == ("secret", "botfront-secrets", "mail-url")
    assert "hunter2" not in json.dumps(plan.as_json())


def test_oplog_off_removes_the_oplog_url() -> None:
    plan = plan_for("dev", database={"mode": "incluster", "name": "bf", "oplog": False})
    assert "MONGO_OPLOG_URL" not in env_of(plan, "botfront")


def test_config_checksums_roll_only_the_pods_that_read_the_change() -> None:
    before, after = plan_for("dev"), plan_for("dev", tracker={"maxEvents": 20, "persistTime": 3600})

    def annotations(plan: Plan, name: str) -> dict[str, str]:
        return deployment(plan, name)["spec"]["template"]["metadata"].get("annotations", {})

    assert (
        annotations(before, "rasa")["checksum/rasa-config"]
        != annotations(after, "rasa")["checksum/rasa-config"]
    )
    assert annotations(before, "botfront") == annotations(after, "botfront")


@pytest.mark.parametrize("release", sorted(v for v in CATALOG if CATALOG[v].rasa_token))
def test_rasa_token_is_in_no_pod_spec_and_no_command_line(release: str) -> None:
    plan = plan_for("dev", release=release)
    rasa = container(plan, "rasa")
    # The images' own CMD would expand `--auth-token $AUTH_TOKEN` into argv: replaced by a
    # launcher that hands the token to Rasa's parser inside Python.
    command = rasa["command"]
    assert command[:2] == ["python", "-c"] and "args" not in rasa
    assert "$AUTH_TOKEN" not in " ".join(command) and "os.environ['AUTH_TOKEN']" in command[2]
    assert "--debug" not in command[2]
    assert env_of(plan, "rasa")["AUTH_TOKEN"] == ("secret", "botfront-secrets", "rasa-auth-token")


@pytest.mark.parametrize("release", sorted(CATALOG))
def test_every_release_plans_schema_valid(release: str) -> None:
    plan = plan_for("dev", release=release)
    assert [e for r in kubernetes_objects(plan) for e in schema_errors(r.inputs)] == []
    assert container(plan, "botfront")["image"] == CATALOG[release].botfront


def test_stack_list_is_complete() -> None:
    assert {"dev", "ephemeral", "staging", "prod"} <= set(STACKS)


def test_security_relaxation_reaches_only_the_named_service() -> None:
    plan = plan_for("dev", security={"rasa": {"runAsUser": 1001, "readOnlyRootFilesystem": False}})
    rasa = deployment(plan, "rasa")["spec"]["template"]["spec"]
    assert rasa["securityContext"]["runAsUser"] == 1001
    assert container(plan, "rasa")["securityContext"]["readOnlyRootFilesystem"] is False
    assert container(plan, "botfront")["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment(plan, "botfront")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001


def test_mongo_volume_has_its_own_size_and_class() -> None:
    plan = plan_for(
        "dev",
        database={"mode": "incluster", "size": "50Gi", "storageClass": "fast-ssd"},
        models={"storageClass": "nfs"},
    )
    claim = plan.get("kubernetes:core/v1:PersistentVolumeClaim", "mongo-data").inputs["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi" and claim["storageClassName"] == "fast-ssd"
    models = plan.get("kubernetes:core/v1:PersistentVolumeClaim", "models").inputs["spec"]
    assert models["storageClassName"] == "nfs"
