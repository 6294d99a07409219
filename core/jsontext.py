"""JSON text for the live path: events stored and pushed while phones ring."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # int keys become strings, as the json module makes them


def to_json(value: Any) -> str:
    """Return ``value`` as compact JSON text, non-ASCII letters as they are.

    orjson writes a screen pop (a few kilobytes of caller history) several times faster than the
    json module, and twenty pops of one group commit are written twice each (stored, then pushed).
    It refuses a lone surrogate, which the json module escapes: that rare text (a hostile caller ID
    decoded with errors kept) takes the slower path rather than losing its event.
    """
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))
