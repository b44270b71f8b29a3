"""The day-2 settings of issue 14, parsed and validated: raw config value -> frozen dataclasses.

Pure functions over `Problems` (components/validation.py): each problem names the key, the value
and what is allowed, and validation goes on so every problem is reported at once. The only
functions that touch the Pulumi runtime are `read_stack_config` (which keys the engine passed)
and `warn_*` (pulumi.log.warn), both called from `components/settings.py`.

Keys: imagePullSecrets, actions.env / actions.envFrom (and projects[].actions.*), placement,
networkPolicy.extraEgress, the ingressNamespace/className check, createNamespace, database mode
external, rotate; plus the refusals of plain-text secrets and of unknown config namespaces and
provider keys, and the warnings about TLS, OpenShift and the database name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import pulumi

from components.validation import DNS_LABEL, DNS_SUBDOMAIN, Problems

# ---- imagePullSecrets -------------------------------------------------------------------------


def parse_image_pull_secrets(p: Problems, value: Any) -> tuple[str, ...]:
    """`botfront:imagePullSecrets`: names of existing Secrets (DNS-1123 subdomains), no repeats."""
    names: list[str] = []
    for path, item in _items(p, "imagePullSecrets", value):
        if not isinstance(item, str) or not DNS_SUBDOMAIN.match(item) or len(item) > 253:
            p.add(path, item, "expected the name of a Secret in the stack's namespace (DNS-1123 subdomain)")
        elif item in names:
            p.add(path, item, "listed twice")
        else:
            names.append(item)
    return tuple(names)


# ---- actions.env / actions.envFrom ------------------------------------------------------------

C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_LOOKING = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL|PRIVATE_?KEY)", re.I)
# What components/services.py `actions_spec` already sets (tests/test_day2_effects.py checks the
# two stay in step): a user value would be silently shadowed or would break Botfront's calls.
ACTIONS_RESERVED_ENV = ("BF_URL", "BF_PROJECT_ID")


@dataclass(frozen=True)
class EnvSource:
    """An existing Secret or ConfigMap the actions server loads whole (`envFrom`)."""

    kind: Literal["secretRef", "configMapRef"]
    name: str


def parse_actions_env(p: Problems, path: str, value: Any) -> dict[str, str]:
    """`<path>.env`: plain NAME: value pairs; credentials belong in a Secret named by envFrom."""
    raw = p.mapping(path, value)
    env: dict[str, str] = {}
    for name, text in raw.items():
        key = f"{path}.{name}"
        if not isinstance(name, str) or not C_IDENTIFIER.match(name):
            p.add(
                key, name, "an environment variable name: letters, digits and '_', not starting with a digit"
            )
        elif SECRET_LOOKING.search(name):
            p.add(
                key,
                "[hidden]",
                "looks like a credential, and env values are plain text in the stack config, the state "
                "and the Deployment; put it in a Secret and load it with "
                f"{path.rsplit('.', 1)[0]}.envFrom: [{{secretRef: {{name: <secret>}}}}]",
            )
        elif name in ACTIONS_RESERVED_ENV:
            p.add(key, text, "set by the stack itself (" + ", ".join(ACTIONS_RESERVED_ENV) + ")")
        elif isinstance(text, bool) or not isinstance(text, (str, int, float)):
            p.add(key, text, "expected a string value (quote numbers and booleans)")
        else:
            env[name] = str(text)
    return env


def actions_env_per_project(
    p: Problems, raw: Mapping[str, Any], project_ids: Iterable[str], default_id: str
) -> list[tuple[dict[str, str], tuple[EnvSource, ...]]]:
    """(env, envFrom) of each project's action server, in `project_ids` order: its own
    `projects[i].actions`, or the top-level `actions` for the default project (as for the image)."""
    projects = raw.get("projects")
    listed: list[Any] = projects if isinstance(projects, list) else []
    entries = {
        item.get("id"): (f"projects[{i}].actions", item)
        for i, item in enumerate(listed)
        if isinstance(item, Mapping)
    }
    result = []
    for pid in project_ids:
        path, entry = entries.get(pid, ("actions", {}))
        value: Any = entry.get("actions")
        if "actions" not in entry:
            path, value = ("actions", raw.get("actions")) if pid == default_id else (path, None)
        section = value if isinstance(value, Mapping) else {}
        result.append(
            (
                parse_actions_env(p, f"{path}.env", section.get("env")),
                parse_actions_env_from(p, f"{path}.envFrom", section.get("envFrom")),
            )
        )
    return result


def parse_actions_env_from(p: Problems, path: str, value: Any) -> tuple[EnvSource, ...]:
    """`<path>.envFrom`: [{secretRef: {name}} | {configMapRef: {name}}], no repeats."""
    sources: list[EnvSource] = []
    for item_path, item in _items(p, path, value):
        entry = p.mapping(item_path, item, ("secretRef", "configMapRef"))
        kinds = [k for k in ("secretRef", "configMapRef") if k in entry]
        if len(kinds) != 1:
            p.add(item_path, item, "expected exactly one of {secretRef: {name}} or {configMapRef: {name}}")
            continue
        kind: Literal["secretRef", "configMapRef"] = (
            "secretRef" if kinds[0] == "secretRef" else "configMapRef"
        )
        ref = p.mapping(f"{item_path}.{kind}", entry[kind], ("name",))
        name = ref.get("name")
        if not isinstance(name, str) or not DNS_SUBDOMAIN.match(name) or len(name) > 253:
            p.add(f"{item_path}.{kind}.name", name, "expected an object name (DNS-1123 subdomain)")
            continue
        source = EnvSource(kind, name)
        if source in sources:
            p.add(item_path, item, "listed twice")
            continue
        sources.append(source)
    return tuple(sources)


# ---- placement --------------------------------------------------------------------------------

PLACEMENT_SERVICES = ("botfront", "rasa", "duckling", "actions", "botfrontApi", "mongo", "jobs")
PLACEMENT_KEYS = ("default", *PLACEMENT_SERVICES)


@dataclass(frozen=True)
class Placement:
    """Where a service's pods run; None: not set (the default's field, or the scheduler's)."""

    node_selector: Mapping[str, str] | None = None
    tolerations: tuple[Mapping[str, Any], ...] | None = None
    affinity: Mapping[str, Any] | None = None


