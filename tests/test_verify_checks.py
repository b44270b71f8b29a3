"""The verification checks against loopback servers that behave like healthy and broken services.

Rasa's socket.io is a real python-socketio AsyncServer (Engine.IO 4, as in rasa-for-botfront
v2.3.3-bf.3's python-engineio 4.0.0); the rest are stdlib HTTP servers answering what each
service answers (the sources are cited in components/verify_checks.py).
"""

from __future__ import annotations

import ast
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from components import verify_checks as checks
from tests.loopback import (
    Request,
    Service,
    http_service,
    json_answer,
    self_signed,
    server_context,
    socketio_service,
    text,
)

API_KEY = "k3y-for-the-tests-only"
TOKEN = "t0ken-for-the-tests-only"
SOURCE = Path(checks.__file__)


def failure(run: object) -> str:
    with pytest.raises(checks.CheckFailed) as info:
        run()  # type: ignore[operator]
    return str(info.value)


# ---- fakes of Rasa (real socket.io) and of the HTTP services ----------------------------------


async def _rasa_root(request: web.Request) -> web.StreamResponse:
    return web.Response(text="Hello from Rasa: 2.3.3-bf.3")


async def _rasa_status(request: web.Request) -> web.StreamResponse:
    if request.query.get("token") != TOKEN:
        body = {"status": "failure", "reason": "NotAuthenticated", "message": "User is not authenticated."}
        return web.json_response(body, status=401)
    return web.json_response({"model_file": "models/x.tar.gz", "num_active_training_jobs": 0})


@pytest.fixture(scope="module")
def rasa() -> Iterator[Service]:
    routes = {("GET", "/"): _rasa_root, ("GET", "/status"): _rasa_status}
    with socketio_service(routes) as service:
        yield service


def _graphql(request: Request) -> tuple[int, dict[str, str], bytes]:
    if request.headers.get("Authorization") != API_KEY:
        return json_answer(
            400, '{"errors":[{"message":"Unauthorized","extensions":{"code":"UNAUTHENTICATED"}}]}'
        )
    query = json.loads(request.body)["query"]
    assert "healthCheck" in query
    return json_answer(200, '{"data":{"healthCheck":true}}')


def _duckling(request: Request) -> tuple[int, dict[str, str], bytes]:
    form = parse_qs(request.body.decode())
    if form.get("locale") != ["en_US"] or "text" not in form:
        return text(422, "Need a 'text' parameter to parse")
    entity = {"body": form["text"][0], "dim": "time", "value": {"value": "2026-11-30T08:00:00.000Z"}}
    return json_answer(200, json.dumps([entity]))


HEALTHY = {
    ("GET", "/health"): lambda r: text(200 if r.headers.get("Authorization") == API_KEY else 500, ""),
    ("POST", "/graphql"): _graphql,
    ("POST", "/parse"): _duckling,
    ("GET", "/health-check"): lambda r: json_answer(200, '{"version":"0.27.5","healthy":true}'),
    ("GET", "/status"): lambda r: json_answer(200, "{}"),
}


@pytest.fixture(scope="module")
def healthy() -> Iterator[Service]:
    with http_service(HEALTHY) as service:
        yield service


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the module itself ---------------------------------------------------------------------------


def test_the_module_is_python_37_syntax_and_stdlib_only() -> None:
    tree = ast.parse(SOURCE.read_text(), feature_version=(3, 7))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
    # 3.8+ only syntax that feature_version does not catch: none of these may appear.
    source = SOURCE.read_text()
    assert ":=" not in source and "removeprefix" not in source


# ---- Botfront ------------------------------------------------------------------------------------


def test_botfront_health_sends_the_api_key(healthy: Service) -> None:
    assert checks.botfront_health(healthy.url, API_KEY) == "HTTP 200"
    assert healthy.requests[-1].headers["Authorization"] == API_KEY


def test_botfront_health_failure_names_what_came_back(healthy: Service) -> None:
    assert failure(lambda: checks.botfront_health(healthy.url, "wrong")) == (
        "GET answered HTTP 500 (expected 200): ''"
    )


def test_graphql_passes_with_the_api_key_only(healthy: Service) -> None:
    assert checks.botfront_graphql(healthy.url, API_KEY) == "healthCheck true with the API key"
    message = failure(lambda: checks.botfront_graphql(healthy.url, "wrong"))
    assert message.startswith("POST answered HTTP 400 (expected 200):")
    assert "Unauthorized" in message


