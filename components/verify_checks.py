"""Does Botfront work? HTTP checks of every service, from inside the cluster or from outside.

Standard library only and Python 3.7 syntax: the verification Job runs this very file (shipped in
a ConfigMap) with the Python of the release's Rasa image, so no new image has to be trusted. Every
catalog image is built FROM python:3.7-slim with /opt/venv/bin on PATH: cloudbuild-tag.yaml builds
the published tag from docker/Dockerfile.botfront (v2.3.3-bf.3, v2.3.3-bf.3-rc.2) or
docker/Dockerfile_botfront (v2.2.5-bf.5, v1.10.16-bf.1) (botfront/rasa-for-botfront@<tag>).
`ops/verify.py` imports it for the outside-in checks, and the tests run it against loopback
servers.

    python checks.py PLAN.json     (in the Job: secrets arrive as environment variables)

Every failure names the service, the URL and what came back; nothing secret is ever printed
(tokens travel in a query string or header and are masked in URLs shown).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

# rasa/core/channels/socketio.py and rasa_addons/core/channels/webchat.py (both tags):
# credentials.get("socketio_path", "/socket.io"); the webchat's socket_path is the same.
SOCKETIO_PATH = "/socket.io/"
# A sentence Duckling must read as a time (RasaHQ/duckling exe/ExampleMain.hs: POST /parse with
# form fields text and locale; each entity's JSON carries "dim", Duckling/Types.hs).
DUCKLING_SENTENCE = "tomorrow at eight"
BODY_SHOWN = 200
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


class CheckFailed(Exception):
    """What came back, for the failure line."""


class Result(NamedTuple):
    service: str
    check: str
    url: str
    ok: bool
    detail: str

    def line(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return f"{verdict} {self.service}: {self.check} {self.url} - {self.detail}"


class Response(NamedTuple):
    status: int
    headers: dict
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def shown(self) -> str:
        text = " ".join(self.text().split())
        return repr(text[:BODY_SHOWN] + ("..." if len(text) > BODY_SHOWN else ""))


def shown_url(url: str) -> str:
    """The URL without its token's value: a token must never reach a log."""
    if "?" not in url:
        return url
    path, query = url.split("?", 1)
    items = ["token=***" if item.startswith("token=") else item for item in query.split("&")]
    return path + "?" + "&".join(items)


