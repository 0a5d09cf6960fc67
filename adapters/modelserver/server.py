"""Serving the scripted model app on 127.0.0.1: in a task, a thread or the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Self

import uvicorn

from adapters import tcp
from adapters.modelserver.app import ServerState, create_app
from adapters.modelserver.recorder import Recorder
from adapters.modelserver.scenarios import DEFAULT_EDIT, Scenario, ScenarioBook

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone (it is not the main app)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ModelServer:
    """The scripted model server on a free loopback port.

    `async with ModelServer() as server:` serves in a task of the running loop; `url` is then
    `http://127.0.0.1:<port>`; `register(scenario)` returns the API key that selects it.
    """

    def __init__(self, *, default: Scenario = DEFAULT_EDIT, port: int = 0) -> None:
        self.book = ScenarioBook(default=default)
        self.recorder = Recorder()
        self._app = create_app(book=self.book, recorder=self.recorder)
        self._port = port
        self._sock: socket.socket | None = None
        self._bound_port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> ServerState:
        state: ServerState = self._app.state.model_server
        return state

    @property
    def port(self) -> int:
        """The bound port (still known after `stop`, so a test can show nothing listens)."""
        if not self._bound_port:
            raise RuntimeError("the model server is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def register(self, scenario: Scenario, *, key: str | None = None) -> str:
        return self.book.register(scenario, key=key)

    def _bind(self) -> socket.socket:
        sock = tcp.listener(HOST, self._port)
        sock.set_inheritable(False)
        self._sock = sock
        self._bound_port = sock.getsockname()[1]
        return sock

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )

    async def start(self) -> None:
        sock = self._bind()
        self._server = _QuietServer(self._config())
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(START_TIMEOUT_S):
            while not self._server.started:
                if self._task.done():
                    await self._task  # raises why it stopped
                    raise RuntimeError("the model server stopped during startup")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self.state.stopping.set()  # hanging requests return, so shutdown need not wait
        self._server.should_exit = True
        await self._task
        self._server = self._task = None
        if self._sock is not None:
            self._sock.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Serve from a background thread (for synchronous callers such as `baton demo`)."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                await self.start()
            except BaseException as exc:  # reported to the waiting caller below
                failure.append(exc)
                ready.set()
                raise
            ready.set()
            await stop.wait()
            await self.stop()

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        ready.wait(START_TIMEOUT_S)
        if failure or not ready.is_set():
            thread.join(1)
            raise RuntimeError("the model server did not start") from (
                failure[0] if failure else None
            )
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(START_TIMEOUT_S)
            loop.close()


def serve_forever(
    *,
    default: Scenario = DEFAULT_EDIT,
    port: int = 0,
    on_ready: Callable[[ModelServer], None] | None = None,
) -> None:
    """Serve in the foreground until cancelled (Ctrl-C): for `baton demo` and manual runs."""
    server = ModelServer(default=default, port=port)

    async def main() -> None:
        async with server:
            if on_ready is not None:
                on_ready(server)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