def test_graphql_without_health_is_a_failure() -> None:
    routes = {("POST", "/graphql"): lambda r: json_answer(200, '{"data":{"healthCheck":false}}')}
    with http_service(routes) as service:
        message = failure(lambda: checks.botfront_graphql(service.url, API_KEY))
    assert message == 'healthCheck is not true: \'{"data":{"healthCheck":false}}\''


# ---- Rasa ----------------------------------------------------------------------------------------


def test_rasa_root_and_status_with_its_token(rasa: Service) -> None:
    assert checks.rasa_root(rasa.url) == "Hello from Rasa: 2.3.3-bf.3"
    assert checks.rasa_status(rasa.url, TOKEN) == "HTTP 200 with the instance's token"


def test_rasa_status_with_a_wrong_token_never_shows_the_token(rasa: Service) -> None:
    message = failure(lambda: checks.rasa_status(rasa.url, "not-" + TOKEN))
    assert message.startswith(f"GET {rasa.url}/status?token=*** answered HTTP 401 (is the token")
    assert "NotAuthenticated" in message
    assert TOKEN not in message


def test_rasa_status_before_the_first_model_is_accepted_only_as_rasas_409() -> None:
    no_agent = (
        '{"version":"2.3.3","status":"failure","message":"No agent loaded. To continue processing, a '
        'model of a trained agent needs to be loaded.","reason":"Conflict","code":409}'
    )
    with http_service({("GET", "/status"): lambda r: json_answer(409, no_agent)}) as service:
        assert checks.rasa_status(service.url, TOKEN) == (
            "HTTP 409 with the instance's token: accepted, no model loaded yet"
        )
    # Another 409 is not Rasa's "no model": it fails.
    with http_service({("GET", "/status"): lambda r: json_answer(409, "{}")}) as service:
        assert failure(lambda: checks.rasa_status(service.url, TOKEN)) == (
            f"GET {service.url}/status?token=*** answered HTTP 409: '{{}}'"
        )


def test_rasa_status_without_a_token_where_the_release_runs_none(healthy: Service) -> None:
    assert checks.rasa_status(healthy.url, None) == "HTTP 200 (no token in this release)"
    assert "token" not in healthy.requests[-1].path


def test_something_else_on_rasas_port_is_not_rasa(healthy: Service) -> None:
    routes = {("GET", "/"): lambda r: text(200, "<html>Welcome to nginx!</html>")}
    with http_service(routes) as service:
        message = failure(lambda: checks.rasa_root(service.url))
    assert message == "GET answered HTTP 200 but not as Rasa does: '<html>Welcome to nginx!</html>'"


def test_socketio_handshake_against_a_real_engineio_4_server(rasa: Service) -> None:
    assert checks.socketio_polling(rasa.url, 4) == "open packet, upgrades ['websocket']"


def test_socketio_handshake_with_the_wrong_protocol_revision_fails(rasa: Service) -> None:
    # python-engineio 4 refuses EIO=3 clients: what a 0.27.5 webchat would meet on a 1.0.5 Rasa.
    message = failure(lambda: checks.socketio_polling(rasa.url, 3))
    assert message.startswith("GET answered HTTP 400 (expected 200):")
    assert "unsupported version" in message


def test_socketio_handshake_of_engineio_3_text_framing() -> None:
    # python-engineio 3 (Rasa 1.10/2.2) with b64=1: "<length>:<packet>" payloads.
    seen = []

    def open_packet(request: Request) -> tuple[int, dict[str, str], bytes]:
        seen.append(request.path)
        packet = '0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":60000}'
        return text(200, f"{len(packet)}:{packet}2:40")

    with http_service({("GET", "/socket.io/"): open_packet}) as service:
        assert checks.socketio_polling(service.url, 3) == "open packet, upgrades ['websocket']"
    assert "EIO=3" in seen[0] and "transport=polling" in seen[0] and "b64=1" in seen[0]


def test_socketio_path_answered_by_something_else_fails() -> None:
    with http_service({("GET", "/socket.io/"): lambda r: text(200, "<html>app</html>")}) as service:
        assert failure(lambda: checks.socketio_polling(service.url, 4)) == (
            "no Engine.IO open packet: '<html>app</html>'"
        )


def test_websocket_upgrade_against_a_real_server(rasa: Service) -> None:
    assert checks.socketio_websocket(rasa.url, 4) == ("101 Switching Protocols, open packet, upgrades []")