def placement_for(placement: Mapping[str, Placement], service: str) -> Placement:
    """A service's placement: each field it sets replaces the default's same field, whole."""
    default = placement.get("default", Placement())
    own = placement.get(service, Placement())
    return Placement(
        node_selector=own.node_selector if own.node_selector is not None else default.node_selector,
        tolerations=own.tolerations if own.tolerations is not None else default.tolerations,
        affinity=own.affinity if own.affinity is not None else default.affinity,
    )


# The shapes the Kubernetes API accepts (core/v1 Affinity, Toleration: k8s.io/api core/v1
# types.go; tests check this table against kubernetes-validate's strict JSON schemas). A value is
# a nested shape, "str", "int", "strs" (list of strings), "map" (string map), or [shape] (list).
_REQUIREMENT = {"key": "str", "operator": "str", "values": "strs"}
_LABEL_SELECTOR = {"matchLabels": "map", "matchExpressions": [_REQUIREMENT]}
_NODE_TERM = {"matchExpressions": [_REQUIREMENT], "matchFields": [_REQUIREMENT]}
_POD_TERM = {
    "labelSelector": _LABEL_SELECTOR,
    "namespaceSelector": _LABEL_SELECTOR,
    "namespaces": "strs",
    "topologyKey": "str",
    "matchLabelKeys": "strs",
    "mismatchLabelKeys": "strs",
}
_POD_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": [_POD_TERM],
    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": "int", "podAffinityTerm": _POD_TERM}],
}
AFFINITY_SHAPE: dict[str, Any] = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [_NODE_TERM]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": "int", "preference": _NODE_TERM}],
    },
    "podAffinity": _POD_AFFINITY,
    "podAntiAffinity": _POD_AFFINITY,
}
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# LabelSelectorRequirement / NodeSelectorRequirement operators.
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
# A qualified name (label key): optional DNS subdomain prefix, then a name of 1-63 characters.
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$")


