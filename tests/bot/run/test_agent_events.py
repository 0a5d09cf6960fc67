"""What a run's event log keeps of an adapter's event: its text masked, then clipped."""

from __future__ import annotations

from adapters.base import EVENT_TEXT_LIMIT, AgentEvent
from bot.outbound import Outbound
from bot.run.agent import _event_data

KEY = "sk-own-" + "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"


def test_a_secret_the_clip_would_cut_is_masked_whole_first() -> None:
    wall = Outbound({"the agent's key": KEY})
    # The key straddles the clip: clipped first, its first half would no longer match it.
    line = "x" * (EVENT_TEXT_LIMIT - 20) + " key=" + KEY
    text = str(_event_data(AgentEvent(kind="message", text=line), wall)["text"])
    assert len(text) <= EVENT_TEXT_LIMIT
    assert KEY[:12] not in text
    assert "key=***" in text


def test_a_short_line_keeps_all_but_the_secret() -> None:
    wall = Outbound({"the agent's key": KEY})
    event = AgentEvent(kind="message", text=f"using key {KEY}", data={"stream": "stderr"})
    assert _event_data(event, wall) == {"stream": "stderr", "text": "using key ***"}
