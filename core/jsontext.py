"""JSON text for the live path: events stored and pushed while phones ring."""

from __future__ import annotations

import json
from typing import Any

import orjson

# Int keys become strings, as the json module makes them. Datetimes and dataclasses are refused, as
# the json module (and so SQLite's JSON columns) refuses them, rather than written in a form of
# orjson's own: the same event must store and push alike on either database.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def to_json(value: Any) -> str:
    """Return ``value`` as compact JSON text, non-ASCII letters as they are where orjson can write it.

    orjson writes a screen pop (a few kilobytes of caller history) several times faster than the
    json module, and twenty pops of one group commit are written twice each (stored, then pushed).
    What orjson refuses goes to the json module, which escapes everything beyond ASCII: a lone
    surrogate (a hostile caller ID decoded with its bad bytes kept), which UTF-8 cannot carry, and
    an integer beyond 64 bits. A value neither accepts (a datetime) raises TypeError. NaN and
    infinities become null (the json module would write NaN, which PostgreSQL's json refuses).
    """
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))