def fetch(
    method: str,
    url: str,
    headers: dict | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> Response:
    """One HTTP request; any status comes back, a connection problem raises CheckFailed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=context or ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    try:
        connection.request(method, target, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
    except (OSError, http.client.HTTPException) as error:
        raise CheckFailed(f"no answer: {type(error).__name__}: {error}") from None
    finally:
        connection.close()


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def _expect_status(response: Response, method: str, url: str, expected: int = 200) -> None:
    if response.status != expected:
        raise CheckFailed(
            f"{method} answered HTTP {response.status} (expected {expected}): {response.shown()}"
        )


def _json(response: Response) -> object:
    try:
        return json.loads(response.text())
    except ValueError:
        raise CheckFailed(
            f"answered HTTP {response.status} with a body that is not JSON: {response.shown()}"
        ) from None


# ---- the checks: each returns a detail on success and raises CheckFailed otherwise ------------


def botfront_health(base: str, api_key: str, timeout: float = 10.0) -> str:
    # Botfront's /health queries its own GraphQL healthCheck (Mongo connected) and forwards the
    # Authorization header; before 1.0.5 that query needs the API key too
    # (botfront/botfront@v1.0.5 and v0.27.5:botfront/imports/startup/server/apollo.js).
    url = _join(base, "/health")
    _expect_status(fetch("GET", url, {"Authorization": api_key}, timeout=timeout), "GET", url)
    return "HTTP 200"


def botfront_graphql(base: str, api_key: str, timeout: float = 10.0) -> str:
    """A POSTed GraphQL query: only the API key lets it through (apollo.js: context)."""
    url = _join(base, "/graphql")
    response = fetch(
        "POST",
        url,
        {"Authorization": api_key, "Content-Type": "application/json"},
        json.dumps({"query": "query { healthCheck }"}).encode(),
        timeout=timeout,
    )
    _expect_status(response, "POST", url)
    document = _json(response)
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("healthCheck") is not True:
        raise CheckFailed(f"healthCheck is not true: {response.shown()}")
    return "healthCheck true with the API key"


def rasa_root(base: str, timeout: float = 10.0) -> str:
    # rasa/server.py: GET / -> "Hello from Rasa: <version>" (both catalog tags).
    url = _join(base, "/")
    response = fetch("GET", url, timeout=timeout)
    _expect_status(response, "GET", url)
    if not response.text().startswith("Hello from Rasa"):
        raise CheckFailed(f"GET answered HTTP 200 but not as Rasa does: {response.shown()}")
    return response.text().strip()[:80]


def rasa_status(base: str, token: str | None, timeout: float = 10.0) -> str:
    """The token is accepted: 200, or 409 "No agent loaded" before the first model.

    rasa/server.py (v2.3.3-bf.3 and v1.10.16-bf.1): /status is wrapped in requires_auth (the
    `token` query parameter; 401 NotAuthenticated otherwise) and, inside it, ensure_loaded_agent
    (409 Conflict until a model is loaded), so a 409 is only ever reached with a valid token.
    """
    url = _join(base, "/status") + ("?" + urlencode({"token": token}) if token else "")
    response = fetch("GET", url, timeout=timeout)
    with_token = " with the instance's token" if token else " (no token in this release)"
    if response.status == 409 and "No agent loaded" in response.text():
        return "HTTP 409" + with_token + ": accepted, no model loaded yet"
    if response.status != 200:
        hint = " (is the token the one Rasa runs with?)" if response.status in (401, 403) else ""
        raise CheckFailed(f"GET {shown_url(url)} answered HTTP {response.status}{hint}: {response.shown()}")
    document = _json(response)
    if not isinstance(document, dict):
        raise CheckFailed(f"/status answered with something other than a JSON object: {response.shown()}")
    return "HTTP 200" + with_token


def socketio_polling(
    base: str, eio: int, timeout: float = 10.0, context: ssl.SSLContext | None = None
) -> str:
    """The Engine.IO open packet over long-polling: what a webchat does first."""
    query = {"EIO": str(eio), "transport": "polling"}
    if eio == 3:
        query["b64"] = "1"  # text framing: "<length>:<packet>" (EIO 3 defaults to binary)
    url = _join(base, SOCKETIO_PATH) + "?" + urlencode(query)
    response = fetch("GET", url, timeout=timeout, context=context)
    _expect_status(response, "GET", url)
    return "open packet, " + _open_packet(response.text(), eio, response)


def _open_packet(text: str, eio: int, response: Response | None = None) -> str:
    payload = text
    if eio == 3 and ":" in payload:
        payload = payload.split(":", 1)[1]
    if not payload.startswith("0"):
        raise CheckFailed(f"no Engine.IO open packet: {response.shown() if response else repr(text)}")
    try:
        packet, _ = json.JSONDecoder().raw_decode(payload[1:])
    except ValueError:
        raise CheckFailed(f"the open packet is not JSON: {payload[:BODY_SHOWN]!r}") from None
    if not isinstance(packet, dict) or not packet.get("sid"):
        raise CheckFailed(f"the open packet has no session id: {payload[:BODY_SHOWN]!r}")
    return "upgrades {}".format(packet.get("upgrades"))


def socketio_websocket(
    base: str, eio: int, timeout: float = 10.0, context: ssl.SSLContext | None = None
) -> str:
    """A websocket straight to Engine.IO: the upgrade must pass the ingress, then the open packet."""
    url = _join(base, SOCKETIO_PATH) + "?" + urlencode({"EIO": str(eio), "transport": "websocket"})
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname or ""
    key = base64.b64encode(os.urandom(16)).decode()
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise CheckFailed(f"no answer: {type(error).__name__}: {error}") from None
    try:
        sock = raw
        if secure:
            sock = (context or ssl.create_default_context()).wrap_socket(raw, server_hostname=host)
        host_header = parts.netloc.rsplit("@", 1)[-1]
        request = (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {host_header}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode())
        head, rest = _read_head(sock)
        status_line, *header_lines = head.split("\r\n")
        pieces = status_line.split(" ", 2)
        status = int(pieces[1]) if len(pieces) > 1 and pieces[1].isdigit() else 0
        if status != 101:
            raise CheckFailed(
                f"the websocket upgrade answered {status_line!r} "
                f"(expected 101 Switching Protocols){_body_hint(rest)}"
            )
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise CheckFailed(
                "101 without a valid Sec-WebSocket-Accept: {!r}".format(headers.get("sec-websocket-accept"))
            )
        opcode, payload = _read_frame(sock, rest)
        if opcode != 1:
            raise CheckFailed(f"the first websocket frame is not text (opcode {opcode})")
        detail = _open_packet(payload.decode("utf-8", "replace"), 4)
        sock.sendall(_masked_frame(8, b"\x03\xe8"))  # close, 1000 normal
        return "101 Switching Protocols, open packet, " + detail
    except (OSError, ValueError) as error:
        raise CheckFailed(f"websocket: {type(error).__name__}: {error}") from None
    finally:
        raw.close()


def _body_hint(rest: bytes) -> str:
    text = " ".join(rest.decode("utf-8", "replace").split())
    return f": {text[:BODY_SHOWN]!r}" if text else ""


def _read_head(sock: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise CheckFailed(f"the connection closed before a response: {data[:BODY_SHOWN]!r}")
        data += chunk
        if len(data) > 65536:
            raise CheckFailed("response headers too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def _read_exact(sock: socket.socket, buffer: bytes, count: int) -> tuple[bytes, bytes]:
    while len(buffer) < count:
        chunk = sock.recv(4096)
        if not chunk:
            raise CheckFailed("the websocket closed before its first frame")
        buffer += chunk
    return buffer[:count], buffer[count:]


def _read_frame(sock: socket.socket, buffer: bytes) -> tuple[int, bytes]:
    head, buffer = _read_exact(sock, buffer, 2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        extended, buffer = _read_exact(sock, buffer, 2)
        length = int.from_bytes(extended, "big")
    elif length == 127:
        extended, buffer = _read_exact(sock, buffer, 8)
        length = int.from_bytes(extended, "big")
    if head[1] & 0x80:
        _, buffer = _read_exact(sock, buffer, 4)  # servers do not mask; tolerate it anyway
    payload, _ = _read_exact(sock, buffer, length)
    return opcode, payload


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def duckling_parse(base: str, timeout: float = 10.0) -> str:
    url = _join(base, "/parse")
    body = urlencode({"locale": "en_US", "text": DUCKLING_SENTENCE}).encode()
    response = fetch(
        "POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, body, timeout=timeout
    )
    _expect_status(response, "POST", url)
    entities = _json(response)
    dims = [e.get("dim") for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []
    if "time" not in dims:
        raise CheckFailed(f"{DUCKLING_SENTENCE!r} gave no time entity: {response.shown()}")
    return f"{DUCKLING_SENTENCE!r} -> time"


def actions_health(base: str, timeout: float = 10.0) -> str:
    # rasa_sdk/endpoint.py: GET /health -> {"status": "ok"}.
    url = _join(base, "/health")
    response = fetch("GET", url, timeout=timeout)
    _expect_status(response, "GET", url)
    document = _json(response)
    if not isinstance(document, dict) or document.get("status") != "ok":
        raise CheckFailed(f"status is not ok: {response.shown()}")
    return "status ok"


def botfront_api_health(base: str, timeout: float = 10.0) -> str:
    # botfront/botfront@v0.27.5:api/routes/index.js: GET /health-check -> {version, healthy: true}.
    url = _join(base, "/health-check")
    response = fetch("GET", url, timeout=timeout)
    _expect_status(response, "GET", url)
    document = _json(response)
    if not isinstance(document, dict) or document.get("healthy") is not True:
        raise CheckFailed(f"healthy is not true: {response.shown()}")
    return "healthy, version {}".format(document.get("version"))


# ---- outside-in only ----------------------------------------------------------------------------


def tls_certificate(url: str, timeout: float = 10.0, context: ssl.SSLContext | None = None) -> str:
    """The certificate the host presents verifies against the trust store and names the host."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = context or ssl.create_default_context()
    try:
        # Two statements, not one parenthesised `with`: that syntax needs Python 3.10.
        with socket.create_connection((host, port), timeout=timeout) as raw:  # noqa: SIM117
            with context.wrap_socket(raw, server_hostname=host) as sock:
                certificate = sock.getpeercert()
    except ssl.SSLCertVerificationError as error:
        raise CheckFailed(f"certificate rejected: {error.verify_message or error}") from None
    except (OSError, ssl.SSLError) as error:
        raise CheckFailed(f"no TLS handshake: {type(error).__name__}: {error}") from None
    expires = ssl.cert_time_to_seconds(str(certificate["notAfter"])) if certificate else time.time()
    return f"valid for {host}, expires in {int((expires - time.time()) // 86400)} days"


def not_reachable(url: str, timeout: float = 10.0, context: ssl.SSLContext | None = None) -> str:
    """Rasa's HTTP API must not answer from outside: 403, 404 or a redirect (the ingress) pass.

    Rasa itself answers /status with 200 or 401 and GET /model with 405 (only PUT /model exists):
    any of those means the path is routed to Rasa. A 3xx (an ingress's http -> https redirect)
    is not followed (`fetch` follows none): the API was not served by that answer.
    """
    response = fetch("GET", url, timeout=timeout, context=context)
    if 300 <= response.status < 400:
        where = response.headers.get("location")
        to = f" to {where}" if where else ""
        return f"HTTP {response.status} from the ingress (redirect{to}, not followed)"
    if response.status not in (403, 404):
        raise CheckFailed(
            f"reachable from outside: GET answered HTTP {response.status} "
            f"(expected 403, 404 or a redirect from the ingress): {response.shown()}"
        )
    return f"HTTP {response.status} from the ingress"


def public_url(url: str, timeout: float = 10.0, context: ssl.SSLContext | None = None) -> str:
    response = fetch("GET", url, timeout=timeout, context=context)
    _expect_status(response, "GET", url)
    return "HTTP 200"


# ---- running a list of checks -------------------------------------------------------------------


class Check(NamedTuple):
    service: str
    name: str
    url: str
    run: Callable[[], str]


def run_check(check: Check, deadline: float, interval: float) -> Result:
    """Retry until it passes or the deadline passes: services may still be settling."""
    while True:
        try:
            return Result(check.service, check.name, shown_url(check.url), True, check.run())
        except CheckFailed as failure:
            if time.monotonic() + interval >= deadline:
                return Result(check.service, check.name, shown_url(check.url), False, str(failure))
            time.sleep(interval)


def run_all(
    checks: list[Check], wait: float = 0.0, interval: float = 5.0, out: Callable[[str], None] = print
) -> list[Result]:
    deadline = time.monotonic() + wait
    results = []
    for check in checks:
        result = run_check(check, deadline, interval)
        out(result.line())
        results.append(result)
    return results


def in_cluster_checks(plan: dict, env: Mapping[str, str], timeout: float = 10.0) -> list[Check]:
    """The checks a plan (written by components/verify.py) asks for; secrets come from `env`."""
    botfront = plan["botfront"]
    url = botfront["url"]
    api_key = env.get(botfront["apiKeyEnv"])
    checks = [
        Check(
            "botfront",
            "/health",
            _join(url, "/health"),
            _with_secret(botfront_health, url, api_key, botfront["apiKeyEnv"], timeout),
        ),
        Check(
            "botfront",
            "GraphQL with the API key",
            _join(url, "/graphql"),
            _with_secret(botfront_graphql, url, api_key, botfront["apiKeyEnv"], timeout),
        ),
    ]
    for rasa in plan.get("rasa", []):
        name, url, eio = rasa["name"], rasa["url"], int(rasa["engineio"])
        token_env = rasa.get("tokenEnv")
        if token_env:
            status = _with_secret(rasa_status, url, env.get(token_env), token_env, timeout)
        else:
            status = partial(rasa_status, url, None, timeout)
        checks += [
            Check(name, "/", _join(url, "/"), partial(rasa_root, url, timeout)),
            Check(name, "/status", _join(url, "/status") + ("?token=***" if token_env else ""), status),
            Check(
                name,
                "socket.io handshake",
                _join(url, SOCKETIO_PATH),
                partial(socketio_polling, url, eio, timeout),
            ),
        ]
    if plan.get("duckling"):
        url = plan["duckling"]
        checks.append(Check("duckling", "parse", _join(url, "/parse"), partial(duckling_parse, url, timeout)))
    for actions in plan.get("actions", []):
        url = actions["url"]
        checks.append(
            Check(actions["name"], "/health", _join(url, "/health"), partial(actions_health, url, timeout))
        )
    if plan.get("botfrontApi"):
        url = plan["botfrontApi"]
        checks.append(
            Check(
                "botfront-api",
                "/health-check",
                _join(url, "/health-check"),
                partial(botfront_api_health, url, timeout),
            )
        )
    return checks


def _with_secret(
    check: Callable[[str, str, float], str], url: str, secret: str | None, env_name: str, timeout: float
) -> Callable[[], str]:
    def run() -> str:
        if not secret:
            raise CheckFailed(
                f"the environment variable {env_name} is not set: the Job's secretKeyRef is missing"
            )
        return check(url, secret, timeout)

    return run


def summary(results: list[Result], logs_hint: str) -> str:
    failed = [r for r in results if not r.ok]
    if not failed:
        return f"all {len(results)} checks passed"
    lines = [f"{len(failed)} of {len(results)} checks failed:"]
    lines += [r.line() for r in failed]
    if logs_hint:
        lines.append("Every check's result: " + logs_hint)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Check every Botfront service from inside the cluster.")
    parser.add_argument("plan", help="JSON file: the services to check (components/verify.py)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to keep retrying a failing check")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument(
        "--termination-log", default="", help="where to write the summary for the Job's status"
    )
    args = parser.parse_args(argv)
    with open(args.plan) as handle:
        plan = json.load(handle)
    results = run_all(in_cluster_checks(plan, dict(os.environ), args.timeout), args.wait, args.interval)
    hint = ""
    if os.environ.get("VERIFY_JOB"):
        hint = "kubectl -n {} logs job/{}".format(
            os.environ.get("VERIFY_NAMESPACE", "<namespace>"), os.environ["VERIFY_JOB"]
        )
    text = summary(results, hint)
    print(text)
    if args.termination_log:
        try:
            # The provider shows a terminated container's message in `pulumi up`'s error.
            with open(args.termination_log, "w") as handle:
                handle.write(text[-4000:])
        except OSError:
            pass
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
