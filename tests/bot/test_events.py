"""Payload models: read from bytes or a mapping alike, only the fields named, errors with a path."""

from __future__ import annotations

import json

import pytest

from bot.events import (
    AddedLabel,
    Envelope,
    IssueCommentEvent,
    IssuesEvent,
    NotAnObject,
    Payload,
    ValidationError,
    where_invalid,
)
from tests.webhook_helpers import all_fixtures, fixture


def test_bytes_and_mapping_read_the_same() -> None:
    payload = fixture("issues.labeled.0")
    from_bytes = Payload(json.dumps(payload).encode()).read(IssuesEvent)
    assert from_bytes == Payload(payload).read(IssuesEvent)
    assert from_bytes.label is not None
    assert from_bytes.label.name == "bug"
    assert from_bytes.issue.user.login == "Codertocat"
    assert from_bytes.repository.owner.login == "Codertocat"


def test_every_stored_example_of_a_routed_event_is_understood() -> None:
    for event, stem, payload in all_fixtures():
        read = Payload(json.dumps(payload).encode())
        if event == "issues":
            assert read.read(IssuesEvent).issue.number, stem
        elif event == "issue_comment":
            assert read.read(IssueCommentEvent).comment.id, stem


def test_a_number_sent_as_a_string_is_read_as_a_number() -> None:
    payload = fixture("issues.labeled.0")
    payload["issue"]["number"] = "7"
    assert Payload(json.dumps(payload).encode()).read(IssuesEvent).issue.number == 7


def test_a_missing_field_is_named_by_its_path() -> None:
    payload = fixture("issues.labeled.0")
    del payload["issue"]["user"]["login"]
    with pytest.raises(ValidationError) as caught:
        Payload(json.dumps(payload).encode()).read(IssuesEvent)
    assert where_invalid(caught.value) == ("issue.user.login", "Field required")


def test_a_wrong_type_is_named_by_its_path() -> None:
    payload = fixture("issues.labeled.0")
    payload["issue"]["labels"][0]["name"] = 3
    with pytest.raises(ValidationError) as caught:
        Payload(payload).read(IssuesEvent)
    where, msg = where_invalid(caught.value)
    assert where == "issue.labels.0.name"
    assert "str" in msg


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"action": "labeled"', "body is not valid JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'"labeled"', "body is not a JSON object"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(NotAnObject, match=why):
        Payload(body).envelope()


def test_the_envelope_is_read_with_the_head_in_one_pass() -> None:
    payload = Payload(json.dumps(fixture("issues.labeled.0")).encode())
    head = payload.envelope(AddedLabel)
    assert isinstance(head, AddedLabel)
    assert payload.envelope() is head
    assert payload.read(AddedLabel) is head


def test_a_wrong_head_field_still_leaves_the_envelope_readable() -> None:
    """The handler reports the bad field when it reads it; the body is still a JSON object."""
    payload = Payload(b'{"action": "labeled", "label": "bug", "installation": {"id": 1}}')
    envelope = payload.envelope(AddedLabel)
    assert type(envelope) is Envelope
    assert envelope.installation == {"id": 1}
    with pytest.raises(ValidationError):
        payload.read(AddedLabel)
