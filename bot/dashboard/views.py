"""The dashboard's pages: runs, a run (with its live timeline), spend, and the agent scoreboard.

Every page asks `Auth.viewer_of` first and reads the store only through the repositories that
viewer may see: a run elsewhere answers 404, exactly as a run that does not exist.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.base import RunStatus
from bot.dashboard import charts, filters, spend, timeline
from bot.dashboard.pages import money, render, short_money
from bot.scoreboard import render as score
from bot.scoreboard.compute import DEFAULT_WINDOW_S
from bot.scoreboard.read import load_scoreboard

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from bot.dashboard.auth import Auth
    from bot.dashboard.session import Viewer
    from bot.outbound import Outbound
    from bot.store.base import RunRecord, Store

    Page = Callable[[Request, Viewer], Awaitable[Response]]

# Events a running run's page asks for at most at once.
EVENTS_PER_POLL = 500
MAX_SEQ = 2**62


class Dashboard:
    def __init__(
        self,
        *,
        auth: Auth,
        store: Callable[[], Store],
        outbound: Callable[[], Outbound],
        clock: Callable[[], float] = time.time,
        stats_window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        self._auth = auth
        self._stats_window_s = stats_window_s
        # The runtime's, once its lifespan has opened them.
        self._store = store
        self._outbound = outbound
        self._clock = clock

    def _mask(self, text: str) -> str:
        """Every text a page shows passes the server's secret mask (event texts were masked
        with the run's own secrets too, when they were logged)."""
        return self._outbound().mask(text)

    def _guard(self, page: Page, *, api: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """Signed-in viewers only: others go to the login page (or get 401 from an API)."""

        async def guarded(request: Request) -> Response:
            viewer = self._auth.viewer_of(request)
            if viewer is None:
                if api:
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                where = urlencode({"next": request.url.path})
                return RedirectResponse(f"/login?{where}", status_code=303)
            request.scope["baton.viewer"] = viewer
            return await page(request, viewer)

        return guarded

    async def _visible_run(self, viewer: Viewer, run_id: str) -> RunRecord | None:
        run = await self._store().get_run(run_id)
        return run if run is not None and viewer.sees(run.repo) else None

    # -- pages --

    async def home(self, request: Request, viewer: Viewer) -> Response:
        del request, viewer
        return RedirectResponse("/runs", status_code=303)

    async def runs(self, request: Request, viewer: Viewer) -> Response:
        chosen = filters.parse(request.query_params, viewer)
        page = await self._store().query_runs(chosen.query)
        pages = max(1, -(-page.total // filters.PAGE_SIZE))
        return render(
            request,
            "runs.html",
            runs=page.runs,
            total=page.total,
            filters=chosen,
            pages=pages,
            statuses=filters.STATUSES,
            link=filters.page_link,
            repos=sorted(viewer.repos) if viewer.repos is not None else None,
        )

    async def run(self, request: Request, viewer: Viewer) -> Response:
        run = await self._visible_run(viewer, request.path_params["run_id"])
        if run is None:
            return render(request, "missing.html", status=404, what="run")
        events = await self._store().events(run.id)
        siblings: list[RunRecord] = []
        if run.pr_number is not None:
            siblings = await self._store().runs_for_pull(run.repo, run.pr_number)
        ids = [r.id for r in siblings]
        where = ids.index(run.id) if run.id in ids else -1
        before = siblings[where - 1] if where > 0 else None
        after = siblings[where + 1] if 0 <= where < len(siblings) - 1 else None
        live = not RunStatus(run.status).final or not timeline.ended(events)
        rows = timeline.rows(events, mask=self._mask)
        return render(
            request,
            "run.html",
            run=run,
            rows=rows,
            live=live and run.status != RunStatus.REFUSED,
            last_seq=events[-1].seq if events else 0,
            before=before,
            after=after,
            brief=timeline.brief(events, mask=self._mask),
            log=timeline.agent_log(events, mask=self._mask),
            summary=self._mask(run.summary),
            # Not `error`: that name is the page's own banner (base.html), not the run's end.
            reason=self._mask(run.error),
            start=events[0].time if events else None,
        )

    async def run_events(self, request: Request, viewer: Viewer) -> Response:
        """New timeline rows after `after` (the running run's page polls this)."""
        run = await self._visible_run(viewer, request.path_params["run_id"])
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        try:
            # Bounded: a sequence number past SQLite's and PostgreSQL's BIGINT fails the query.
            after = min(max(0, int(request.query_params.get("after", "0"))), MAX_SEQ)
            start = float(request.query_params.get("start", "0"))
        except ValueError:
            return JSONResponse({"error": "after and start must be numbers"}, status_code=400)
        if not math.isfinite(start):
            # NaN and infinity make offsets JSON cannot carry.
            return JSONResponse({"error": "start must be a finite number"}, status_code=400)
        events = (await self._store().events(run.id, after_seq=after))[:EVENTS_PER_POLL]
        rows = timeline.rows(events, since=start or None, mask=self._mask)
        # Over once the `ended` row is sent: a final status alone may be saved just before it.
        done = timeline.ended(events) or run.status == RunStatus.REFUSED
        return JSONResponse(
            {
                "rows": [r.as_json() for r in rows],
                "final": done,
                "status": run.status,
                "cost": money(run.cost_usd),
            }
        )

    async def spend(self, request: Request, viewer: Viewer) -> Response:
        now = self._clock()
        store = self._store()
        rows = await store.spend_rows(repos=viewer.repos, since=spend.months_ago_start(now))
        summary = spend.summarise(rows, now=now)
        # The month's spend of every repository under an org's or a requester's cap is summed
        # from the rows the viewer may see; only the operator sees org caps.
        lines = spend.budget_lines(await store.budget_caps(), rows, now=now, viewer=viewer)
        fmt = short_money
        return render(
            request,
            "spend.html",
            summary=summary,
            budgets=lines,
            by_agent=charts.bars("Spend per agent (last 12 months)", summary.by_agent, fmt=fmt),
            by_repo=charts.bars("Spend per repository (last 12 months)", summary.by_repo, fmt=fmt),
            by_month=charts.columns("Spend per month (UTC)", summary.by_month, fmt=fmt),
        )

    async def scoreboard(self, request: Request, viewer: Viewer) -> Response:
        """The agent scoreboard of the repositories the viewer may see, with what it counts."""
        board = await load_scoreboard(
            self._store(), now=self._clock(), repos=viewer.repos, window_s=self._stats_window_s
        )
        return render(
            request, "scoreboard.html", headers=score.HEADERS, note=score.note(board),
            by_agent=score.table_rows(board.by_agent, grouped=False),
            by_group=score.table_rows(board.by_agent_label_repo, grouped=True),
        )  # fmt: skip

    def routes(self) -> list[Route]:
        return [
            Route("/", self._guard(self.home)),
            Route("/runs", self._guard(self.runs)),
            Route("/runs/{run_id}", self._guard(self.run)),
            Route("/runs/{run_id}/events", self._guard(self.run_events, api=True)),
            Route("/spend", self._guard(self.spend)),
            Route("/scoreboard", self._guard(self.scoreboard)),
        ]