def is_label_key(key: Any) -> bool:
    if not isinstance(key, str) or not key:
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (not DNS_SUBDOMAIN.match(prefix) or len(prefix) > 253):
        return False
    return bool(_LABEL_NAME.match(name))


def is_label_value(value: Any) -> bool:
    return isinstance(value, str) and bool(_LABEL_VALUE.match(value))


def parse_placement(p: Problems, value: Any) -> dict[str, Placement]:
    """`botfront:placement`: {default | <service>: {nodeSelector, tolerations, affinity}}."""
    raw = p.mapping("placement", value, PLACEMENT_KEYS)
    result: dict[str, Placement] = {}
    for service, item in raw.items():
        if service not in PLACEMENT_KEYS:
            continue
        path = f"placement.{service}"
        entry = p.mapping(path, item, ("nodeSelector", "tolerations", "affinity"))
        result[service] = Placement(
            node_selector=_node_selector(p, f"{path}.nodeSelector", entry["nodeSelector"])
            if "nodeSelector" in entry
            else None,
            tolerations=_tolerations(p, f"{path}.tolerations", entry["tolerations"])
            if "tolerations" in entry
            else None,
            affinity=_shaped(p, f"{path}.affinity", entry["affinity"], AFFINITY_SHAPE)
            if "affinity" in entry
            else None,
        )
    return result


def _node_selector(p: Problems, path: str, value: Any) -> dict[str, str]:
    raw = p.mapping(path, value)
    selector = {}
    for key, label in raw.items():
        if not is_label_key(key):
            p.add(f"{path}.{key}", label, "the key must be a node label key, e.g. kubernetes.io/os")
        elif not is_label_value(label):
            p.add(
                f"{path}.{key}",
                label,
                "expected a label value: a string of up to 63 letters, digits, '-', '_', '.'",
            )
        else:
            selector[key] = label
    return selector


