"""The weekly overview as a PDF: key figures, charts per channel and category, a table per organisation.

matplotlib's bundled DejaVu Sans covers Cyrillic and Latin with diacritics; fonts are embedded as
TrueType (Type 42) so the text stays searchable and extractable. Only the Figure API is used (no
pyplot global state), and rendering is serialised by a lock because matplotlib is not thread-safe.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from callcenter_ui import i18n_public as i18n
from core.services.weekly import MIN_SAMPLE, Tally, WeeklyReport, radio_script

_LOCK = threading.Lock()
A4 = (8.27, 11.69)
_MAX_ROWS = 18  # rows per table page; the rest continue on the next page


def _rate(tally: Tally, lang: str) -> str:
    """Return the on-time share, or the counts when the sample is too small."""
    if tally.on_time_rate is not None:
        return f"{round(tally.on_time_rate)} %"
    if tally.decided:
        return i18n.t("of", lang, a=tally.on_time, b=tally.decided)
    return "—"


def _wrap(text: str, width: int) -> str:
    """Wrap a long label onto at most three lines for a chart axis."""
    return "\n".join(_wrap_long(text, width)[:3])


def _barh(fig: Figure, rect: tuple[float, float, float, float], title: str, items: Iterable[tuple[str, int]]) -> None:
    """Draw a horizontal bar chart with its values written at the bars."""
    pairs = list(items)
    ax = fig.add_axes(rect)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    if not pairs:
        ax.set_axis_off()
        return
    labels = [_wrap(label, 34) for label, _ in pairs]
    values = [v for _, v in pairs]
    positions = list(range(len(pairs)))[::-1]
    ax.barh(positions, values, color="#0b4f8a")
    ax.set_yticks(positions, labels, fontsize=7)
    ax.set_xlim(0, max(values + [1]) * 1.15)
    for y, v in zip(positions, values, strict=True):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts are whole tickets


def render_pdf(report: WeeklyReport, lang: str, timezone: str) -> bytes:
    """Render the overview of one week as PDF bytes in the given language."""

    def t(key: str, **values: object) -> str:
        return i18n.t(key, lang, **values)

    def name(text: str) -> str:
        return i18n.name(text, lang)

    total = report.total
    buffer = io.BytesIO()
    metadata = {"Title": f"{t('weekly')} {report.label}", "Creator": "Sistem 48"}
    with (
        _LOCK,
        mpl.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}),
        PdfPages(buffer, metadata=metadata) as pdf,
    ):
        fig = Figure(figsize=A4)
        fig.text(0.07, 0.95, t("site"), fontsize=14, fontweight="bold")
        fig.text(
            0.07,
            0.92,
            t(
                "week_title",
                label=report.label,
                first=report.first_day.strftime("%d. %m. %Y."),
                last=report.last_day.strftime("%d. %m. %Y."),
            ),
            fontsize=11,
        )
        if not report.complete:
            fig.text(0.07, 0.895, t("running"), fontsize=9, color="#4a4a4a")
        facts = [
            (t("received_n"), str(total.received)),
            (t("answered_on_time"), _rate(total, lang)),
            (t("pending_n"), str(total.pending)),
            (t("resolved_n"), str(total.resolved)),
            (t("overdue_n"), str(total.overdue)),
        ]
        for i, (label, value) in enumerate(facts):
            fig.text(0.07, 0.855 - i * 0.025, label, fontsize=10)
            fig.text(0.6, 0.855 - i * 0.025, value, fontsize=10, fontweight="bold")
        fig.text(0.07, 0.72, t("small_sample", n=MIN_SAMPLE), fontsize=8, color="#4a4a4a")
        _barh(
            fig,
            (0.32, 0.47, 0.6, 0.2),
            t("by_channel"),
            [(i18n.channel_text(c, lang), n) for c, n in report.by_channel.items()],
        )
        cats = sorted(report.by_category.items(), key=lambda kv: (-kv[1].received, kv[0]))[:12]
        _barh(
            fig,
            (0.32, 0.07, 0.6, 0.33),
            t("by_category"),
            [(name(c) if c else t("uncategorised"), tally.received) for c, tally in cats],
        )
        pdf.savefig(fig)

        rows = sorted(report.by_organisation.items(), key=lambda kv: (-kv[1].received, kv[0]))
        header = [t("organisation"), t("received_n"), t("answered_on_time"), t("resolved_n"), t("overdue_n")]
        for start in range(0, max(len(rows), 1), _MAX_ROWS):
            fig = Figure(figsize=A4)
            fig.text(0.07, 0.95, f"{t('by_organisation')} — {report.label}", fontsize=13, fontweight="bold")
            ax = fig.add_axes((0.05, 0.3, 0.9, 0.6))
            ax.set_axis_off()
            cells = [
                [
                    _wrap(name(o) if o else t("unassigned"), 40),
                    str(x.received),
                    _rate(x, lang),
                    str(x.resolved),
                    str(x.overdue),
                ]
                for o, x in rows[start : start + _MAX_ROWS]
            ] or [["—", "0", "—", "0", "0"]]
            table = ax.table(
                cellText=cells,
                colLabels=[_wrap(h, 14) for h in header],
                loc="upper left",
                colWidths=[0.44, 0.12, 0.16, 0.14, 0.14],
            )
            table.auto_set_font_size(False)
            table.set_fontsize(7)
            table.scale(1, 2.4)
            pdf.savefig(fig)

        fig = Figure(figsize=A4)
        fig.text(0.07, 0.95, t("radio"), fontsize=13, fontweight="bold")
        script = radio_script(report, "sr-Latn" if lang != "sr-Cyrl" else "sr-Cyrl")
        lines: list[str] = []
        for paragraph in script.splitlines():
            lines.extend(_wrap_long(paragraph, 90))
        fig.text(0.07, 0.92, "\n".join(lines[:60]), fontsize=8.5, va="top", linespacing=1.5)
        pdf.savefig(fig)
    return buffer.getvalue()


def _wrap_long(text: str, width: int) -> list[str]:
    """Wrap a paragraph without a line limit."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return lines
