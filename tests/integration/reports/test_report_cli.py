"""The functions behind ``sistem48 report``: files written for any period, progress reported."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from callcenter_ui.reporting.cli import write_all_packs, write_comparison, write_pack, write_planning, write_schedule
from core.bootstrap import Core

pytestmark = pytest.mark.usefixtures("seeded")


def test_every_report_is_written_with_progress(core: Core, tmp_path: Path) -> None:
    """Pack, all packs, comparison, planning and schedule files appear; progress reaches its total."""
    seen: list[tuple[int, int]] = []
    pack = write_pack(
        core,
        "vodovod",
        date(2025, 1, 1),
        date(2025, 12, 31),
        "pdf",
        "latn",
        tmp_path / "p.pdf",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert pack.read_bytes().startswith(b"%PDF")
    assert seen[-1][0] == seen[-1][1]
    packs = write_all_packs(core, date(2025, 3, 1), date(2025, 3, 31), "csv", "cyrl", tmp_path / "all")
    assert len(packs) >= 3 and all(p.stat().st_size > 100 for p in packs)
    assert (
        write_comparison(core, date(2025, 1, 1), date(2025, 6, 30), "ods", "cyrl", tmp_path / "c.ods").stat().st_size
        > 500
    )
    plan = write_planning(core, 2025, "csv", "latn", tmp_path / "plan.csv").read_bytes().decode("utf-8-sig")
    assert "Budžet i izvršenje" in plan and "Baština" in plan
    schedule = write_schedule(core, date(2026, 1, 12), 2, 4, "csv", "cyrl", tmp_path / "s.csv").read_text("utf-8-sig")
    assert "2026-01-26" in schedule
    assert not list(tmp_path.rglob("*.part"))
    with pytest.raises(ValueError, match="format"):
        write_pack(core, "vodovod", date(2025, 1, 1), date(2025, 1, 31), "xls", "cyrl", tmp_path / "x.xls")