def _tolerations(p: Problems, path: str, value: Any) -> tuple[Mapping[str, Any], ...]:
    result = []
    for item_path, item in _items(p, path, value):
        before = len(p.items)
        entry = p.mapping(item_path, item, TOLERATION_KEYS)
        operator = entry.get("operator", "Equal")
        if operator not in TOLERATION_OPERATORS:
            p.add(f"{item_path}.operator", operator, "allowed: " + ", ".join(TOLERATION_OPERATORS))
        if "effect" in entry and entry["effect"] not in TOLERATION_EFFECTS:
            p.add(f"{item_path}.effect", entry["effect"], "allowed: " + ", ".join(TOLERATION_EFFECTS))
        if "key" in entry and not is_label_key(entry["key"]):
            p.add(f"{item_path}.key", entry["key"], "expected a taint key, e.g. dedicated or example.com/gpu")
        if "key" not in entry and operator != "Exists":
            p.add(item_path, item, "without a key, the operator must be Exists (tolerates every taint)")
        if operator == "Exists" and entry.get("value") not in (None, ""):
            p.add(f"{item_path}.value", entry["value"], "must be left out with operator Exists")
        if "value" in entry and not is_label_value(entry["value"]):
            p.add(f"{item_path}.value", entry["value"], "expected a taint value (a label value)")
        if "tolerationSeconds" in entry:
            seconds = entry["tolerationSeconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                p.add(f"{item_path}.tolerationSeconds", seconds, "expected a whole number of seconds")
            elif entry.get("effect") != "NoExecute":
                p.add(f"{item_path}.tolerationSeconds", seconds, "only applies with effect NoExecute")
        if len(p.items) == before:
            result.append(dict(entry))
    return tuple(result)


def _shaped(p: Problems, path: str, value: Any, shape: Any) -> Any:
    """`value` checked against `shape` (see AFFINITY_SHAPE); returned as plain data."""
    if isinstance(shape, dict):
        raw = p.mapping(path, value, shape)
        return {
            key: _shaped(p, f"{path}.{key}", item, shape[key]) for key, item in raw.items() if key in shape
        }
    if isinstance(shape, list):
        return [_shaped(p, item_path, item, shape[0]) for item_path, item in _items(p, path, value)]
    if shape == "str":
        if not isinstance(value, str):
            p.add(path, value, "expected a string")
        elif path.endswith(".operator") and value not in SELECTOR_OPERATORS:
            p.add(path, value, "allowed: " + ", ".join(SELECTOR_OPERATORS))
    elif shape == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            p.add(path, value, "expected a whole number from 1 to 100")
    elif shape == "strs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            p.add(path, value, "expected a list of strings")
    elif shape == "map" and (
        not isinstance(value, Mapping)
        or not all(is_label_key(k) and is_label_value(v) for k, v in value.items())
    ):
        p.add(path, value, "expected labels: {key: value}")
    return value


# ---- networkPolicy.extraEgress ----------------------------------------------------------------

EGRESS_SERVICES = ("botfront", "rasa", "duckling", "actions", "botfrontApi", "mongo", "jobs")
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class PortSpec:
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class EgressRule:
    """One more destination: an IP block, or pods of a namespace (optionally by labels)."""

    cidr: str | None
    namespace: str | None
    pod_selector: Mapping[str, str] | None
    ports: tuple[PortSpec, ...]


def parse_extra_egress(p: Problems, value: Any) -> dict[str, tuple[EgressRule, ...]]:
    """`networkPolicy.extraEgress`: {<service>: [{cidr | namespace (+ podSelector), ports}]}."""
    path = "networkPolicy.extraEgress"
    raw = p.mapping(path, value, EGRESS_SERVICES)
    result: dict[str, tuple[EgressRule, ...]] = {}
    for service, items in raw.items():
        if service not in EGRESS_SERVICES:
            continue
        rules = [
            _egress_rule(p, item_path, item) for item_path, item in _items(p, f"{path}.{service}", items)
        ]
        result[service] = tuple(rule for rule in rules if rule is not None)
    return result


def _egress_rule(p: Problems, path: str, value: Any) -> EgressRule | None:
    before = len(p.items)
    entry = p.mapping(path, value, ("cidr", "namespace", "podSelector", "ports"))
    cidr = entry.get("cidr")
    namespace = entry.get("namespace")
    if (cidr is None) == (namespace is None):
        p.add(path, value, "expected exactly one of cidr (e.g. 10.0.0.0/16) or namespace (+ podSelector)")
    if cidr is not None:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            p.add(f"{path}.cidr", cidr, "expected a CIDR block with no host bits set, e.g. 10.20.0.0/16")
    if "podSelector" in entry and cidr is not None:
        p.add(f"{path}.podSelector", entry["podSelector"], "only applies with namespace, not with cidr")
    if namespace is not None and (not isinstance(namespace, str) or not DNS_LABEL.match(namespace)):
        p.add(f"{path}.namespace", namespace, "expected a namespace name (DNS-1123 label)")
    selector = (
        _node_selector(p, f"{path}.podSelector", entry["podSelector"]) if "podSelector" in entry else None
    )
    ports: list[PortSpec] = []
    port_items = _items(p, f"{path}.ports", entry.get("ports"))
    if not port_items:
        p.add(
            f"{path}.ports",
            entry.get("ports"),
            "expected a non-empty list of {port, protocol}: name what is called",
        )
    for port_path, item in port_items:
        port_entry = p.mapping(port_path, item, ("port", "protocol"))
        number = port_entry.get("port")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            p.add(f"{port_path}.port", number, "expected a port number from 1 to 65535")
            continue
        protocol = p.choice(f"{port_path}.protocol", port_entry.get("protocol"), "TCP", PROTOCOLS)
        ports.append(PortSpec(number, protocol))
    if len(p.items) != before:
        return None
    return EgressRule(cidr=cidr, namespace=namespace, pod_selector=selector, ports=tuple(ports))


def check_extra_egress_targets(
    p: Problems,
    extra_egress: Mapping[str, tuple[EgressRule, ...]],
    *,
    botfront_api: bool,
    duckling: bool,
    actions: bool,
    mode: str,
    jobs: bool,
) -> None:
    """Rules for pods the stack does not run would silently do nothing: refused."""
    why = {
        "botfrontApi": None if botfront_api else "the release has no botfront-api (only 0.2x releases do)",
        "duckling": None if duckling else "botfront:duckling is false",
        "actions": None if actions else "no project has an action server (actions.image)",
        "mongo": None if mode == "incluster" else f"database.mode is {mode}: the stack runs no MongoDB",
        "jobs": None if jobs else "no Job runs (botfront:backup and botfront:verify are off)",
    }
    for service, rules in extra_egress.items():
        reason = why.get(service)
        if rules and reason:
            p.add(f"networkPolicy.extraEgress.{service}", [r.cidr or r.namespace for r in rules], reason)


# ---- networkPolicy.ingressNamespace against ingress.className ---------------------------------


def check_ingress_namespace(
    p: Problems, network_policy: Any, ingress: Any, platform: str, default_namespace: str = "ingress-nginx"
) -> None:
    """A controller other than ingress-nginx does not live in `ingress-nginx`: with the default
    namespace its traffic would be denied (a 504 through the ingress). Refused, naming the key."""
    if platform == "openshift" or (network_policy is not None and not isinstance(network_policy, Mapping)):
        return
    policy = network_policy or {}
    settings = ingress if isinstance(ingress, Mapping) else {}
    class_name = settings.get("className", "nginx")
    enabled = policy.get("enabled", True) not in (False, "false") and settings.get("enabled", True) not in (
        False,
        "false",
    )
    if enabled and class_name != "nginx" and policy.get("ingressNamespace") in (None, ""):
        p.add(
            "networkPolicy.ingressNamespace",
            policy.get("ingressNamespace"),
            f"required with ingress.className {class_name!r}: the default ({default_namespace}) is "
            "ingress-nginx's namespace, and the network policies let only that namespace reach "
            "botfront and rasa; set it to your controller's namespace",
        )


# ---- createNamespace --------------------------------------------------------------------------


def parse_create_namespace(p: Problems, value: Any) -> bool:
    return p.boolean("createNamespace", value, True)


# ---- database.mode external -------------------------------------------------------------------


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str


EXTERNAL_DATABASE_KEYS = ("urlSecret", "oplogUrlSecret")
_SECRET_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


def parse_external_database(
    p: Problems, raw: Mapping[str, Any], mode: str
) -> tuple[SecretKeyRef | None, SecretKeyRef | None]:
    """`database.urlSecret` / `database.oplogUrlSecret` ({name, key} of the user's Secret)."""
    if mode != "external":
        for key in EXTERNAL_DATABASE_KEYS:
            if key in raw:
                p.add(f"database.{key}", raw[key], f"only applies to database.mode external (mode is {mode})")
        return None, None
    for key in ("size", "storageClass"):
        if key in raw:
            p.add(
                f"database.{key}",
                raw[key],
                "only applies to database.mode incluster: nothing is created in external mode",
            )
    url = _secret_key_ref(p, "database.urlSecret", raw.get("urlSecret"), required=True)
    oplog = _secret_key_ref(p, "database.oplogUrlSecret", raw.get("oplogUrlSecret"), required=False)
    if raw.get("oplog") in (True, "true") and "oplogUrlSecret" not in raw:
        p.add(
            "database.oplog",
            raw["oplog"],
            "needs database.oplogUrlSecret: the Secret key holding MONGO_OPLOG_URL",
        )
    return url, oplog


def _secret_key_ref(p: Problems, path: str, value: Any, required: bool) -> SecretKeyRef | None:
    if value is None:
        if required:
            p.add(
                path,
                None,
                "required with database.mode external: {name, key} of an existing Secret in the "
                "stack's namespace holding the MongoDB URL (mongodb://user:pw@host/db?...)",
            )
        return None
    raw = p.mapping(path, value, ("name", "key"))
    name, key = raw.get("name"), raw.get("key")
    ok = True
    if not isinstance(name, str) or not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        p.add(f"{path}.name", name, "expected a Secret name (DNS-1123 subdomain)")
        ok = False
    if not isinstance(key, str) or not _SECRET_DATA_KEY.match(key):
        p.add(f"{path}.key", key, "expected a key of that Secret: letters, digits, '-', '_' or '.'")
        ok = False
    return SecretKeyRef(str(name), str(key)) if ok and isinstance(value, Mapping) else None


def refuse_backup_in_external_mode(p: Problems, backup: Any, restore_from: Any) -> None:
    """In external mode the stack runs no MongoDB of its own: it has nothing to dump or restore."""
    why = (
        "database.mode is external: the stack does not run that MongoDB and does not back it up; "
        "use the backups of whoever runs it (mongodump against your own URL)"
    )
    if backup is not None:
        p.add("backup", backup, why + "; remove botfront:backup")
    if restore_from is not None:
        p.add("restoreFrom", restore_from, why + "; remove botfront:restoreFrom")


# ---- rotate -----------------------------------------------------------------------------------

# What a generation bump regenerates (components/secrets.py). `rasaToken` rotates the token of
# every Rasa instance at once: Botfront keeps one token per instance in its settings, and an
# operator rotating after a leak wants all of them. The MongoDB application user's password is
# left out on purpose: MongoDB keeps the user in its data (components/mongo.py creates it once,
# on an empty data directory), so a new password in the Secret would lock Botfront out until
# someone runs db.changeUserPassword; docs/ describes that manual rotation.
ROTATABLE = ("apiKey", "rasaToken")


def parse_rotate(p: Problems, value: Any) -> dict[str, int]:
    raw = p.mapping("rotate", value)
    result: dict[str, int] = {}
    for key, generation in raw.items():
        if key not in ROTATABLE:
            why = (
                "the MongoDB user's password lives in the database too: rotate it with "
                "db.changeUserPassword (see the runbook), not here"
                if key == "mongoPassword"
                else "not a generated secret of this stack"
            )
            p.add(f"rotate.{key}", generation, f"{why}; rotatable: " + ", ".join(ROTATABLE))
            continue
        result[key] = p.integer(f"rotate.{key}", generation, 0, 0, 2**31 - 1)
    return result


def keepers(rotate: Mapping[str, int], key: str) -> dict[str, str] | None:
    """pulumi-random `keepers` for a generated secret: None until the first bump, so existing
    stacks keep their values (adding keepers to a RandomPassword replaces it). Any change of the
    generation regenerates, going back to 0 included: generations are meant to only go up."""
    generation = rotate.get(key, 0)
    return {"generation": str(generation)} if generation else None


# ---- refusals of silent mistakes ---------------------------------------------------------------

# Values that must come as secrets: `pulumi config set` without --secret leaves them in plain text
# in the stack file and the state.
MUST_BE_SECRET = ("mailUrl", "chatbaseApiKey")


@dataclass(frozen=True)
class StackConfig:
    """Every config key the engine passed (`namespace:key`), and those that are secrets."""

    keys: frozenset[str] = frozenset()
    secret_keys: frozenset[str] = frozenset()


def read_stack_config() -> StackConfig:
    """Every key the engine passed, from the SDK's config store (pulumi 3.272.0
    pulumi/runtime/config.py: CONFIG and PULUMI_CONFIG; secret keys from set_all_config's
    _SECRET_KEYS, which pulumi-language-python-exec fills from PULUMI_CONFIG_SECRET_KEYS:
    pulumi/pulumi@v3.259.0:sdk/python/cmd/pulumi-language-python-exec, the newest mirrored tag;
    ASSUMPTION: unchanged in 3.272.0). The environment's list is read too, in case a host sets
    only that."""
    from pulumi.runtime import config as runtime_config

    keys = frozenset({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})
    secret = {k for k in keys if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env()) & keys
    return StackConfig(keys, frozenset(secret))


def refuse_plain_text_secrets(p: Problems, config: StackConfig, project: str = "botfront") -> None:
    for key in MUST_BE_SECRET:
        qualified = f"{project}:{key}"
        if qualified in config.keys and qualified not in config.secret_keys:
            p.add(
                key,
                "[plain text]",
                "must be a secret, or it stays readable in the stack file and the state: "
                f"pulumi config rm {qualified} && pulumi config set --secret {qualified} <value>",
            )


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.title() for word in rest)


