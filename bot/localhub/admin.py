"""The admin API under `/_localhub/` (JSON), for the CLI and for tests in another process.

It is NOT authenticated: the emulator is a loopback development tool and listens on 127.0.0.1
only. Routes:

    POST   /_localhub/apps                      {app_id, slug, public_key_pem, webhook_url}
    POST   /_localhub/users                     {login}
    POST   /_localhub/orgs                      {login, members: [...]}
    POST   /_localhub/installations             {app_id, account}      -> {id}
    PUT    /_localhub/permissions/{owner}/{repo}/{login}  {permission}
    POST   /_localhub/faults                    {method, path_regex, status, count, delay_s}
    DELETE /_localhub/faults
    GET    /_localhub/stats/{installation_id}
    GET    /_localhub/deliveries
    POST   /_localhub/deliveries/{id}/redeliver
    PUT    /_localhub/webhooks                  {enabled}
    POST   /_localhub/repos/{owner}/{repo}/pulls/{number}/revert  {login}   (bot/localhub/revert.py)
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.localhub.http import hub_of


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {}
    return data


def _bad(message: str) -> Response:
    return JSONResponse({"message": message}, status_code=400)


async def register_app(request: Request) -> Response:
    body = await _body(request)
    try:
        hub_of(request).register_app(
            int(body["app_id"]),
            str(body["slug"]),
            str(body["public_key_pem"]),
            body.get("webhook_url"),
        )
    except (KeyError, ValueError, TypeError):
        return _bad("app_id, slug and public_key_pem are required")
    return JSONResponse({"id": int(body["app_id"])}, status_code=201)


async def create_user(request: Request) -> Response:
    login = (await _body(request)).get("login")
    if not isinstance(login, str) or not login:
        return _bad("login is required")
    account = hub_of(request).create_user(login)
    return JSONResponse({"id": account.id, "login": account.login}, status_code=201)


async def create_org(request: Request) -> Response:
    body = await _body(request)
    login = body.get("login")
    if not isinstance(login, str) or not login:
        return _bad("login is required")
    account = hub_of(request).create_org(login, [str(m) for m in body.get("members") or []])
    return JSONResponse({"id": account.id, "login": account.login}, status_code=201)


async def install(request: Request) -> Response:
    body = await _body(request)
    try:
        ident = hub_of(request).install(int(body["app_id"]), str(body["account"]))
    except (KeyError, ValueError, TypeError):
        return _bad("a registered app_id and an account are required")
    return JSONResponse({"id": ident}, status_code=201)


async def set_permission(request: Request) -> Response:
    p = request.path_params
    permission = (await _body(request)).get("permission")
    try:
        hub_of(request).set_permission(f"{p['owner']}/{p['repo']}", p["login"], str(permission))
    except KeyError:
        return JSONResponse({"message": "Not Found"}, status_code=404)
    except ValueError as exc:
        return _bad(str(exc))
    return Response(status_code=204)


async def add_fault(request: Request) -> Response:
    body = await _body(request)
    try:
        hub_of(request).add_fault(
            str(body.get("method", "*")),
            str(body["path_regex"]),
            status=body.get("status", 502),
            count=int(body.get("count", 1)),
            delay_s=float(body.get("delay_s", 0)),
        )
    except (KeyError, ValueError, TypeError):
        return _bad("path_regex is required")
    return Response(status_code=201)


async def clear_faults(request: Request) -> Response:
    hub_of(request).clear_faults()
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    calls = hub_of(request).calls(request.path_params["installation_id"])
    return JSONResponse(dataclasses.asdict(calls))


async def deliveries(request: Request) -> Response:
    items = [
        {
            "id": d.id, "event": d.event, "action": d.action, "status_code": d.status_code,
            "duration_s": d.duration_s, "error": d.error, "redelivery": d.redelivery,
            "payload": d.payload,
        }
        for d in hub_of(request).deliveries
    ]  # fmt: skip
    return JSONResponse(items)


async def redeliver(request: Request) -> Response:
    try:
        await hub_of(request).redeliver(request.path_params["delivery_id"])
    except KeyError:
        return JSONResponse({"message": "Not Found"}, status_code=404)
    return Response(status_code=202)


async def webhooks(request: Request) -> Response:
    hub_of(request).webhooks_enabled = bool((await _body(request)).get("enabled", True))
    return Response(status_code=204)


_A = "/_localhub"
ROUTES = [
    Route(_A + "/apps", register_app, methods=["POST"]),
    Route(_A + "/users", create_user, methods=["POST"]),
    Route(_A + "/orgs", create_org, methods=["POST"]),
    Route(_A + "/installations", install, methods=["POST"]),
    Route(_A + "/permissions/{owner}/{repo}/{login}", set_permission, methods=["PUT"]),
    Route(_A + "/faults", add_fault, methods=["POST"]),
    Route(_A + "/faults", clear_faults, methods=["DELETE"]),
    Route(_A + "/stats/{installation_id:int}", stats),
    Route(_A + "/deliveries", deliveries),
    Route(_A + "/deliveries/{delivery_id}/redeliver", redeliver, methods=["POST"]),
    Route(_A + "/webhooks", webhooks, methods=["PUT"]),
]