def test_websocket_upgrade_refused_names_the_answer() -> None:
    # An ingress without websocket support answers the upgrade like any GET.
    with http_service({}) as service:
        message = failure(lambda: checks.socketio_websocket(service.url, 4))
    assert message.startswith("the websocket upgrade answered 'HTTP/1.0 404 Not Found' (expected 101")


# ---- Duckling, actions, botfront-api --------------------------------------------------------------


def test_duckling_parses_the_sentence_into_a_time(healthy: Service) -> None:
    assert checks.duckling_parse(healthy.url) == "'tomorrow at eight' -> time"
    form = parse_qs(healthy.requests[-1].body.decode())
    assert form == {"locale": ["en_US"], "text": ["tomorrow at eight"]}


def test_duckling_without_a_time_entity_fails() -> None:
    with http_service({("POST", "/parse"): lambda r: json_answer(200, "[]")}) as service:
        assert failure(lambda: checks.duckling_parse(service.url)) == (
            "'tomorrow at eight' gave no time entity: '[]'"
        )


def test_actions_health() -> None:
    routes = {("GET", "/health"): lambda r: json_answer(200, '{"status": "ok"}')}
    with http_service(routes) as service:
        assert checks.actions_health(service.url) == "status ok"
    with http_service({("GET", "/health"): lambda r: text(503, "starting")}) as service:
        assert failure(lambda: checks.actions_health(service.url)) == (
            "GET answered HTTP 503 (expected 200): 'starting'"
        )


def test_botfront_api_health_check(healthy: Service) -> None:
    assert checks.botfront_api_health(healthy.url) == "healthy, version 0.27.5"
    with http_service({("GET", "/health-check"): lambda r: text(200, "<html>")}) as service:
        assert failure(lambda: checks.botfront_api_health(service.url)) == (
            "answered HTTP 200 with a body that is not JSON: '<html>'"
        )


def test_nothing_listening_is_named() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    assert failure(lambda: checks.actions_health(url, timeout=2)).startswith(
        "no answer: ConnectionRefusedError:"
    )


# ---- outside-in: TLS, the private API ----------------------------------------------------------


def test_tls_certificate_valid_untrusted_and_for_another_host(tmp_path: Path) -> None:
    good_cert, good_key = self_signed(tmp_path, "loopback", "IP:127.0.0.1,DNS:localhost")
    other_cert, other_key = self_signed(tmp_path, "elsewhere", "DNS:elsewhere.example.com")
    trusting = ssl.create_default_context(cafile=str(good_cert))
    with socketio_service(ssl_context=server_context(good_cert, good_key)) as service:
        assert checks.tls_certificate(service.url, context=trusting).startswith(
            "valid for 127.0.0.1, expires in 1 days"
        )
        # The system trust store has never heard of it.
        assert failure(lambda: checks.tls_certificate(service.url)).startswith(
            "certificate rejected: self-signed certificate"
        )
        # Through TLS, the socket.io path still answers.
        assert checks.socketio_polling(service.url, 4, context=trusting).startswith("open packet")
        assert checks.socketio_websocket(service.url, 4, context=trusting).startswith("101")
    with socketio_service(ssl_context=server_context(other_cert, other_key)) as service:
        other = ssl.create_default_context(cafile=str(other_cert))
        assert failure(lambda: checks.tls_certificate(service.url, context=other)).startswith(
            "certificate rejected: IP address mismatch"
        )


def test_rasa_api_not_reachable_from_outside(rasa: Service) -> None:
    with http_service({}) as ingress:
        assert checks.not_reachable(ingress.url + "/status") == "HTTP 404 from the ingress"
    # Routed to Rasa: /status answers 401 without a token.
    message = failure(lambda: checks.not_reachable(rasa.url + "/status"))
    assert message.startswith(
        "reachable from outside: GET answered HTTP 401 (expected 403, 404 or a redirect"
    )
    # An ingress's redirect (http -> https) is not followed and did not serve the API.
    with http_service({("GET", "/status"): lambda r: text(302, "")}) as ingress:
        assert (
            checks.not_reachable(ingress.url + "/status")
            == "HTTP 302 from the ingress (redirect, not followed)"
        )
        assert [r.path for r in ingress.requests] == ["/status"]


# ---- running the checks -------------------------------------------------------------------------


def test_a_failing_check_is_retried_until_it_passes() -> None:
    answers = iter([503, 503, 200])
    routes = {("GET", "/health"): lambda r: json_answer(next(answers), '{"status": "ok"}')}
    with http_service(routes) as service:
        check = checks.Check("actions", "/health", service.url, lambda: checks.actions_health(service.url))
        (result,) = checks.run_all([check], wait=5, interval=0.01, out=lambda line: None)
    assert result.ok and len(service.requests) == 3