def provider_config_keys() -> dict[str, frozenset[str]]:
    """The config keys each provider of the stack reads, from the installed SDKs' own source:
    pulumi_kubernetes 4.34.2 provider.py (ProviderArgs: the provider takes its config under the
    same names), pulumi_mongodbatlas 4.18.0 config/vars.py, pulumi_random 4.21.4 (no config
    module: it reads none). Read as text: importing the Atlas SDK costs seconds."""
    result: dict[str, frozenset[str]] = {"random": frozenset()}
    kube = _package_dir("pulumi_kubernetes") / "provider.py"
    text = kube.read_text()
    args = text[text.index("class ProviderArgs") : text.index("class Provider(")]
    result["kubernetes"] = frozenset(_camel(n) for n in re.findall(r"def (\w+)\(self\) ->", args))
    atlas = (_package_dir("pulumi_mongodbatlas") / "config" / "vars.py").read_text()
    result["mongodbatlas"] = frozenset(re.findall(r"__config__\.get\w*\('(\w+)'", atlas))
    return result


def _package_dir(name: str) -> Path:
    spec = find_spec(name)
    assert spec is not None and spec.origin is not None, f"{name} is a dependency (requirements.txt)"
    return Path(spec.origin).parent


def refuse_unknown_config(
    p: Problems,
    config: StackConfig,
    providers: Mapping[str, Iterable[str]],
    project: str = "botfront",
) -> None:
    """A key in a namespace nobody reads (`botfrnt:namespace`) or a provider key the provider
    does not have (`kubernetes:contxt`): a typo must never deploy into another namespace or the
    current kubeconfig context. (The project's own keys are checked by parse_settings.)"""
    for qualified in sorted(config.keys):
        namespace, _, key = qualified.partition(":")
        if namespace in (project, "pulumi"):
            continue
        if namespace not in providers:
            p.note(
                f"{qualified}: unknown config namespace {namespace!r}; the stack reads "
                + ", ".join(f"{n}:*" for n in sorted({project, *providers}))
                + f" (a typo of {project}:{key}?): pulumi config rm {qualified}"
            )
        elif key not in set(providers[namespace]):
            allowed = sorted(providers[namespace])
            p.note(
                f"{qualified}: the {namespace} provider has no such setting; "
                + (f"its keys: {', '.join(allowed)}" if allowed else "it takes no configuration")
                + f": pulumi config rm {qualified}"
            )


