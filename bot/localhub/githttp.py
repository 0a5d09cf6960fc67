"""Git over smart HTTP: the real `git http-backend` as a CGI, behind GitHub-like Basic auth.

Streams both ways, so it cannot use the buffered runner of `adapters.process`; it still runs
an argv list with an explicit, minimal environment.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.process import minimal_env
from bot.localhub import auth, gitstore, pushes
from bot.localhub.http import hub_of
from bot.localhub.state import ANONYMOUS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.localhub.hub import Hub
    from bot.localhub.state import Repo

CHUNK = 64 * 1024
CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}


def _challenge() -> Response:
    return PlainTextResponse("Authentication required\n", status_code=401, headers=CHALLENGE)


async def _feed(request: Request, proc: asyncio.subprocess.Process) -> None:
    stdin = proc.stdin
    assert stdin is not None
    try:
        async for chunk in request.stream():
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        # git stops reading when it refuses a request; its answer says why.
        return
    except ClientDisconnect:
        # A body cut short would leave http-backend waiting for CONTENT_LENGTH bytes forever.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    finally:
        stdin.close()


def _cgi_env(request: Request, hub: Hub, repo: Repo, rest: str, user: str) -> dict[str, str]:
    env = minimal_env(
        GIT_PROJECT_ROOT=str(hub.data_dir),
        GIT_HTTP_EXPORT_ALL="1",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        PATH_INFO=f"/{repo.owner}/{repo.name}.git/{rest}",
        REQUEST_METHOD=request.method,
        QUERY_STRING=request.url.query,
        CONTENT_TYPE=request.headers.get("content-type", ""),
        REMOTE_USER=user,
        REMOTE_ADDR=request.client.host if request.client else "127.0.0.1",
    )
    for header, var in (
        ("content-length", "CONTENT_LENGTH"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ):
        if header in request.headers:
            env[var] = request.headers[header]
    return env


async def _pump(stdout: asyncio.StreamReader, output: asyncio.Queue[bytes | None]) -> None:
    while chunk := await stdout.read(CHUNK):
        await output.put(chunk)
    await output.put(None)


async def _head(output: asyncio.Queue[bytes | None]) -> tuple[bytes, bytes]:
    """The CGI header block and whatever body bytes came with it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = await output.get()
        if chunk is None:
            output.put_nowait(None)
            return buf, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _parse_headers(raw: bytes) -> tuple[int, dict[str, str]]:
    status = 200
    headers: dict[str, str] = {}
    for line in raw.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if not name:
            continue
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[name.strip()] = value.strip()
    return status, headers


async def git_http(request: Request) -> Response:
    hub = hub_of(request)
    params = request.path_params
    repo = hub.repo(params["owner"], params["name"])
    if repo is None:
        return PlainTextResponse("Repository not found.\n", status_code=404)
    rest: str = params["rest"]
    push = request.query_params.get("service") == "git-receive-pack" or rest.endswith(
        "git-receive-pack"
    )
    try:
        who = auth.from_basic(hub, request.headers.get("authorization"))
    except auth.AuthError:
        return _challenge()
    if who is None and (push or repo.private):
        return _challenge()
    access = hub.access(who or ANONYMOUS, repo, "contents")
    if access == "none":
        return PlainTextResponse("Repository not found.\n", status_code=404)
    login = (who.login if who else None) or "anonymous"
    if push and access != "write":
        text = f"Permission to {repo.full_name}.git denied to {login}.\n"
        return PlainTextResponse(text, status_code=403)
    before = await gitstore.branches(repo.path) if push else {}
    proc = await asyncio.create_subprocess_exec(
        "git", "http-backend",
        cwd=hub.data_dir, env=_cgi_env(request, hub, repo, rest, login),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    output: asyncio.Queue[bytes | None] = asyncio.Queue()
    pump = asyncio.create_task(_pump(proc.stdout, output))
    errors = asyncio.create_task(proc.stderr.read())
    # The whole request body goes in before the response starts: once it streams, Starlette
    # listens for a disconnect on the same receive channel and would swallow body chunks.
    # Output is drained meanwhile, so a chatty git cannot fill its pipe and stall the feed.
    await _feed(request, proc)
    head, early = await _head(output)
    status, headers = _parse_headers(head)

    async def body() -> AsyncIterator[bytes]:
        try:
            if early:
                yield early
            while (chunk := await output.get()) is not None:
                yield chunk
            await proc.wait()
            await errors
            if push and proc.returncode == 0:
                await pushes.after_push(hub, repo, login, before)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            pump.cancel()

    return StreamingResponse(body(), status_code=status, headers=headers)


ROUTES = [
    Route("/{owner}/{name}.git/{rest:path}", git_http, methods=["GET", "POST"]),
]