@pytest.fixture(scope="module")
def actions() -> Iterator[Service]:
    with http_service({("GET", "/health"): lambda r: json_answer(200, '{"status": "ok"}')}) as service:
        yield service


def _plan(bf: str, rasa: str, token_env: str | None, eio: int = 4, actions: str = "") -> dict:
    return {
        "botfront": {"url": bf, "apiKeyEnv": "BOTFRONT_API_KEY"},
        "rasa": [{"name": "rasa", "url": rasa, "tokenEnv": token_env, "engineio": eio}],
        "duckling": bf,
        "actions": [{"name": "actions", "url": actions or bf}],
        "botfrontApi": bf,
    }


def test_main_runs_every_check_of_the_plan(
    tmp_path: Path,
    healthy: Service,
    rasa: Service,
    actions: Service,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_plan(healthy.url, rasa.url, "RASA_TOKEN_RASA", actions=actions.url)))
    monkeypatch.setenv("BOTFRONT_API_KEY", API_KEY)
    monkeypatch.setenv("RASA_TOKEN_RASA", TOKEN)
    assert checks.main([str(plan), "--wait", "0"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 8 and all(line.startswith("PASS") for line in lines), out
    assert "all 8 checks passed" in out
    assert API_KEY not in out and TOKEN not in out


def test_main_failure_summary_points_at_the_job_log(
    tmp_path: Path,
    healthy: Service,
    rasa: Service,
    actions: Service,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = tmp_path / "plan.json"
    # A 0.27.5-style plan (EIO 3) against an Engine.IO 4 Rasa, and a wrong Rasa token.
    plan.write_text(json.dumps(_plan(healthy.url, rasa.url, "RASA_TOKEN_RASA", eio=3, actions=actions.url)))
    monkeypatch.setenv("BOTFRONT_API_KEY", API_KEY)
    monkeypatch.setenv("RASA_TOKEN_RASA", "wrong-" + TOKEN)
    monkeypatch.setenv("VERIFY_JOB", "verify-0123456789")
    monkeypatch.setenv("VERIFY_NAMESPACE", "botfront-dev")
    log = tmp_path / "termination-log"
    assert checks.main([str(plan), "--wait", "0", "--termination-log", str(log)]) == 1
    out = capsys.readouterr().out
    assert (
        f"FAIL rasa: /status {rasa.url}/status?token=*** - GET {rasa.url}/status?token=*** answered HTTP 401"
        in out
    )
    assert f"FAIL rasa: socket.io handshake {rasa.url}/socket.io/ - GET answered HTTP 400" in out
    summary = log.read_text()
    assert summary.startswith("2 of 8 checks failed:")
    assert summary.endswith("Every check's result: kubectl -n botfront-dev logs job/verify-0123456789")
    assert TOKEN not in out and TOKEN not in summary


def test_a_missing_secret_env_var_is_named(
    tmp_path: Path, healthy: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOTFRONT_API_KEY", raising=False)
    found = checks.in_cluster_checks(_plan(healthy.url, healthy.url, None), {})
    result = checks.run_check(found[0], deadline=0, interval=0)
    assert not result.ok
    assert result.line() == (
        f"FAIL botfront: /health {healthy.url}/health - the environment variable BOTFRONT_API_KEY is "
        "not set: the Job's secretKeyRef is missing"
    )


def test_broken_open_packets_are_named() -> None:
    for body, expected in (
        ("0<html>", "the open packet is not JSON: '0<html>'"),
        ('0{"upgrades": []}', "the open packet has no session id: '0{\"upgrades\": []}'"),
    ):
        with http_service({("GET", "/socket.io/"): lambda r, body=body: text(200, body)}) as service:
            assert failure(lambda url=service.url: checks.socketio_polling(url, 4)) == expected


@contextmanager
def raw_server(reply: bytes) -> Iterator[str]:
    """Reads a request head, sends `reply` verbatim: for answers no HTTP library would give."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(4096)
            connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(5)


def test_a_websocket_upgrade_without_the_right_accept_key_fails() -> None:
    reply = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n"
    )
    with raw_server(reply) as url:
        assert failure(lambda: checks.socketio_websocket(url, 4)) == (
            "101 without a valid Sec-WebSocket-Accept: 'bm90IHRoZSByaWdodCBrZXk='"
        )
