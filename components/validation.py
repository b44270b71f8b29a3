"""Small validators that collect every problem instead of stopping at the first.

Each check names the config key, the value it got and what is allowed, so a user reading the
error never has to open the code.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pulumi

T = TypeVar("T")

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?|\.[0-9]+)(?P<suffix>[a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


class ConfigError(pulumi.RunError):
    """Every problem with a stack's configuration, reported at once and without a traceback.

    A `pulumi.RunError` makes the language host print only the message, not the program source.
    """

    def __init__(self, problems: list[str], stack: str | None = None) -> None:
        self.problems = problems
        where = f" for stack '{stack}'" if stack else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"invalid configuration{where} ({len(problems)} {noun}); nothing was deployed:\n{lines}"
        )


def show(value: Any) -> str:
    """A value as the user wrote it, short enough for one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Problems:
    """Collects configuration problems; `raise_if_any` ends validation with all of them."""

    def __init__(self, namespace: str = "botfront") -> None:
        self.namespace = namespace
        self.items: list[str] = []

    def key(self, path: str) -> str:
        return f"{self.namespace}:{path}"

    def add(self, path: str, value: Any, allowed: str) -> None:
        self.items.append(f"{self.key(path)}: got {show(value)}; {allowed}")

    def note(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self, stack: str | None = None) -> None:
        if self.items:
            raise ConfigError(self.items, stack)

    # --- typed readers: each returns a usable fallback so validation can go on -------------

    def string(
        self,
        path: str,
        value: Any,
        default: str,
        pattern: re.Pattern[str] | None = None,
        allowed: str = "a string",
        max_len: int | None = None,
    ) -> str:
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(path, value, f"expected {allowed}")
            return default
        if (pattern is not None and not pattern.match(value)) or (
            max_len is not None and len(value) > max_len
        ):
            self.add(path, value, f"expected {allowed}")
            return default
        return value

    def choice(self, path: str, value: Any, default: str, choices: Iterable[str]) -> str:
        options = list(choices)
        if value is None:
            return default
        if value not in options:
            self.add(path, value, "allowed: " + ", ".join(options))
            return default
        return str(value)

    def boolean(self, path: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.add(path, value, "expected true or false")
        return default

    def integer(self, path: str, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip())
        ):
            number = int(value)
        if number is None or not low <= number <= high:
            self.add(path, value, f"expected a whole number from {low} to {high}")
            return default
        return number

    def mapping(self, path: str, value: Any, allowed_keys: Iterable[str] | None = None) -> dict[str, Any]:
        """An object; unknown keys are problems (a typo must not be silently ignored)."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(path, value, "expected an object (a YAML mapping)")
            return {}
        if allowed_keys is not None:
            allowed = list(allowed_keys)
            for key in value:
                if key not in allowed:
                    allowed_text = "unknown key; allowed: " + ", ".join(allowed)
                    self.add(f"{path}.{key}", value[key], allowed_text)
        return dict(value)

    def each(self, path: str, value: Any, read: Callable[[str, Any], T]) -> list[T]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, value, "expected a list")
            return []
        return [read(f"{path}[{i}]", item) for i, item in enumerate(value)]


def parse_quantity(text: str) -> Decimal | None:
    """A Kubernetes resource quantity in base units, or None if it is not one."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    suffix = match.group("suffix")
    try:
        number = Decimal(match.group("num"))
    except InvalidOperation:
        return None
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix == "m":
        return number / 1000
    return None


def check_quantity(problems: Problems, path: str, value: Any, kind: str) -> str | None:
    """A positive quantity; `kind` is "cpu" (cores or millicores) or "bytes"."""
    if value is None:
        return None
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    quantity = parse_quantity(text) if isinstance(text, str) else None
    if kind == "bytes" and isinstance(text, str) and text.strip().endswith("m"):
        quantity = None  # "512m" bytes means millibytes: almost certainly a typo for 512Mi
    if quantity is None or quantity <= 0:
        example = "500m or 1.5 (cores)" if kind == "cpu" else "512Mi, 1Gi or 10Gi"
        problems.add(path, value, f"expected a positive Kubernetes quantity, e.g. {example}")
        return None
    return str(text)


def check_url(problems: Problems, path: str, value: Any, required: bool) -> str | None:
    """An absolute http(s) URL with a host and no query or fragment."""
    if value is None or value == "":
        if required:
            problems.add(
                path,
                value,
                "required: the public URL users open, e.g. https://botfront.example.com "
                f"(pulumi config set {problems.key(path)} https://...)",
            )
        return None
    allowed = "expected an absolute http:// or https:// URL with a host and no query or fragment"
    if not isinstance(value, str) or value != value.strip():
        problems.add(path, value, allowed)
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        problems.add(path, value, allowed)
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        problems.add(path, value, allowed)
        return None
    if port is not None and not 1 <= port <= 65535:
        problems.add(path, value, allowed)
        return None
    if not is_ip(host) and not DNS_SUBDOMAIN.match(host):
        problems.add(path, value, "the host must be a lower-case DNS name or an IP address")
        return None
    return value.rstrip("/")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
