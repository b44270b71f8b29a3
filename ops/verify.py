"""Outside-in check of a deployed stack, from a user's machine or CI.

    python -m ops.verify --stack dev                      (reads `pulumi stack output --json`)
    python -m ops.verify --outputs outputs.json           (the same JSON, saved)
    python -m ops.verify --botfront-url https://... --rasa-url https://... --release 1.0.5

Checks that the public URLs answer, that each https host's TLS certificate is valid for it
(the default trust store, or --cafile), that the ingress routes each Rasa's webchat socket.io
path (long-polling handshake and websocket upgrade), and that Rasa's HTTP API (`/status`,
`/model`) is not reachable from outside. One PASS/FAIL line per check, and a SKIP line (not a
pass) for the TLS check of each http:// URL; exit 1 on any failure,
2 when the stack's outputs cannot be read. The checks themselves are components/verify_checks.py,
the same module the in-cluster verification Job runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from components import verify_checks as checks
from components.releases import CATALOG, DEFAULT_RELEASE


class OutputsError(Exception):
    """The stack's outputs cannot be read or lack what the checks need."""


@dataclass(frozen=True)
class Target:
    botfront_url: str
    rasa_urls: tuple[str, ...]
    release: str


def stack_outputs(stack: str) -> dict[str, Any]:
    """`pulumi stack output --json`: secrets stay masked (no check needs one)."""
    if shutil.which("pulumi") is None:
        raise OutputsError(
            "the Pulumi CLI is not on PATH: install it, or pass --outputs FILE "
            "(saved from `pulumi stack output --json`) or --botfront-url/--rasa-url"
        )
    # From the project's directory, where Pulumi.yaml (and stackConfigDir) are.
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if result.returncode != 0:
        raise OutputsError(f"pulumi stack output --stack {stack} failed: {result.stderr.strip()}")
    return parse_json(result.stdout, f"the outputs of stack {stack}")


def parse_json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise OutputsError(f"{what} are not JSON: {error}") from None
    if not isinstance(value, dict):
        raise OutputsError(f"{what} are not a JSON object")
    return value


def target_from_outputs(outputs: dict[str, Any]) -> Target:
    botfront = outputs.get("botfrontUrl")
    instances = outputs.get("rasaInstances")
    rasa: list[str] = []
    if isinstance(instances, list):
        rasa = [i["rasaUrl"] for i in instances if isinstance(i, dict) and isinstance(i.get("rasaUrl"), str)]
    if not rasa and isinstance(outputs.get("rasaUrl"), str):
        rasa = [outputs["rasaUrl"]]
    problems = []
    if not isinstance(botfront, str) or not botfront:
        problems.append(f"botfrontUrl is {botfront!r}: expected the Botfront URL")
    if not rasa:
        problems.append("neither rasaInstances[].rasaUrl nor rasaUrl holds a Rasa URL")
    if problems:
        raise OutputsError("the stack outputs lack what the checks need: " + "; ".join(problems))
    assert isinstance(botfront, str)
    return Target(botfront, tuple(dict.fromkeys(rasa)), str(outputs.get("release") or DEFAULT_RELEASE))


def plan_checks(target: Target, context: ssl.SSLContext, timeout: float) -> list[checks.Check]:
    found: list[checks.Check] = []
    https_hosts = [u for u in (target.botfront_url, *target.rasa_urls) if urlsplit(u).scheme == "https"]
    for url in dict.fromkeys(https_hosts):
        found.append(
            checks.Check(
                _host(url), "TLS certificate", url, partial(checks.tls_certificate, url, timeout, context)
            )
        )
    found.append(
        checks.Check(
            "botfront",
            "public URL answers",
            target.botfront_url,
            partial(checks.public_url, target.botfront_url, timeout, context),
        )
    )
    eio = CATALOG[target.release].engineio if target.release in CATALOG else 4
    for url in target.rasa_urls:
        service = "rasa " + _host(url)
        socketio = url.rstrip("/") + checks.SOCKETIO_PATH
        found.append(
            checks.Check(
                service,
                "socket.io polling handshake through the ingress",
                socketio,
                partial(checks.socketio_polling, url, eio, timeout, context),
            )
        )
        found.append(
            checks.Check(
                service,
                "socket.io websocket upgrade through the ingress",
                socketio,
                partial(checks.socketio_websocket, url, eio, timeout, context),
            )
        )
        for path in ("/status", "/model"):
            api = url.rstrip("/") + path
            found.append(
                checks.Check(
                    service,
                    f"HTTP API {path} not reachable",
                    api,
                    partial(checks.not_reachable, api, timeout, context),
                )
            )
    return found


def skipped(target: Target) -> list[str]:
    """One SKIP line per http:// URL, whose TLS certificate cannot be checked (not a pass)."""
    urls = [u for u in (target.botfront_url, *target.rasa_urls) if urlsplit(u).scheme != "https"]
    return [
        f"SKIP {_host(url)}: TLS certificate {checks.shown_url(url)} - not checked: the URL is not https"
        for url in dict.fromkeys(urls)
    ]


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def ssl_context(cafile: str | None) -> ssl.SSLContext:
    """The default context (system trust store, hostname checks); --cafile adds a private CA."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.verify",
        description="Outside-in check of a deployed Botfront stack: public URLs, TLS, the webchat's "
        "socket.io path through the ingress, and Rasa's HTTP API kept private.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="read the URLs from `pulumi stack output --json --stack STACK`")
    source.add_argument("--outputs", help="a file holding `pulumi stack output --json`")
    source.add_argument("--botfront-url", help="the Botfront URL (with --rasa-url)")
    parser.add_argument("--rasa-url", action="append", default=[], help="a public Rasa URL (repeatable)")
    parser.add_argument(
        "--release",
        default=None,
        help=f"the Botfront release, for the socket.io protocol (default {DEFAULT_RELEASE})",
    )
    parser.add_argument("--cafile", help="also trust this CA bundle (PEM), e.g. a private or test CA")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="keep retrying failing checks for this many seconds (default 0)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between retries (default 5)")
    args = parser.parse_args(argv)

    try:
        if args.botfront_url:
            if not args.rasa_url:
                raise OutputsError("--botfront-url needs at least one --rasa-url")
            target = Target(args.botfront_url, tuple(args.rasa_url), args.release or DEFAULT_RELEASE)
        else:
            if args.stack:
                outputs = stack_outputs(args.stack)
            else:
                path = Path(args.outputs)
                if not path.is_file():
                    raise OutputsError(f"--outputs {args.outputs}: no such file")
                outputs = parse_json(path.read_text(), f"the outputs in {args.outputs}")
            target = target_from_outputs(outputs)
            if args.release:
                target = Target(target.botfront_url, target.rasa_urls, args.release)
        context = ssl_context(args.cafile)
    except (OutputsError, OSError, ssl.SSLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    skips = skipped(target)
    for line in skips:
        out(line)
    results = checks.run_all(plan_checks(target, context, args.timeout), args.wait, args.interval, out)
    failed = sum(not r.ok for r in results)
    summary = f"{len(results) - failed} passed, {failed} failed"
    out(summary + (f", {len(skips)} skipped" if skips else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
