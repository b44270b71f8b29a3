"""Read `Pulumi.yaml` and a stack file the way the Pulumi CLI does, and check them as it would.

The CLI (pulumi/pulumi@v3.259.0, the newest tag mirrored here; the project pins v3.272.0 -
ASSUMPTION: these code paths did not change in between) parses both files with gopkg.in/yaml.v3
(sdk/go/common/encoding/marshal.go, yamlMarshaler.Unmarshal), a YAML 1.2 reader: `yes`, `no`,
`on`, `off` are strings, `1e3` is a number, `0o17` is octal, and a plain `2024-01-31` is a Go
time.Time. PyYAML speaks YAML 1.1, so `load_yaml` swaps its implicit typing for the one of
yaml.v3's `resolve()` (go-yaml/yaml v3 resolve.go). Each scalar then reaches the program as the
text the CLI would hand it (sdk/go/common/resource/config/object.go, MarshalString), and objects as
JSON; a date in a stack file as Go's time text, "2024-01-31 00:00:00 +0000 UTC", at any depth
(object.go, unmarshalObject), and a date in a Pulumi.yaml default as RFC 3339 (GoTime below).

Everything here is checked before the program runs, as `pulumi preview`/`up` do
(pkg/workspace/config.go, ValidateStackConfigAndApplyProjectConfig): Pulumi.yaml's own rules
(sdk/go/common/workspace/project.go, Project.Validate), required keys, and each value against the
type Pulumi.yaml declares for it (validateStackConfigValue + project.go ValidateConfigValue).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

TYPES = ("string", "integer", "boolean", "object", "array")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
_ATOI = re.compile(r"[+-]?[0-9]+")
# yaml.v3 resolve.go: yamlStyleFloat.
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOATS = {
    **{s: math.nan for s in (".nan", ".NaN", ".NAN")},
    **{s: math.inf for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: -math.inf for s in ("-.inf", "-.Inf", "-.INF")},
}
# yaml.v3 resolve.go:294-301, allowedTimestampFormats, each tried with Go's time.Parse:
# "2006-1-2T15:4:5.999999999Z07:00" (or a lower-case t), "2006-1-2 15:4:5.999999999", "2006-1-2".
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_CLOCK = r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?"
_ZONED_CLOCK = re.compile(r"[Tt]" + _CLOCK + r"(Z|[+-][0-9]{2}:[0-9]{2})")
_SPACED_CLOCK = re.compile(r" +" + _CLOCK)  # time.Parse: a layout space matches a run of spaces


class StackFileError(Exception):
    """The stack file or Pulumi.yaml cannot be read as the engine would."""


# ---------------------------------------------------------------------------------------------
# YAML 1.2 as yaml.v3 reads it
# ---------------------------------------------------------------------------------------------

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class GoTime(str):
    """A plain YAML timestamp, which yaml.v3 decodes into a Go time.Time (resolve.go:180-189;
    decode_test.go:731-733, "implicit timestamp tag into interface").

    As a str it is the time's String() text, which is what a stack value becomes at any depth
    (object.go:490-491, unmarshalObject). `rfc3339` is the text encoding/json writes for the
    time.Time itself, which is what a Pulumi.yaml default becomes (pkg/workspace/config.go:179-193,
    createConfigValue). The CLI writes the decoded file back out and reads it again before either
    (sdk/go/common/workspace/loaders.go:180-222; yaml.v3 encode.go:385-388 writes RFC3339Nano,
    plain), which turns a `+00:00` offset into UTC and changes nothing else.
    """

    rfc3339: str

    def __new__(cls, text: str, rfc3339: str) -> GoTime:
        self = super().__new__(cls, text)
        self.rfc3339 = rfc3339
        return self

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # copy and pickle
        return str(self), self.rfc3339


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_timestamp(text: str) -> GoTime | None:
    """yaml.v3's parseTimestamp (resolve.go:306-326): Go's time.Parse with the formats above
    (golang/go src/time/format.go, parse: 1-2 digit fields, a fraction after `.` or `,` cut to
    nanoseconds, an offset of at most 24:60, the day checked against the month).

    The text is Time.String() ("2006-01-02 15:04:05.999999999 -0700 MST", format.go): a time with
    no zone or `Z` is UTC; an offset has no zone name, so MST prints the offset again. ASSUMPTION:
    the CLI runs with a UTC local zone (as CI runners do): time.Parse names an offset after the
    local zone when they match, e.g. "+0100 CET" on a machine in Berlin.
    """
    date = _DATE.match(text)
    if date is None:
        return None
    year, month, day = (int(part) for part in date.groups())
    hour = minute = second = nanos = offset = 0
    rest = text[date.end() :]
    if rest:
        clock = _ZONED_CLOCK.fullmatch(rest) or _SPACED_CLOCK.fullmatch(rest)
        if clock is None:
            return None
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3])
        nanos = int(clock[4][:9].ljust(9, "0")) if clock[4] else 0
        zone = clock[5] if clock.re is _ZONED_CLOCK else "Z"
        if zone != "Z":
            if int(zone[1:3]) > 24 or int(zone[4:6]) > 60:
                return None
            offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    if not (1 <= month <= 12 and 1 <= day <= _days_in(month, year)):
        return None
    if not (hour < 24 and minute < 60 and second < 60):
        return None
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    date_text, clock_text = (
        f"{year:04d}-{month:02d}-{day:02d}",
        f"{hour:02d}:{minute:02d}:{second:02d}{fraction}",
    )
    if offset == 0:
        return GoTime(f"{date_text} {clock_text} +0000 UTC", f"{date_text}T{clock_text}Z")
    sign, hours, minutes = ("-" if offset < 0 else "+"), abs(offset) // 60, abs(offset) % 60
    numeric = f"{sign}{hours:02d}{minutes:02d}"
    return GoTime(
        f"{date_text} {clock_text} {numeric} {numeric}",
        f"{date_text}T{clock_text}{sign}{hours:02d}:{minutes:02d}",
    )


def _go_int(text: str, base: int) -> int | None:
    """strconv.ParseInt(text, base, 64), else ParseUint: None when neither accepts it."""
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in "+-" else text
    if base == 0:
        prefixes = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
        base = prefixes.get(digits[:2], 0)
        if base:
            digits = digits[2:]
        elif len(digits) > 1 and digits[0] == "0":
            base, digits = 8, digits[1:]
        else:
            base = 10
    if not digits or not re.fullmatch(r"[0-9a-fA-F]+", digits):
        return None
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    if _INT64[0] <= value <= _INT64[1] or (sign > 0 and value <= _UINT64_MAX and text[:1] != "+"):
        return value
    return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """The tag and value yaml.v3 gives an unquoted scalar (go-yaml/yaml v3 resolve.go, resolve())."""
    if text in _BOOLS:
        return _BOOL, _BOOLS[text]
    if text in _NULLS:
        return _NULL, None
    if text in _SPECIAL_FLOATS:
        return _FLOAT, _SPECIAL_FLOATS[text]
    if text == "<<":
        return _MERGE, text
    hint = text[0]
    if hint == ".":  # strconv.ParseFloat(in, 64)
        if re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", text):
            return _FLOAT, float(text)
        return _STR, text
    if hint in "0123456789+-":
        stamp = parse_timestamp(text)  # tried first (resolve.go:184-189): `2024-01-31` is no number
        if stamp is not None:
            return _TIMESTAMP, stamp
        plain = text.replace("_", "")
        value = _go_int(plain, 0)
        if value is not None:
            return _INT, value
        if _YAML_FLOAT.fullmatch(plain) and math.isfinite(float(plain)):  # ParseFloat: no range error
            return _FLOAT, float(plain)
        for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
            if plain.startswith(prefix):
                value = _go_int(("-" if prefix[0] == "-" else "") + plain[len(prefix) :], base)
                if value is not None:
                    return _INT, value
    return _STR, text


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v3's typing of plain scalars (YAML 1.2 core schema)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return resolve_plain(value)[0]
        return super().resolve(kind, value, implicit)

    def construct_go_scalar(self, node: Any) -> Any:
        return resolve_plain(str(self.construct_scalar(node)))[1]

    def construct_go_timestamp(self, node: Any) -> GoTime:
        # A plain timestamp, or an explicit !!timestamp, quoted or not (decode_test.go:711-719, 726-728),
        # which yaml.v3 refuses unless it parses: resolve.go:150, "cannot decode %s `%s` as a %s".
        text = str(self.construct_scalar(node))
        stamp = parse_timestamp(text)
        if stamp is None:
            kind = "!!" + resolve_plain(text)[0].rsplit(":", 1)[1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot decode {kind} `{text}` as a !!timestamp", node.start_mark
            )
        return stamp

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # yaml.v3 refuses a repeated key, PyYAML keeps the last one silently: gopkg.in/yaml.v3@v3.0.1
        # decode.go:776, `mapping key %#v already defined at line %d`.
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f'mapping key "{key_node.value}" already defined at line {seen[key]}',
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


for _tag in (_INT, _FLOAT, _BOOL, _NULL):
    Yaml12Loader.add_constructor(_tag, Yaml12Loader.construct_go_scalar)
Yaml12Loader.add_constructor(_TIMESTAMP, Yaml12Loader.construct_go_timestamp)


def load_yaml(path: Path, root: Path | None = None) -> Any:
    """Parse `path` as the CLI does; a syntax error is one line naming the file and position."""
    name = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
    try:
        text = path.read_text(encoding="utf-8-sig")  # the CLI strips a UTF-8 BOM (readFileStripUTF8BOM)
    except OSError as error:
        raise StackFileError(f"{name}: cannot read: {error.strerror}") from None
    try:
        return yaml.load(text, Loader=Yaml12Loader)  # a safe loader, YAML 1.2 typing
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = error.problem or error.context or "not valid YAML"
        raise StackFileError(f"{name}{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: invalid YAML: {str(error).splitlines()[0]}") from None


# ---------------------------------------------------------------------------------------------
# Values as the CLI hands them to the program
# ---------------------------------------------------------------------------------------------


def go_float_text(value: float) -> str:
    """Go's encoding/json text for a float64 ('f' format between 1e-6 and 1e21, else 'e')."""
    if math.isnan(value) or math.isinf(value):
        go = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")  # strconv.FormatFloat
        raise ValueError(f"json: unsupported value: {go}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return re.sub(r"e([-+])0(\d)$", r"e\1\2", repr(value))
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def _go_json(value: Any) -> Any:
    """`value` with floats that Go would write as whole numbers made ints (same JSON text)."""
    if isinstance(value, dict):
        return {_go_key(k): _go_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_json(v) for v in value]
    if isinstance(value, float):
        text = go_float_text(value)
        return int(text) if re.fullmatch(r"-?[0-9]+", text) else value
    return value


def _go_key(key: Any) -> str:
    """A non-string mapping key as Go's fmt "%v" prints it (object.go, unmarshalObject)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "<nil>"
    if isinstance(key, float):
        return go_float_text(key)
    return str(key)


def config_text(value: Any) -> tuple[str, bool]:
    """(text, is_object): what the program receives for a stack value (object.go, MarshalString).

    A date (GoTime) is its Go time text, as unmarshalObject makes it (object.go:490-491)."""
    if value is None:  # an empty value: "" (loaders.go, checkForEmptyConfig)
        return "", False
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        return go_float_text(value), False
    if isinstance(value, str):
        return str(value), False
    return json.dumps(_go_json(value), separators=(",", ":"), sort_keys=True), True


def default_text(value: Any) -> str:
    """A Pulumi.yaml default (or `value`) as the program receives it, its dates already made
    `_json_time`'s text (which raises ValueError where the CLI cannot encode one).

    createConfigValue (pkg/workspace/config.go:170-193) prints a string, int or bool with "%v" and
    JSON-encodes anything else: a float, objects, and a date as encoding/json writes a time.Time.
    A JSON string reaches the program without its quotes (config/map.go:46-68, Decrypt, then
    plaintext.go:256-268, marshalText: `pulumi up` never decrypts with the NopDecrypter that would
    keep them, pkg/cmd/pulumi/config/io.go:172-191).
    """
    return config_text(value)[0]


def _json_time(value: GoTime) -> str:
    """A date as Time.MarshalJSON writes it: RFC 3339, refusing an offset of 24 hours or more
    (golang/go src/time/format_rfc3339.go, appendStrictRFC3339)."""
    if value.rfc3339[-1] != "Z" and int(value.rfc3339[-5:-3]) >= 24:
        raise ValueError(
            f"{value.rfc3339} has an offset of 24 hours or more, which Go's JSON encoder refuses "
            "(Time.MarshalJSON: timezone hour outside of range [0,23])"
        )
    return value.rfc3339


def _dates_as(value: Any, convert: Callable[[GoTime], Any], keys: bool = False) -> Any:
    """`value` with each date (GoTime) at any depth, and as a map key if `keys`, made `convert(date)`."""
    if isinstance(value, GoTime):
        return convert(value)
    if isinstance(value, dict):
        return {
            (_dates_as(k, convert, keys) if keys else k): _dates_as(v, convert, keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_dates_as(v, convert, keys) for v in value]
    return value


def _as_stack_value(value: Any) -> Any:
    """`value` as unmarshalObject leaves a stack value: each date is the str of its Go time text,
    at any depth and as a map key (object.go:490-491; :505-510, keys printed with "%v")."""
    return _dates_as(value, str, keys=True)


# ---------------------------------------------------------------------------------------------
# Types (project.go, ValidateConfigValue)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigType:
    type: str | None  # None: not explicitly typed, so never checked
    items: ConfigType | None = None
    secret: bool = False

    @property
    def name(self) -> str:  # project.go, InferFullTypeName
        if self.items is not None:
            return f"array<{self.items.name}>"
        return self.type or ""


def matches(kind: ConfigType, value: Any) -> bool:
    """Whether `value` (a Go-shaped value: str, int, float, bool, dict, list) is of `kind`."""
    if isinstance(value, GoTime):  # a time.Time, left in Pulumi.yaml defaults only: of no type
        return False
    if kind.type == "string":
        return isinstance(value, str)
    if kind.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if isinstance(value, float):
            return value == math.trunc(value) if math.isfinite(value) else False
        if isinstance(value, str):  # strconv.Atoi
            return bool(_ATOI.fullmatch(value)) and _INT64[0] <= int(value) <= _INT64[1]
        return False
    if kind.type == "boolean":
        return value in ("true", "false") if isinstance(value, str) else isinstance(value, bool)
    if kind.type == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or kind.items is None:
        return False
    return all(matches(kind.items, item) for item in value)


def _items(declaration: Any, where: str, problems: list[str]) -> ConfigType | None:
    if not isinstance(declaration, dict) or declaration.get("type") not in TYPES:
        problems.append(f"{where}: 'items' needs a 'type', one of {', '.join(TYPES)}")
        return None
    inner = _items(declaration["items"], where, problems) if "items" in declaration else None
    return ConfigType(declaration["type"], inner)


# ---------------------------------------------------------------------------------------------
# Pulumi.yaml
# ---------------------------------------------------------------------------------------------


@dataclass
class ProjectConfig:
    name: str
    stack_config_dir: str
    declarations: dict[str, ConfigType] = field(default_factory=dict)  # qualified key -> type
    defaults: dict[str, Any] = field(default_factory=dict)  # qualified key -> default or value
    required: list[str] = field(default_factory=list)  # keys as written, like the CLI's message


def qualify(project: str, key: str) -> str:
    """A key as the CLI stores it: namespaced by the project unless it has a namespace
    (loaders.go, stackConfigNamespacedWithProject; pkg/workspace/config.go, parseConfigKey), and
    `ns:config:name` shortened to `ns:name` (sdk/go/common/resource/config/key.go, ParseKey)."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return key


def key_problem(key: Any) -> str | None:
    """Why the CLI cannot parse `key` as a configuration key (key.go, ParseKey), or None."""
    if isinstance(key, GoTime):
        # The CLI reads a stack file's keys again after writing the time out as RFC 3339
        # (loaders.go:219-222; config/map.go:310-321), and that text has colons.
        key = key.rfc3339
    if not isinstance(key, str):
        return f"expected only string keys, got '{_go_key(key)}'"
    colons = key.count(":")
    if colons == 1 or (colons == 0) or (colons == 2 and qualify("", key).count(":") == 1):
        return None
    return (
        f"could not parse {key} as a configuration key "
        "(configuration keys should be of the form `<namespace>:<name>`)"
    )


def load_project(root: Path) -> ProjectConfig:
    path = root / "Pulumi.yaml"
    data = load_yaml(path, root)
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or isinstance(name, GoTime) or not name:  # project.go:590, name.(string)
        raise StackFileError("Pulumi.yaml: project is missing a non-empty string 'name' attribute")
    project = ProjectConfig(data["name"], str(data.get("stackConfigDir") or "."))
    problems: list[str] = []
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError("Pulumi.yaml: 'config' must be a mapping of keys to declarations")
    for key, declaration in config.items():
        problem = key_problem(key)
        if problem:
            problems.append(f"Pulumi.yaml: {problem}")
            continue
        # Pulumi.yaml goes through its JSON schema first (project.go:596, ProjectSchema.Validate):
        # every declared attribute but default/value has a type, and a time.Time is no JSON type
        # (project.json:88-104; santhosh-tekuri/jsonschema@v5.0.0 schema.go:233-234, jsonType panics).
        attributes = declaration if isinstance(declaration, dict) else {"": declaration}
        dated = [a for a, v in attributes.items() if isinstance(v, GoTime) and a not in ("default", "value")]
        if dated:
            where = f"'{dated[0]}' of " if dated[0] else ""
            problems.append(
                f"Pulumi.yaml: {where}config key '{key}' is a date ({attributes[dated[0]].rfc3339}), which "
                "the CLI refuses here (jsonschema: invalid jsonType: time.Time): quote it"
            )
            continue
        own = ":" not in key or key.startswith(project.name + ":")
        # Shorthand: a scalar or list is the default of a project key, else a value
        # (project.go, RewriteShorthandConfigValues).
        if not isinstance(declaration, dict):
            declaration = {"default" if own else "value": declaration}
        _declare(project, key, declaration, own, problems)
    if problems:
        raise StackFileError("\n".join(problems))
    return project


def _declare(
    project: ProjectConfig, key: str, declaration: dict[str, Any], own: bool, problems: list[str]
) -> None:
    """One Pulumi.yaml config entry (project.go, Project.Validate)."""
    where = f"Pulumi.yaml: config key '{key}'"
    has_default, has_value = "default" in declaration, "value" in declaration
    if has_default and has_value:
        problems.append(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        return
    kind_name = declaration.get("type")
    if kind_name is not None and kind_name not in TYPES:
        problems.append(f"{where}: type '{kind_name}' is not one of {', '.join(TYPES)}")
        return
    qualified = qualify(project.name, key)
    if not own:
        if kind_name is not None:
            problems.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a type"
            )
        elif has_default:
            problems.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a default "
                "value. Did you mean to use the 'value' attribute instead of 'default'?"
            )
        elif not has_value:
            problems.append(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
        else:
            project.defaults[qualified] = declaration["value"]
        return
    items = None
    if kind_name == "array":
        if "items" not in declaration:
            problems.append(
                f"The configuration key '{key}' declares an array but does not specify the underlying type "
                "via the 'items' attribute"
            )
            return
        items = _items(declaration["items"], where, problems)
    kind = ConfigType(kind_name, items, bool(declaration.get("secret")))
    project.declarations[qualified] = kind
    # The CLI checks a default against the type, not a value (Project.Validate).
    if has_default and kind.type is not None and not matches(kind, declaration["default"]):
        problems.append(
            f"The default value specified for configuration key '{key}' "
            f"is not of the expected type '{kind.name}'"
        )
    if has_default or has_value:
        project.defaults[qualified] = declaration["default" if has_default else "value"]
    else:
        project.required.append(key)


# ---------------------------------------------------------------------------------------------
# The stack file, merged and checked
# ---------------------------------------------------------------------------------------------


@dataclass
class StackFile:
    """A stack file as the CLI hands it to the program (components/settings.py `ConfigKeys` is what
    the program then sees of it at run time: the keys and which are secrets)."""

    values: dict[str, str]  # qualified key -> text handed to the program
    secret_keys: list[str]
    warnings: list[str]


def _secure(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _has_secure(value: Any) -> bool:
    if _secure(value):
        return True
    if isinstance(value, dict):
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _placeholders(value: Any, name: str) -> Any:
    """Encrypted parts (unreadable offline) replaced by placeholders of the same shape."""
    if _secure(value):
        return f"offline-placeholder-for-{name}"
    if isinstance(value, dict):
        return {k: _placeholders(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return value


def _content(value: Any) -> Any:
    """What validateStackConfigValue checks: the text of a scalar, the JSON-decoded object."""
    text, is_object = config_text(value)
    return json.loads(text) if is_object else text


def read_stack(stack: str, root: Path) -> StackFile:
    """Project defaults overlaid with `stacks/Pulumi.<stack>.yaml`, checked as the CLI checks them.

    Every problem is reported at once (the CLI stops at the first). Encrypted (`secure:`) values
    cannot be read offline: they become placeholders marked secret, so the program takes the
    same code paths, and their type is taken on trust.
    """
    project = load_project(root)
    config_dir = root / project.stack_config_dir
    stack_file = config_dir / f"Pulumi.{stack}.yaml"
    shown = stack_file.relative_to(root) if stack_file.is_relative_to(root) else stack_file
    if not stack_file.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in config_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"no stack file {shown}; stacks: {', '.join(known)}")
    data = load_yaml(stack_file, root)
    if data is None:
        data = {}  # an empty stack file is an empty config (loaders.go, LoadProjectStackBytes)
    if not isinstance(data, dict):
        raise StackFileError(f"{shown}: expected a mapping with a 'config:' key")
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{shown}: 'config' must be a mapping of <namespace>:<key> to values")

    problems: list[str] = []
    warnings: list[str] = []
    given: dict[str, Any] = {}
    spellings: dict[str, list[str]] = {}
    for key, value in raw.items():
        problem = key_problem(key)
        if problem:
            problems.append(f"{shown}: {problem}")
            continue
        given[qualify(project.name, key)] = _as_stack_value(value)
        spellings.setdefault(qualify(project.name, key), []).append(key)
    # Stricter than the CLI, on purpose: it namespaces bare keys into a Go map
    # (loaders.go:61-86, stackConfigNamespacedWithProject), so of `rootUrl` and `botfront:rootUrl`
    # it keeps whichever its map iteration yields last, a different one from run to run.
    for key, written in spellings.items():
        if len(written) > 1:
            listed = " and ".join(f"'{w}'" for w in written)
            problems.append(f"{shown}: {listed} both set {key}; the CLI keeps either one at random: keep one")
    empty = sorted(k for k, v in raw.items() if v is None and isinstance(k, str))
    if empty:
        warnings.append(
            f"{shown}: no value for {', '.join(repr(k) for k in empty)}: the CLI passes an empty string "
            '`""` (and warns that a future version will pass null); write `""` to say so'
        )

    missing = [k for k in project.required if qualify(project.name, k) not in given]
    if missing:
        quoted = [f"'{k}'" for k in sorted(missing)]  # config.go, formatMissingKeys
        keys = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        problems.append(
            f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {keys}"
        )

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, default in project.defaults.items():
        if key not in given:
            try:
                encoded = _dates_as(default, _json_time)
                values[key] = default_text(encoded)
            except ValueError as error:  # what createConfigValue cannot encode fails `pulumi up`
                problems.append(f"Pulumi.yaml: default of '{key}': {error}")
                continue
            kind = project.declarations.get(key)
            if kind is not None and kind.type is not None and not matches(kind, _content(encoded)):
                problems.append(f"Pulumi.yaml: default of '{key}' must be of type '{kind.name}'")
    for key, value in given.items():
        kind = project.declarations.get(key)
        short = key.split(":", 1)[1] if key.startswith(project.name + ":") else key
        if _has_secure(value):
            secret_keys.append(key)
            value = _placeholders(value, key.split(":")[-1])
        elif kind is not None and kind.secret:
            problems.append(
                f"Stack '{stack}' with configuration key '{short}' must be encrypted as it's secret"
            )
        try:
            text, _ = config_text(value)
            content = _content(value)
        except ValueError as error:
            problems.append(f"{shown}: '{key}': {error}")
            continue
        if (
            kind is not None
            and kind.type is not None
            and key not in secret_keys
            and not matches(kind, content)
        ):
            problems.append(
                f"Stack '{stack}' with configuration key '{short}' must be of type '{kind.name}' "
                f"({shown}: {_describe(value)})"
            )
        values[key] = text
    if problems:
        raise StackFileError("\n".join(problems))
    return StackFile(values, secret_keys, warnings)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"got the string {value!r}" + (
            " - YAML 1.2 reads yes/no/on/off as strings; write true or false"
            if value.lower() in ("yes", "no", "on", "off", "y", "n")
            else ""
        )
    if value is None:
        return "got an empty value"
    return f"got {json.dumps(_go_json(value))}"
