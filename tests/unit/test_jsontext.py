"""JSON text of live events: the same values as the json module's, whatever the input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.jsontext import to_json


def test_text_reads_back_as_the_value_with_letters_kept() -> None:
    """Nested values round-trip; Cyrillic stays letters (not escapes); int keys become strings."""
    value = {"history": {"citizen": {"name": "Милан Čaršija"}, "tickets": [1, 2.5, None, True]}, 7: "seven"}
    text = to_json(value)
    assert "Милан Čaršija" in text
    assert json.loads(text) == {"history": value["history"], "7": "seven"}


def test_a_lone_surrogate_is_written_escaped_not_refused() -> None:
    """A caller ID decoded with its bad bytes kept still becomes JSON (escaped, as the json module does)."""
    value = {"caller_name": "Ivan\udce8"}
    text = to_json(value)
    assert "\\udce8" in text
    assert json.loads(text) == value


def test_an_integer_beyond_64_bits_is_written_whole() -> None:
    """The json module writes what orjson refuses."""
    assert json.loads(to_json({"n": 2**70})) == {"n": 2**70}


def test_values_the_json_module_refuses_are_refused_here_too() -> None:
    """A datetime would be written by orjson but refused by SQLite's JSON column: refused on both."""
    with pytest.raises(TypeError):
        to_json({"at": datetime(2026, 11, 28, tzinfo=UTC)})
    assert to_json({"x": float("nan")}) == '{"x":null}'