# ---- warnings ---------------------------------------------------------------------------------


def tls_and_platform_warnings(raw: Mapping[str, Any], root_url: str | None, platform: str) -> list[str]:
    """What deploys but probably isn't what was meant (warned, not refused)."""
    warnings: list[str] = []
    ingress = raw.get("ingress") if isinstance(raw.get("ingress"), Mapping) else {}
    assert isinstance(ingress, Mapping)
    enabled = ingress.get("enabled", True) not in (False, "false")
    tls_source = bool(ingress.get("tlsSecretName") or ingress.get("clusterIssuer"))
    scheme = (root_url or "").split(":", 1)[0]
    policy = raw.get("networkPolicy") if isinstance(raw.get("networkPolicy"), Mapping) else {}
    assert isinstance(policy, Mapping)
    if raw.get("createNamespace") in (False, "false") and policy.get("enabled", True) not in (False, "false"):
        warnings.append(
            f"botfront:createNamespace is false: the stack's default-deny NetworkPolicy selects every "
            f"pod of namespace {raw.get('namespace', 'botfront')!r}, including pods that are not "
            "Botfront's; deploy into a namespace of Botfront's own, or set networkPolicy.enabled: false "
            "and keep your own policies"
        )
    if platform == "openshift":
        ingress_only = [
            k for k in ("className", "tlsSecretName", "clusterIssuer", "annotations") if ingress.get(k)
        ]
        if ingress.get("className") == "nginx":
            ingress_only.remove("className")  # Pulumi.yaml's default: not the user's doing
        if ingress_only:
            warnings.append(
                "botfront:platform is openshift, so the stack creates Routes, not Ingresses: "
                + ", ".join(f"ingress.{k}" for k in ingress_only)
                + " has no effect (Routes terminate TLS at the router with its certificate)"
            )
        return warnings
    if enabled and scheme == "https" and not tls_source:
        warnings.append(
            f"botfront:rootUrl is https ({root_url}) but the Ingresses have no TLS source: set "
            "ingress.clusterIssuer (cert-manager) or ingress.tlsSecretName, unless your controller "
            "serves a default certificate for these hosts"
        )
    if enabled and scheme == "http" and ingress.get("clusterIssuer"):
        warnings.append(
            f"botfront:rootUrl is http ({root_url}) while ingress.clusterIssuer asks cert-manager for "
            "certificates: the UI and Rasa are still served and linked over http; make rootUrl https"
        )
    return warnings


