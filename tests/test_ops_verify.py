"""`python -m ops.verify`: the outside-in checks of a deployed stack, against loopback stand-ins
for the ingress (TLS with a certificate made at test time, a real socket.io server behind it)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from ops import verify
from tests.conftest import project_root
from tests.loopback import Request, Service, http_service, self_signed, server_context, socketio_service, text


async def _page(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html>Botfront</html>", content_type="text/html")


async def _rasa_status(request: web.Request) -> web.StreamResponse:
    return web.json_response({"reason": "NotAuthenticated"}, status=401)


async def _rasa_model(request: web.Request) -> web.StreamResponse:
    return web.Response(status=405, text="Method GET not allowed for URL /model")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"), "ingress", "IP:127.0.0.1,DNS:localhost")


@pytest.fixture(scope="module")
def stack(certificate: tuple[Path, Path]) -> Iterator[tuple[Service, Service, Service]]:
    """Botfront's page; a Rasa whose ingress routes only socket.io; a Rasa whose API is exposed."""
    context = server_context(*certificate)
    exposed = {("GET", "/status"): _rasa_status, ("GET", "/model"): _rasa_model}
    with (
        socketio_service({("GET", "/"): _page}, ssl_context=context) as botfront,
        socketio_service(ssl_context=context) as rasa,
        socketio_service(exposed, ssl_context=context) as open_rasa,
    ):
        yield botfront, rasa, open_rasa


def outputs_file(tmp_path: Path, botfront: str, *rasa: str, release: str = "1.0.5") -> str:
    path = tmp_path / "outputs.json"
    instances = [{"project": "bf", "environment": "development", "rasaUrl": url} for url in rasa]
    path.write_text(json.dumps({"botfrontUrl": botfront, "rasaInstances": instances, "release": release}))
    return str(path)


def run(argv: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    return verify.main(argv, out=lines.append), lines


def test_help_works_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops.verify", "--help"], capture_output=True, text=True, cwd=project_root()
    )
    assert result.returncode == 0
    assert "--stack" in result.stdout and "--outputs" in result.stdout and "--cafile" in result.stdout


def test_a_healthy_stack_passes_every_check(
    tmp_path: Path, stack: tuple[Service, Service, Service], certificate: tuple[Path, Path]
) -> None:
    botfront, rasa, _ = stack
    code, lines = run(
        ["--outputs", outputs_file(tmp_path, botfront.url, rasa.url), "--cafile", str(certificate[0])]
    )
    assert code == 0, lines
    checks = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert [line.split(" - ")[0] for line in checks] == [
        f"PASS 127.0.0.1: TLS certificate {botfront.url}",
        f"PASS 127.0.0.1: TLS certificate {rasa.url}",
        f"PASS botfront: public URL answers {botfront.url}",
        f"PASS rasa 127.0.0.1: socket.io polling handshake through the ingress {rasa.url}/socket.io/",
        f"PASS rasa 127.0.0.1: socket.io websocket upgrade through the ingress {rasa.url}/socket.io/",
        f"PASS rasa 127.0.0.1: HTTP API /status not reachable {rasa.url}/status",
        f"PASS rasa 127.0.0.1: HTTP API /model not reachable {rasa.url}/model",
    ]
    assert lines[-1] == "7 passed, 0 failed"


def test_an_untrusted_certificate_fails(tmp_path: Path, stack: tuple[Service, Service, Service]) -> None:
    botfront, rasa, _ = stack
    code, lines = run(["--outputs", outputs_file(tmp_path, botfront.url, rasa.url)])
    assert code == 1
    assert (
        f"FAIL 127.0.0.1: TLS certificate {botfront.url} - certificate rejected: self-signed certificate"
        in lines
    )
    assert lines[-1] == "0 passed, 7 failed"


def test_an_exposed_rasa_api_fails(
    tmp_path: Path, stack: tuple[Service, Service, Service], certificate: tuple[Path, Path]
) -> None:
    botfront, _, open_rasa = stack
    outputs = outputs_file(tmp_path, botfront.url, open_rasa.url)
    code, lines = run(["--outputs", outputs, "--cafile", str(certificate[0])])
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed == [
        f"FAIL rasa 127.0.0.1: HTTP API /status not reachable {open_rasa.url}/status - reachable from "
        "outside: GET answered HTTP 401 (expected 403, 404 or a redirect from the ingress): "
        '\'{"reason": "NotAuthenticated"}\'',
        f"FAIL rasa 127.0.0.1: HTTP API /model not reachable {open_rasa.url}/model - reachable from "
        "outside: GET answered HTTP 405 (expected 403, 404 or a redirect from the ingress): "
        "'Method GET not allowed for URL /model'",
    ]
    assert lines[-1] == "5 passed, 2 failed"


