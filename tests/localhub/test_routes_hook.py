"""The app's own endpoints the doctor reads: shaped so githubkit's models parse them."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed

from tests.localhub.conftest import APP_ID, OWNER, RECEIVER, SLUG, Env

pytestmark = pytest.mark.anyio


async def test_the_app_and_its_installations_parse_as_githubs(env: Env) -> None:
    async with env.app_github() as gh:
        me = (await gh.rest.apps.async_get_authenticated()).parsed_data
        installs = (await gh.rest.apps.async_list_installations()).parsed_data

    assert me is not None
    assert (me.id, me.slug) == (APP_ID, SLUG)
    assert [(i.id, getattr(i.account, "login", None)) for i in installs] == [
        (env.installation_id, OWNER)
    ]


async def test_the_hook_config_is_the_registered_url_as_json(env: Env) -> None:
    async with env.app_github() as gh:
        config = (await gh.rest.apps.async_get_webhook_config_for_app()).parsed_data

    assert (config.url, config.content_type) == (RECEIVER, "json")


async def test_deliveries_are_listed_newest_first_with_their_outcome(env: Env) -> None:
    await env.hub.wait_for_deliveries(timeout_s=5)
    recorded = [d for d in env.hub.deliveries if d.app_id == APP_ID]
    async with env.app_github() as gh:
        items = (await gh.rest.apps.async_list_webhook_deliveries(per_page=100)).parsed_data
        one = (await gh.rest.apps.async_list_webhook_deliveries(per_page=1)).parsed_data

    assert [i.guid for i in items] == [d.id for d in reversed(recorded)]
    assert {(i.status, i.status_code) for i in items} == {("OK", 202)}
    assert [i.guid for i in one] == [recorded[-1].id]


async def test_a_user_cannot_read_the_apps_hook(env: Env) -> None:
    async with env.user() as user:
        answer = await user.get("app/hook/config")

    assert answer.status_code == 401


async def test_deliveries_page_by_cursor_through_the_link_header(env: Env) -> None:
    await env.hub.wait_for_deliveries(timeout_s=5)
    recorded = [d.id for d in reversed(env.hub.deliveries) if d.app_id == APP_ID]
    assert len(recorded) >= 2
    seen: list[str] = []
    cursor: str | None = None
    async with env.app_github() as gh:
        while True:
            resp = await (
                gh.rest.apps.async_list_webhook_deliveries(per_page=1, cursor=cursor)
                if cursor
                else gh.rest.apps.async_list_webhook_deliveries(per_page=1)
            )
            seen += [i.guid for i in resp.parsed_data]
            link = resp.headers.get("link", "")
            if 'rel="next"' not in link:
                break
            cursor = link.split("cursor=")[1].split(">")[0].split("&")[0]

    assert seen == recorded


async def test_a_redelivery_is_a_new_attempt_with_the_same_guid(env: Env) -> None:
    await env.hub.wait_for_deliveries(timeout_s=5)
    async with env.app_github() as gh:
        latest = (await gh.rest.apps.async_list_webhook_deliveries(per_page=1)).parsed_data[0]
        asked = await gh.rest.apps.async_redeliver_webhook_delivery(latest.id)
        await env.hub.wait_for_deliveries(timeout_s=5)
        again = (await gh.rest.apps.async_list_webhook_deliveries(per_page=1)).parsed_data[0]
        one = (await gh.rest.apps.async_get_webhook_delivery(again.id)).parsed_data

    assert asked.status_code == 202
    assert (again.guid, again.redelivery, again.id) == (latest.guid, True, latest.id + 1)
    assert env.received[-1].headers["x-github-delivery"] == latest.guid
    assert (one.guid, one.event) == (latest.guid, latest.event)
    assert one.request.payload is not None
    assert one.request.payload.model_dump(exclude_unset=True) == env.hub.deliveries[-1].payload


async def test_an_unknown_delivery_cannot_be_redelivered(env: Env) -> None:
    async with env.app_github() as gh:
        with pytest.raises(RequestFailed) as refused:
            await gh.rest.apps.async_redeliver_webhook_delivery(999999)

    assert refused.value.response.status_code == 404
