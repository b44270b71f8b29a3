"""Servers on 127.0.0.1 that behave like healthy and broken Botfront services, for the checks.

`http_service` is a stdlib HTTP server answering from a route table; `socketio_service` is a real
python-socketio AsyncServer on aiohttp (the library Rasa's webchat channel runs on), with plain
aiohttp routes beside it; `self_signed` makes a certificate with the openssl CLI at test time.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web


@dataclass
class Request:
    method: str
    path: str  # with its query string
    headers: Mapping[str, str]
    body: bytes


Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[Request], Answer]


@dataclass
class Service:
    url: str
    requests: list[Request] = field(default_factory=list)


def text(status: int, body: str | bytes, content_type: str = "text/plain") -> Answer:
    data = body.encode() if isinstance(body, str) else body
    return status, {"Content-Type": content_type}, data


def json_answer(status: int, body: str) -> Answer:
    return text(status, body, "application/json")


@contextmanager
def http_service(routes: Mapping[tuple[str, str], Route]) -> Iterator[Service]:
    """Routes by (method, path without query); anything else is a 404."""
    service = Service(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, dict(self.headers), self.rfile.read(length))
            service.requests.append(request)
            route = routes.get((self.command, self.path.split("?", 1)[0]))
            status, headers, body = route(request) if route else text(404, "Not Found")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def socketio_service(
    routes: Mapping[tuple[str, str], Callable[[web.Request], Any]] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[Service]:
    """A real Engine.IO 4 / Socket.IO 5 server at /socket.io/, plus aiohttp `routes`."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = web.Application()
        sio.attach(app, socketio_path="socket.io")
        for (method, path), handler in (routes or {}).items():
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        holder["runner"] = runner
        holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the socket.io server did not start"
    scheme = "https" if ssl_context else "http"
    try:
        yield Service(url=f"{scheme}://127.0.0.1:{holder['port']}")
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def self_signed(directory: Path, common_name: str, alt_names: str) -> tuple[Path, Path]:
    """(certificate, key) in PEM, valid for two days for `alt_names` (openssl's subjectAltName)."""
    cert, key = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={common_name}",
            "-addext", f"subjectAltName={alt_names}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
