"""settle_heap (sistem48/runtime.py): what startup made leaves the collector's sweeps, what comes later does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a child process: freezing the test worker's own heap would change every later test's collections.
PROBE = """
import gc
from sistem48.runtime import settle_heap
startup = ["made at startup"]
assert any(o is startup for o in gc.get_objects())
settle_heap()
later = ["made while serving"]
print(any(o is startup for o in gc.get_objects()), any(o is later for o in gc.get_objects()), gc.isenabled())
"""


def test_startup_objects_are_frozen_and_later_ones_still_collected() -> None:
    """After settle_heap the collector no longer tracks startup objects; it still tracks new ones."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True)  # noqa: S603
    assert done.stdout.split() == ["False", "True", "True"]  # frozen, still tracking, collector still on
