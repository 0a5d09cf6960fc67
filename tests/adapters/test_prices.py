"""The price table: cited entries, vendor-tolerant lookup, exact arithmetic, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.base import Usage
from adapters.prices import Priced, PriceTable, normalize


@pytest.fixture
def table() -> PriceTable:
    return PriceTable.load()


def test_every_shipped_entry_is_dated_and_cites_a_source() -> None:
    data = json.loads((Path(__file__).parents[2] / "adapters" / "prices.json").read_text())
    assert data["models"]
    for name, entry in data["models"].items():
        assert entry["date"], name
        assert "https://" in entry["source"], name
        assert entry["input"] > 0, name
        assert entry["output"] > 0, name


def test_claude_sonnet_run_costs_what_claude_code_reported(table: PriceTable) -> None:
    # Claude Code 2.1.197 reported total_cost_usd 0.0061203 for exactly these tokens.
    usage = Usage(
        model="claude-sonnet-4-5",
        input_tokens=1333,
        output_tokens=96,
        cache_read_tokens=271,
        cache_write_tokens=160,
    )
    assert table.price(usage) == Priced(cost_usd=0.00612, date="2026-11-24")


def test_arithmetic_is_exact_not_binary_floating_point(table: PriceTable) -> None:
    # 15 x $0.1/M + 144 x $1.25/M = $0.0001815 exactly, which rounds half up to 0.000182;
    # the same sum in binary floats lands just below the half and would round to 0.000181.
    usage = Usage(model="claude-haiku-4-5", cache_read_tokens=15, cache_write_tokens=144)
    assert round((15 * 0.1 + 144 * 1.25) / 1e6, 6) == 0.000181
    assert table.price(usage) == Priced(cost_usd=0.000182, date="2026-11-24")


def test_rounding_is_half_up_at_a_millionth() -> None:
    table = PriceTable.load({"m": {"input": 0.5, "output": 0}})
    priced = table.price(Usage(model="m", input_tokens=1))  # $0.0000005
    assert priced == Priced(cost_usd=0.000001, date="override")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-opus-4-8[1m]", "claude-opus-4-8"),
        ("openai/gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("GPT-5", "gpt-5"),
    ],
)
def test_normalize(model: str, expected: str) -> None:
    assert normalize(model) == expected


def test_lookup_is_exact_after_normalizing(table: PriceTable) -> None:
    assert table.lookup("openai/gpt-5-2025-08-07") == table.lookup("gpt-5")
    mini, full = table.lookup("gpt-5-mini"), table.lookup("gpt-5")
    assert mini is not None
    assert full is not None
    assert mini.input < full.input  # gpt-5-mini is not priced as gpt-5 by prefix
    assert table.lookup("gpt-5-nano") is None
    assert table.lookup("") is None


def test_unknown_model_or_missing_rate_is_not_priced(table: PriceTable) -> None:
    assert table.price(Usage(model="scripted-1", input_tokens=10)) is None
    # Gemini 2.5 Flash has no confirmed cache-read rate: only usage without cache reads is priced.
    assert (
        table.price(Usage(model="gemini-2.5-flash", input_tokens=10, cache_read_tokens=5)) is None
    )
    flash = table.price(Usage(model="gemini-2.5-flash", input_tokens=1_000_000, output_tokens=1000))
    assert flash == Priced(cost_usd=0.3025, date="2026-11-24")


def test_reasoning_is_inside_output_and_not_charged_twice(table: PriceTable) -> None:
    plain = table.price(Usage(model="gpt-5", output_tokens=1000))
    reasoning = table.price(Usage(model="gpt-5", output_tokens=1000, reasoning_tokens=900))
    assert plain == reasoning == Priced(cost_usd=0.01, date="2026-11-24")


def test_overrides_change_some_rates_or_add_models(table: PriceTable) -> None:
    changed = PriceTable.load(
        {"anthropic/claude-sonnet-4-5": {"output": 10}, "local-llm": {"input": 0, "output": 0}}
    )
    usage = Usage(model="claude-sonnet-4-5", input_tokens=1_000_000, output_tokens=1_000_000)
    assert changed.price(usage) == Priced(cost_usd=13.0, date="override")
    assert table.price(usage) == Priced(cost_usd=18.0, date="2026-11-24")
    assert changed.price(Usage(model="local-llm", input_tokens=5)) == Priced(0.0, "override")


@pytest.mark.parametrize(
    "overrides",
    [
        {"new-model": {"input": 1.0}},
        {"gpt-5": {"input": -1.0}},
        {"gpt-5": {"inptu": 1.0}},
        {"gpt-5": {"input": float("nan")}},
    ],
)
def test_bad_overrides_are_errors(overrides: dict[str, dict[str, float]]) -> None:
    with pytest.raises(ValueError, match="price"):
        PriceTable.load(overrides)


def test_load_from_another_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {"models": {"x-1": {"input": 2, "output": 4, "date": "2030-01-01", "source": "s"}}}
        )
    )
    table = PriceTable.load(path=path)
    assert table.models == ["x-1"]
    assert table.price(Usage(model="x-1", input_tokens=500_000, output_tokens=250_000)) == Priced(
        2.0, "2030-01-01"
    )
