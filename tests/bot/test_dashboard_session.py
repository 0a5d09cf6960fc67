"""Session cookies: what one key signed reads back until it expires; anything else is nobody."""

from __future__ import annotations

import pytest

from bot.dashboard.session import SIGN_IN_STATE, SessionTooLarge, Viewer, sign, verify

KEY = b"k" * 32


def test_a_signed_session_reads_back_until_it_expires() -> None:
    viewer = Viewer(login="ann", repos=frozenset({"acme/app"}))
    cookie = sign(KEY, viewer.payload(), now=100.0, ttl_s=60)
    payload = verify(KEY, cookie, now=159.9)
    assert payload is not None
    assert Viewer.from_payload(payload) == viewer
    assert verify(KEY, cookie, now=160.0) is None


def test_a_forged_or_altered_cookie_is_nobody() -> None:
    cookie = sign(KEY, Viewer(login="ann", repos=frozenset()).payload(), now=0, ttl_s=60)
    body, mac = cookie.split(".")
    operator = sign(b"another key", Viewer(login="ann", repos=None).payload(), now=0, ttl_s=60)
    assert verify(KEY, operator, now=1) is None
    assert verify(KEY, f"{operator.split('.')[0]}.{mac}", now=1) is None
    assert verify(KEY, f"{body}.{mac[:-2]}AA", now=1) is None
    for junk in (None, "", "x", "a.b.c", f"{body}."):
        assert verify(KEY, junk, now=1) is None


def test_an_operator_sees_everything_and_a_person_only_their_repositories() -> None:
    assert Viewer(login="ops", repos=None).sees("any/repo")
    person = Viewer(login="ann", repos=frozenset({"acme/app"}))
    assert person.sees("acme/app")
    assert not person.sees("acme/secret")
    assert not Viewer(login="eve", repos=frozenset()).sees("acme/app")


def test_a_session_too_large_for_a_cookie_is_refused() -> None:
    many = frozenset(f"org{i}/repo-with-a-long-name-{i * 7919 % 10007}" for i in range(2000))
    with pytest.raises(SessionTooLarge):
        sign(KEY, Viewer(login="ann", repos=many).payload(), now=0, ttl_s=60)


def test_a_cookie_made_for_one_purpose_is_refused_for_another() -> None:
    state = sign(
        KEY, {"state": "s", "login": "ann", "repos": None}, now=0, ttl_s=60, purpose=SIGN_IN_STATE
    )
    assert verify(KEY, state, now=1) is None
    assert verify(KEY, state, now=1, purpose=SIGN_IN_STATE) is not None
