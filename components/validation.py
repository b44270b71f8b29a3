"""The config model's field types (each error says what is allowed) and errors that name the key."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, NamedTuple, get_args
from urllib.parse import urlsplit

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?|\.[0-9]+)(?P<suffix>[a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


class ConfigError(pulumi.RunError):
    """Every problem with a stack's configuration at once; a RunError prints without a traceback."""

    def __init__(self, problems: list[str], stack: str | None = None, keys_only: bool = False) -> None:
        self.problems = problems
        where = f" for stack '{stack}'" if stack else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        # The rules across keys need every key's own value to be valid: they run in a second round.
        then = "; the checks across keys run once these are fixed" if keys_only else ""
        super().__init__(
            f"invalid configuration{where} ({len(problems)} {noun}{then}); nothing was deployed:\n{lines}"
        )


# user[:password]@ of a URL: never echoed, whichever key it was given under.
_USERINFO = re.compile(r"(?<=://)[^\s'\"]*@")  # up to the last @: a password may hold / # ? @


def show(value: Any) -> str:
    text = _USERINFO.sub("[hidden]@", repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


class Problems:
    def __init__(self, namespace: str = "botfront") -> None:
        self.namespace = namespace
        self.items: list[str] = []

    def key(self, path: str) -> str:
        return f"{self.namespace}:{path}"

    def add(self, path: str, value: Any, allowed: str) -> None:
        self.items.append(f"{self.key(path)}: got {show(value)}; {allowed}")

    def raise_if_any(self, stack: str | None = None, keys_only: bool = False) -> None:
        if self.items:
            raise ConfigError(self.items, stack, keys_only)


class Model(BaseModel):
    """A block of config: camelCase keys, nothing unknown, immutable once read."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
        defer_build=True,
    )
    # Why a key is not accepted here, beyond "unknown key" (e.g. replicas.rasa).
    UNKNOWN: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *args: Any, **data: Any) -> None:  # positional arguments, as a dataclass's
        super().__init__(**dict(zip(type(self).model_fields, args, strict=False)), **data)

    def dump(self) -> dict[str, Any]:  # camelCase, unset keys left out: what Kubernetes objects take
        return self.model_dump(by_alias=True, exclude_none=True)


def fail(message: str, at: str | int | None = None) -> PydanticCustomError:
    """A config error; `at`: the key or index below the validated value that it is about."""
    return PydanticCustomError("config", "{m}", {"m": message, "at": at})


def unique(items: list[Any]) -> list[Any]:
    for index, item in enumerate(items):
        if items.index(item) != index:
            raise fail("listed twice", at=index)
    return items


def Unique(item: Any) -> Any:
    return Annotated[list[item], AfterValidator(unique), Field(json_schema_extra={"uniqueItems": True})]


def suggest(value: Any, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(options), n=1, cutoff=0.6) if value else []
    if not close and isinstance(value, str):
        close = [o for o in options if o.lower() == value.lower()]
    return f" (did you mean {close[0]}?)" if close else ""


def checked(base: type, check: Callable[[Any], Any], schema: dict[str, Any]) -> Any:
    return Annotated[base, BeforeValidator(check), WithJsonSchema(schema)]


def Bool() -> Any:
    def check(v: Any) -> bool:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v in ("true", "false"):  # `pulumi config set` stores text
            return v == "true"
        raise fail("expected true or false")

    return checked(bool, check, {"type": "boolean"})


def as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if (isinstance(v, float) and v.is_integer()) or (isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v)):
        return int(v)
    return None


def Int(low: int, high: int, why: str = "") -> Any:
    def check(v: Any) -> int:
        number = as_int(v)
        if number is None or not low <= number <= high:
            raise fail(f"expected a whole number from {low} to {high}{why}")
        return number

    return checked(int, check, {"type": "integer", "minimum": low, "maximum": high})


def Choice(*options: str) -> Any:
    def check(v: Any) -> str:
        if v not in options:
            raise fail("allowed: " + ", ".join(options) + suggest(v, options))
        return str(v)

    return checked(str, check, {"enum": list(options)})


def Text(pattern: str, rule: str, max_len: int = 253) -> Any:
    compiled = re.compile(pattern)

    def check(v: Any) -> str:
        if not isinstance(v, str) or not compiled.match(v) or len(v) > max_len:
            raise fail(f"expected {rule}")
        return v

    return checked(str, check, {"type": "string", "pattern": pattern, "maxLength": max_len})


def With(check: Callable[[Any], Any], schema: dict[str, Any], base: type = str) -> Any:
    """A type whose whole rule is `check`: it returns the value or a `Problem`."""

    def run(v: Any) -> Any:
        result = check(v)
        if isinstance(result, Problem):
            raise fail(result.text)
        return result

    return checked(base, run, schema)


class Problem(NamedTuple):
    text: str


def parse_quantity(text: str) -> Decimal | None:
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    suffix = match.group("suffix")
    number = Decimal(match.group("num"))  # the pattern admits only valid decimals
    scale = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    return number * scale if scale else number / 1000 if suffix == "m" else None


def Quantity(kind: str) -> Any:
    def check(v: Any) -> Any:
        text = str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        quantity = parse_quantity(text) if isinstance(text, str) else None
        if kind == "bytes" and isinstance(text, str) and text.strip().endswith("m"):
            quantity = None  # "512m" bytes means millibytes: almost certainly a typo for 512Mi
        if quantity is None or quantity <= 0:
            example = "500m or 1.5 (cores)" if kind == "cpu" else "512Mi, 1Gi or 10Gi"
            return Problem(f"expected a positive Kubernetes quantity, e.g. {example}")
        return text

    pattern = _QUANTITY.pattern if kind == "cpu" else r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)([KMGTPE]i?|k)?$"
    return With(
        check, {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "number", "exclusiveMinimum": 0}]}
    )


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def url_check(v: Any) -> Any:
    allowed = Problem("expected an absolute http:// or https:// URL with a host and no query or fragment")
    if not isinstance(v, str) or v != v.strip():
        return allowed
    try:
        parts = urlsplit(v)
        port, host = parts.port, parts.hostname or ""
    except ValueError:
        return allowed
    bad_port = port is not None and not 1 <= port <= 65535
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.query
        or parts.fragment
        or "?" in v
        or bad_port
    ):
        return allowed
    if not is_ip(host) and not DNS_SUBDOMAIN.match(host):
        return Problem("the host must be a lower-case DNS name or an IP address")
    if parts.username is not None:
        return Problem("holds credentials (user:password@), which the stack config, the state and the pods' "
                       "environment keep in plain text: give the URL without them")  # fmt: skip
    return v.rstrip("/")


Url = With(url_check, {"type": "string", "format": "uri", "pattern": "^https?://"})


def _models_in(annotation: Any) -> list[type[Model]]:
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _model_at(root: type[Model], loc: tuple[Any, ...]) -> type[Model] | None:
    model: type[Model] | None = root
    for part in loc:
        if model is None or not isinstance(part, str):
            continue
        names = {f.alias or n: f for n, f in model.model_fields.items()}
        if part not in names:
            continue  # a key of a dict (e.g. networkPolicy.extraEgress.<service>)
        found = _models_in(names[part].annotation)
        model = found[0] if found else None
    return model


OBJECT, LIST = "expected an object (a YAML mapping)", "expected a list"
SHAPES = {"model_type": OBJECT, "model_attributes_type": OBJECT, "dict_type": OBJECT, "list_type": LIST,
          "tuple_type": LIST, "too_short": "expected a non-empty list"}  # fmt: skip


def problems_from(error: ValidationError, root: type[Model], p: Problems) -> None:
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith(("~", "[key]"))))
        kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
        if ctx.get("at") is not None:
            loc += (ctx["at"],)
            value = value[ctx["at"]] if isinstance(value, (dict, list)) else value
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        model = _model_at(root, loc[:-1]) if kind in ("extra_forbidden", "missing") else None
        fields = {f.alias or n: f for n, f in model.model_fields.items()} if model else {}
        if kind == "extra_forbidden":
            why = (model.UNKNOWN.get(str(loc[-1])) if model else None) or "unknown key"
            p.add(path, value, f"{why}; allowed: " + ", ".join(fields) + suggest(loc[-1], fields))
        elif kind == "missing":
            text = (field := fields.get(str(loc[-1]))) and field.description
            p.add(path, None, "required" + (f": {text}" if text else ""))
        else:
            p.add(path, value, str(ctx["m"]) if kind == "config" else SHAPES.get(kind, item["msg"]))
