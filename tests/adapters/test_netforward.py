"""The model relay: endpoints normalized, only well-formed requests for the one endpoint forwarded,
HTTPS verified, streams passed on as they come, and nothing secret in its log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import h11
import pytest

from adapters import netrelay
from adapters.netforward import INSIDE_RELAY, EndpointError, ModelRelay, parse_endpoint
from adapters.netrelay import forwarded, refusal
from adapters.process import run
from adapters.sandbox import SandboxPlan, run_sandboxed, sandbox_status
from tests.adapters.model_upstream import (
    FIRST_EVENT,
    SECOND_EVENT,
    Agent,
    Certs,
    ModelApi,
    make_certs,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Iterator

pytestmark = pytest.mark.anyio

KEY = "sk-ant-" + uuid.uuid4().hex
PROMPT = "prompt-" + uuid.uuid4().hex
SECRET_HEADERS = [("x-api-key", KEY), ("Authorization", f"Bearer {KEY}")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # Short: a unix socket path must fit in 108 bytes, which pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="relay-") as tmp:
        yield Path(tmp) / "model.sock"


@pytest.fixture
async def api(certs: Certs) -> AsyncIterator[ModelApi]:
    async with ModelApi(tls=certs.server_context()) as server:
        yield server


@contextlib.asynccontextmanager
async def relayed(
    socket_path: Path, url: str, trust: ssl.SSLContext | None = None
) -> AsyncIterator[Agent]:
    async with ModelRelay(socket_path=socket_path, endpoint=parse_endpoint(url), ssl_context=trust):
        agent = await Agent.connect(socket_path)
        try:
            async with asyncio.timeout(10):
                yield agent
        finally:
            await agent.close()


def test_endpoints_are_normalized_for_allow_lists() -> None:
    anthropic = parse_endpoint("https://API.Anthropic.com")
    assert anthropic.origin == "https://api.anthropic.com:443"
    assert (anthropic.authority, anthropic.base_path) == ("api.anthropic.com", "")
    assert parse_endpoint("https://api.anthropic.com:443/").origin == anthropic.origin
    assert parse_endpoint("https://api.anthropic.com./").origin == anthropic.origin
    openai = parse_endpoint("https://api.openai.com/v1/")
    assert (openai.origin, openai.base_path) == ("https://api.openai.com:443", "/v1")
    gateway = parse_endpoint("http://gateway.internal/openai")
    assert (gateway.origin, gateway.host, gateway.port) == (
        "http://gateway.internal:80",
        "gateway.internal",
        80,
    )
    local = parse_endpoint("http://[0:0::1]:4000/v1")
    assert (local.origin, local.authority) == ("http://[::1]:4000", "[::1]:4000")


def test_an_endpoint_is_within_an_allowed_one_by_origin_and_path() -> None:
    allowed = parse_endpoint("https://gateway.example/openai")
    assert parse_endpoint("https://GATEWAY.example:443/openai/v1").within(allowed)
    assert parse_endpoint("https://gateway.example/openai").within(allowed)
    assert not parse_endpoint("https://gateway.example/openai-admin").within(allowed)
    assert not parse_endpoint("http://gateway.example/openai").within(allowed)
    assert not parse_endpoint("https://gateway.example:8443/openai").within(allowed)
    assert parse_endpoint("https://gateway.example/anything").within(
        parse_endpoint("https://gateway.example")
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://models.example/v1", "network `host`"),
        ("api.anthropic.com/v1", "network `host`"),
        ("https://user:pw@gateway/v1", "credentials"),
        ("https:///v1", "names no host"),
        ("https://gateway:99999/v1", "invalid port"),
        ("https://gateway:0/v1", "invalid port"),
        ("https://gateway/v1/../admin", "`..`"),
    ],
)
def test_unrelayable_endpoints_say_why(url: str, why: str) -> None:
    with pytest.raises(EndpointError, match=why) as refused:
        parse_endpoint(url)
    assert "pw" not in str(refused.value)


def request(method: str, target: str, *headers: tuple[str, str]) -> h11.Request:
    return h11.Request(method=method, target=target, headers=[("Host", "x"), *headers])


@pytest.mark.parametrize(
    ("req", "why"),
    [
        (request("POST", "/v1/messages?beta=true"), None),
        (request("GET", "/v1"), None),
        (request("GET", "/v2/models"), "outside"),
        (request("GET", "/v1x/models"), "outside"),
        (request("GET", "/v1/../admin"), "dot segments"),
        (request("GET", "/v1/%2E%2e/admin"), "dot segments"),
        (request("GET", "/v1/..%5cadmin"), "dot segments"),
        (request("GET", "https://elsewhere.example/v1/models"), "absolute URL"),
        (request("OPTIONS", "*"), "absolute URL"),
        (request("CONNECT", "elsewhere.example:443"), "CONNECT"),
        (request("GET", "/v1/ws", ("Connection", "Upgrade"), ("Upgrade", "websocket")), "upgrade"),
    ],
)
def test_only_requests_for_the_endpoints_paths_leave(req: h11.Request, why: str | None) -> None:
    found = refusal(parse_endpoint("https://api.openai.com/v1"), req)
    assert found == why if why is None else why in (found or "")


def test_hop_by_hop_headers_stay_behind_and_framing_passes() -> None:
    headers = [
        (b"Connection", b"keep-alive, X-Hop, Content-Length"),
        (b"X-Hop", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Authorization", b"Basic xyz"),
        (b"Host", b"127.0.0.1:40000"),
        (b"Content-Length", b"2"),
        (b"x-api-key", b"k"),
    ]
    assert forwarded(headers) == [(b"Content-Length", b"2"), (b"x-api-key", b"k")]


async def test_https_post_streams_sse_events_as_they_come(
    socket_path: Path, api: ModelApi, certs: Certs
) -> None:
    url = f"https://localhost:{api.port}/v1"
    async with relayed(socket_path, url, certs.client_context()) as agent:
        body = json.dumps({"prompt": PROMPT, "stream": True}).encode()
        head = [("Host", "127.0.0.1:40000"), ("Transfer-Encoding", "chunked"), *SECRET_HEADERS]
        await agent.send(h11.Request(method="POST", target="/v1/stream", headers=head))
        await agent.send(h11.Data(data=body[:10]), h11.Data(data=body[10:]), h11.EndOfMessage())
        response = await agent.next_event()
        assert isinstance(response, h11.Response)
        assert response.status_code == 200
        assert dict(response.headers)[b"content-type"] == b"text/event-stream"
        first = await agent.next_event()
        # The API holds its second event until released: the first came through on its own.
        assert isinstance(first, h11.Data)
        assert bytes(first.data) == FIRST_EVENT
        api.release.set()
        rest = b""
        while isinstance(event := await agent.next_event(), h11.Data):
            rest += event.data
        assert rest == SECOND_EVENT
        assert isinstance(event, h11.EndOfMessage)
    [seen] = api.seen
    assert seen.body == body
    assert seen.headers["host"] == f"localhost:{api.port}"
    assert seen.headers["x-api-key"] == KEY
    assert api.server_names == ["localhost"]


async def test_keep_alive_carries_two_requests_on_one_connection(
    socket_path: Path, api: ModelApi, certs: Certs
) -> None:
    url = f"https://127.0.0.1:{api.port}/v1"
    async with relayed(socket_path, url, certs.client_context()) as agent:
        for n in (1, 2):
            response, body = await agent.request("POST", f"/v1/messages/{n}", body=b"x" * n)
            assert response.status_code == 200
            assert json.loads(body) == {"path": f"/v1/messages/{n}", "received": n}
    assert [seen.target for seen in api.seen] == ["/v1/messages/1", "/v1/messages/2"]
    assert {seen.headers["host"] for seen in api.seen} == {f"127.0.0.1:{api.port}"}
    assert api.connections == 1  # the endpoint's connection is kept alive too


async def test_an_endpoint_connection_idle_too_long_is_not_reused(
    socket_path: Path, api: ModelApi, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(netrelay, "_REUSE_IDLE_S", 0.0)  # the API might have closed it by now
    async with relayed(
        socket_path, f"https://localhost:{api.port}", certs.client_context()
    ) as agent:
        for _ in range(2):
            response, _ = await agent.request("GET", "/v1/models")
            assert response.status_code == 200
    assert api.connections == 2


async def test_a_path_outside_the_base_is_refused_and_never_sent(
    socket_path: Path, api: ModelApi, certs: Certs, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"https://localhost:{api.port}/v1"
    async with relayed(socket_path, url, certs.client_context()) as agent:
        target = f"/admin/keys?key={KEY}"
        response, body = await agent.request("GET", target, headers=SECRET_HEADERS)
    assert response.status_code == 403
    assert b"outside the endpoint's base path '/v1'" in body
    assert api.seen == []
    assert api.connections == 0
    assert "refused GET '/admin/keys'" in caplog.text
    assert KEY not in caplog.text


async def test_connect_is_refused(socket_path: Path, api: ModelApi, certs: Certs) -> None:
    url = f"https://localhost:{api.port}"
    async with relayed(socket_path, url, certs.client_context()) as agent:
        connect = h11.Request(method="CONNECT", target="example.com:443", headers=[("Host", "x")])
        await agent.send(connect, h11.EndOfMessage())
        response = await agent.next_event()
    assert isinstance(response, h11.Response)
    assert response.status_code == 403
    assert api.connections == 0


async def test_an_untrusted_certificate_is_a_502_and_a_log_line_without_secrets(
    socket_path: Path, api: ModelApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # No context given: the system's trust store, which does not know the test CA.
    async with relayed(socket_path, f"https://localhost:{api.port}/v1") as agent:
        body = json.dumps({"prompt": PROMPT}).encode()
        response, text = await agent.request(
            "POST", "/v1/messages", headers=SECRET_HEADERS, body=body
        )
    assert response.status_code == 502
    assert b"cannot reach the model endpoint" in text
    assert api.seen == []
    [line] = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert f"POST '/v1/messages' to https://localhost:{api.port} failed" in line
    assert "certificate verify failed" in line
    for secret in (KEY, PROMPT):
        assert secret not in caplog.text


async def test_ssl_cert_file_is_trusted_by_default(
    socket_path: Path, api: ModelApi, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    async with relayed(socket_path, f"https://localhost:{api.port}") as agent:
        response, _ = await agent.request("GET", "/v1/models")
    assert response.status_code == 200


async def test_plain_http_endpoints_take_the_same_http_path(socket_path: Path) -> None:
    async with ModelApi() as api, relayed(socket_path, f"http://127.0.0.1:{api.port}/v1") as agent:
        response, _ = await agent.request("POST", "/v1/messages", body=b"hello")
        assert response.status_code == 200
        refused, _ = await agent.request("GET", "/metrics")
        assert refused.status_code == 403
    [seen] = api.seen
    assert (seen.target, seen.body) == ("/v1/messages", b"hello")
    assert seen.headers["host"] == f"127.0.0.1:{api.port}"


async def test_an_unreachable_endpoint_is_a_502(socket_path: Path) -> None:
    async with ModelApi() as api:
        port = api.port  # closed again at once: nothing listens there now
    async with relayed(socket_path, f"http://127.0.0.1:{port}") as agent:
        response, _ = await agent.request("GET", "/v1/models")
    assert response.status_code == 502


async def test_garbage_from_the_sandbox_is_a_400(socket_path: Path) -> None:
    async with relayed(socket_path, "https://api.anthropic.com") as agent:
        agent.writer.write(b"\x16\x03\x01 not http\r\n\r\n")
        reply = await agent.reader.read()
    assert reply.startswith(b"HTTP/1.1 400 ")


AGENT = (
    "import os, sys, urllib.request\n"
    "for name in sorted(os.environ):\n"
    "    if name.startswith('URL_'): print(name, os.environ[name])\n"
    "if len(sys.argv) > 1:\n"
    "    with urllib.request.urlopen(os.environ['URL_AGENT'] + '/models') as got:\n"
    "        print('reply', got.read().decode())\n"
)


async def test_inside_relay_points_every_spelling_of_the_origin_at_loopback(tmp_path: Path) -> None:
    env = {
        "URL_PLAIN": "https://api.anthropic.com/v1",
        "URL_CAPITALS": "HTTPS://API.Anthropic.com:443/v1",
        "URL_OTHER_PORT": "https://api.anthropic.com:4430/v1",
        "URL_LONGER_HOST": "https://api.anthropic.com.evil/v1",
    }
    argv = [sys.executable, "-c", INSIDE_RELAY, str(tmp_path / "none.sock")]
    argv += [parse_endpoint("https://api.anthropic.com").origin, sys.executable, "-c", AGENT]
    done = await run(argv, cwd=tmp_path, env=env, timeout_s=30)
    out = dict(line.split(" ", 1) for line in done.stdout.decode().splitlines())
    assert out["URL_PLAIN"].startswith("http://127.0.0.1:")
    assert out["URL_PLAIN"].endswith("/v1")
    assert out["URL_CAPITALS"] == out["URL_PLAIN"]
    assert out["URL_OTHER_PORT"] == env["URL_OTHER_PORT"]
    assert out["URL_LONGER_HOST"] == env["URL_LONGER_HOST"]


async def test_inside_relay_reaches_an_https_api_through_the_socket(
    tmp_path: Path, socket_path: Path, api: ModelApi, certs: Certs
) -> None:
    endpoint = parse_endpoint(f"https://localhost:{api.port}/v1")
    argv = [sys.executable, "-c", INSIDE_RELAY, str(socket_path), endpoint.origin]
    argv += [sys.executable, "-c", AGENT, "fetch"]
    env = {"URL_AGENT": f"https://localhost:{api.port}/v1"}
    async with ModelRelay(
        socket_path=socket_path, endpoint=endpoint, ssl_context=certs.client_context()
    ):
        done = await run(argv, cwd=tmp_path, env=env, timeout_s=30)
    assert done.returncode == 0, done.stderr.decode()
    assert 'reply {"path": "/v1/models", "received": 0}' in done.stdout.decode()
    assert api.seen[0].headers["host"] == f"localhost:{api.port}"


SANDBOXED_AGENT = (
    "import os, socket, urllib.request\n"
    "print('url', os.environ['MODEL_URL'])\n"
    "with urllib.request.urlopen(os.environ['MODEL_URL'] + '/models', timeout=10) as got:\n"
    "    print('reply', got.read().decode())\n"
    "try: socket.create_connection(('127.0.0.1', int(os.environ['PORT'])), timeout=5)\n"
    "except OSError as e: print('direct: failed')\n"
)


async def test_a_sandbox_without_network_reaches_an_https_api(
    tmp_path: Path, api: ModelApi, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (await sandbox_status()).ok:
        pytest.skip("bubblewrap cannot run here")
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))  # what the relay's default context reads
    (tmp_path / "work").mkdir()
    (tmp_path / "home").mkdir()
    url = f"https://localhost:{api.port}/v1"
    plan = SandboxPlan(
        worktree=tmp_path / "work",
        home=tmp_path / "home",
        env={"MODEL_URL": url, "PORT": str(api.port)},
        network="none",
        model_endpoint=url,
    )
    done = await run_sandboxed(plan, ["/usr/bin/python3", "-c", SANDBOXED_AGENT], timeout_s=30)
    assert done.returncode == 0, done.err
    assert "url http://127.0.0.1:" in done.out
    assert 'reply {"path": "/v1/models", "received": 0}' in done.out
    assert "direct: failed" in done.out
    assert [seen.headers["host"] for seen in api.seen] == [f"localhost:{api.port}"]