def database_rename_warning(old: str, new: str) -> str:
    return (
        f"botfront:database.name changed from {old!r} to {new!r} on the in-cluster MongoDB: its "
        f"application user 'botfront' was created with rights on {old!r} only (and 'local' for the "
        f"oplog), and the data stays in {old!r}. To move the data: 1. back up (botfront:backup; an "
        f"archive {old}-<time>.archive.gz); 2. as root in the mongo pod, "
        f"db.getSiblingDB('admin').grantRolesToUser('botfront', [{{role: 'readWrite', db: '{new}'}}]); "
        f"3. pulumi config set botfront:restoreFrom <that archive> and pulumi up (the restore Job "
        f"renames {old}.* to {new}.*); 4. pulumi state delete the RandomId database-name-record "
        f"(its URN: pulumi stack --show-urns) so the stack records {new!r}. Otherwise set "
        f"database.name back to {old!r}."
    )


def warn_all(messages: Iterable[str]) -> None:
    for message in messages:
        pulumi.log.warn(message)


# ---- helpers ----------------------------------------------------------------------------------


def _items(p: Problems, path: str, value: Any) -> list[tuple[str, Any]]:
    """(path[i], item) of a list; a problem if it is not one."""
    if value is None:
        return []
    if not isinstance(value, list):
        p.add(path, value, "expected a list")
        return []
    return [(f"{path}[{i}]", item) for i, item in enumerate(value)]