def test_an_ingress_without_websockets_fails_the_upgrade_only() -> None:
    def polling(request: object) -> tuple[int, dict[str, str], bytes]:
        return text(200, '0{"sid":"x","upgrades":["websocket"]}')

    with http_service({("GET", "/"): lambda r: text(200, "ok"), ("GET", "/socket.io/"): polling}) as ingress:
        code, lines = run(["--botfront-url", ingress.url, "--rasa-url", ingress.url])
    assert code == 1
    (failed,) = [line for line in lines if line.startswith("FAIL")]
    assert failed.startswith(
        f"FAIL rasa 127.0.0.1: socket.io websocket upgrade through the ingress {ingress.url}"
    )
    assert "the websocket upgrade answered 'HTTP/1.0 200 OK' (expected 101 Switching Protocols)" in failed
    # Plain http: no TLS check, and said so once per URL, not counted as a pass.
    (skip,) = [line for line in lines if "TLS" in line]
    assert skip == f"SKIP 127.0.0.1: TLS certificate {ingress.url} - not checked: the URL is not https"
    assert lines[-1] == "4 passed, 1 failed, 1 skipped"


def test_an_ingress_redirecting_to_https_keeps_rasas_api_private() -> None:
    def redirect(request: Request) -> tuple[int, dict[str, str], bytes]:
        return 308, {"Location": "https://rasa.example.com" + request.path}, b"Permanent Redirect"

    routes = {
        ("GET", "/"): lambda r: text(200, "ok"),
        ("GET", "/status"): redirect,
        ("GET", "/model"): redirect,
    }
    with http_service(routes) as ingress:
        code, lines = run(["--botfront-url", ingress.url, "--rasa-url", ingress.url])
    api = [line for line in lines if "HTTP API" in line]
    assert api == [
        f"PASS rasa 127.0.0.1: HTTP API /status not reachable {ingress.url}/status - HTTP 308 from the "
        "ingress (redirect to https://rasa.example.com/status, not followed)",
        f"PASS rasa 127.0.0.1: HTTP API /model not reachable {ingress.url}/model - HTTP 308 from the "
        "ingress (redirect to https://rasa.example.com/model, not followed)",
    ]
    # The redirect is not followed: each path was asked for once, and nothing went elsewhere.
    assert sorted(r.path for r in ingress.requests if r.path in ("/status", "/model")) == [
        "/model",
        "/status",
    ]
    # This stand-in routes no socket.io: those two checks fail, as they should.
    assert code == 1 and lines[-1] == "3 passed, 2 failed, 1 skipped"


def test_the_release_sets_the_engineio_revision(tmp_path: Path) -> None:
    with http_service({}) as ingress:
        run(["--outputs", outputs_file(tmp_path, ingress.url, ingress.url, release="0.27.5")])
        handshakes = [r.path for r in ingress.requests if r.path.startswith("/socket.io/")]
    assert handshakes and all("EIO=3" in path for path in handshakes)


def test_unreadable_outputs_are_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert verify.main(["--outputs", str(tmp_path / "missing.json")]) == 2
    assert "error: --outputs" in capsys.readouterr().err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"rasaUrl": "https://rasa.example.com"}))
    assert verify.main(["--outputs", str(partial)]) == 2
    assert "botfrontUrl is None: expected the Botfront URL" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))
    assert verify.main(["--stack", "dev"]) == 2
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


def _fake_pulumi(directory: Path, script: str) -> None:
    pulumi = directory / "pulumi"
    pulumi.write_text("#!/bin/sh\n" + script)
    pulumi.chmod(0o755)


def test_stack_outputs_come_from_the_pulumi_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with http_service({("GET", "/"): lambda r: text(200, "ok")}) as botfront:
        outputs = json.dumps(
            {"botfrontUrl": botfront.url, "rasaUrl": botfront.url, "graphqlApiKey": "[secret]"}
        )
        _fake_pulumi(
            tmp_path,
            '[ "$*" = "stack output --json --stack dev" ] || { echo "unexpected: $*" >&2; exit 3; }\n'
            f"echo '{outputs}'\n",
        )
        monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
        code, lines = run(["--stack", "dev"])
    # The stand-in answers / but is no Rasa: the socket.io checks fail, the rest pass.
    assert code == 1
    assert f"PASS botfront: public URL answers {botfront.url} - HTTP 200" in lines
    _fake_pulumi(tmp_path, "echo \"error: no stack named 'nope' found\" >&2; exit 255\n")
    assert verify.main(["--stack", "nope"]) == 2
    assert (
        "pulumi stack output --stack nope failed: error: no stack named 'nope' found"
        in capsys.readouterr().err
    )
