"""The meeting pack as a PDF: the mayor's one-page summary first, then charts and tables (matplotlib).

Figures are built with ``matplotlib.figure.Figure`` and never through ``pyplot``: no global figure
registry, no GUI backend, safe in a web worker. DejaVu Sans (shipped with matplotlib) has Cyrillic and
the Latin diacritics. Text from the database is escaped for mathtext (``$``) so a category called
"$x$" prints as written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from callcenter_ui.reporting.labels import Script, channel, fmt_date, fmt_moment, fmt_number, fmt_share, label, tr
from core.i18n import status_label
from core.services.reports import MeetingPack

A4 = (8.27, 11.69)
ROWS_PER_PAGE = 40
PDF_REQUEST_ROWS = 120  # the PDF lists the costliest requests; CSV/ODS carry the full list
BLUE, RED, GREY, GREEN = "#1f5f99", "#b03a2e", "#8c8c8c", "#2e7d32"


def _m(text: str, limit: int = 90) -> str:
    """Escape mathtext and bound the length of one printed string."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")  # only an unescaped $ switches matplotlib into mathtext


def _page(title: str, subtitle: str) -> Figure:
    """Start an A4 page with a title line."""
    fig = Figure(figsize=A4)
    fig.text(0.07, 0.955, _m(title), fontsize=15, weight="bold", color=BLUE)
    fig.text(0.07, 0.935, _m(subtitle, 200), fontsize=8, color=GREY)
    return fig


def _table(
    ax: Axes, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float], size: float = 8
) -> None:
    """Draw a plain table filling the axes from the top."""
    ax.axis("off")
    if not rows:
        return
    table = ax.table(
        cellText=[[_m(c) for c in r] for r in rows],
        colLabels=[_m(h) for h in header],
        colWidths=list(widths),
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    table.scale(1, 1.25)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if row == 0:
            cell.set_facecolor("#e8eef5")
            cell.get_text().set_fontweight("bold")


def _barh(ax: Axes, labels: Sequence[str], values: Sequence[float], title: str, color: str = BLUE) -> None:
    """Draw a horizontal bar chart, largest on top, with the values printed."""
    ax.set_title(_m(title), fontsize=10, loc="left")
    if not values:
        ax.axis("off")
        return
    ys = list(range(len(values)))[::-1]
    ax.barh(ys, values, color=color)
    ax.set_yticks(ys, [_m(x[:40]) for x in labels], fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    top = max(values) or 1
    for y, v in zip(ys, values, strict=True):
        ax.text(v + top * 0.01, y, fmt_number(v, 0 if float(v).is_integer() else 1), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.15)
    ax.spines[["top", "right"]].set_visible(False)


def render_pack_pdf(pack: MeetingPack, script: Script, *, created: datetime | None = None) -> bytes:
    """Render a meeting pack as PDF bytes."""

    def lb(key: str) -> str:
        return label(key, script)

    org = tr(pack.organisation_name, script)
    span = f"{fmt_date(pack.period.first_day, script)} – {fmt_date(pack.period.last_day, script)}"
    subtitle = f"{org} · {lb('period')}: {span} · {lb('generated')}: {fmt_moment(pack.now, pack.period.timezone)}"
    out = io.BytesIO()
    metadata = {"Title": f"{lb('pack_title')} — {org}", "Creator": "Sistem 48", "CreationDate": created}
    with PdfPages(out, metadata=metadata) as pdf:
        pdf.savefig(_summary_page(pack, script, subtitle))
        pdf.savefig(_requests_page(pack, script, subtitle))
        pdf.savefig(_clocks_page(pack, script, subtitle))
        pdf.savefig(_costs_page(pack, script, subtitle))
        overdue = [
            [o.code, tr(o.category, script), tr(status_label(o.status), script), fmt_number(o.days_overdue)]
            for o in pack.overdue
        ]
        for fig in _list_pages(
            f"{lb('overdue')} ({label('listed_of', script, shown=len(overdue), total=pack.overdue_total)})",
            subtitle,
            [lb("code"), lb("category"), lb("status"), lb("days_overdue")],
            overdue,
            [0.2, 0.45, 0.2, 0.15],
            empty=lb("no_data"),
        ):
            pdf.savefig(fig)
        requests = [
            [r.code, tr(r.category, script), fmt_number(r.hours), fmt_number(r.amount, 2), tr(r.materials[:40], script)]
            for r in pack.cost_requests[:PDF_REQUEST_ROWS]
        ]
        for fig in _list_pages(
            f"{lb('costs_by_request')} ({label('listed_of', script, shown=len(requests), total=pack.cost_requests_total)})",
            subtitle,
            [lb("code"), lb("category"), lb("hours"), lb("amount"), lb("materials")],
            requests,
            [0.17, 0.33, 0.1, 0.13, 0.27],
            empty=lb("no_data"),
        ):
            pdf.savefig(fig)
    return out.getvalue()


def _summary_page(pack: MeetingPack, script: Script, subtitle: str) -> Figure:
    """Page one: what the mayor reads — key figures in plain words and the monthly trend."""

    def lb(key: str) -> str:
        return label(key, script)

    fig = _page(f"{lb('pack_title')}: {lb('summary')}", subtitle)
    budget = pack.budget[-1] if pack.budget else None
    lines = [
        (lb("received"), fmt_number(pack.received)),
        (
            lb("answered_48"),
            f"{fmt_share(pack.answer.rate)} ({pack.answer.on_time} / {pack.answer.on_time + pack.answer.late})",
        ),
        (
            lb("resolved_on_time"),
            f"{fmt_share(pack.resolve.rate)} ({pack.resolve.on_time} / {pack.resolve.on_time + pack.resolve.late})",
        ),
        (lb("median_answer"), fmt_number(pack.answer.median_h)),
        (lb("p90_answer"), fmt_number(pack.answer.p90_h)),
        (lb("median_resolve"), fmt_number(pack.resolve.median_h)),
        (lb("p90_resolve"), fmt_number(pack.resolve.p90_h)),
        (lb("overdue_total"), fmt_number(pack.overdue_total)),
        (lb("reopened"), fmt_number(pack.reopened_tickets)),
        (lb("feedback"), f"1: {pack.feedback_yes} · 0: {pack.feedback_no} · {fmt_share(pack.feedback_rate)}"),
        (lb("cost_total"), fmt_number(pack.cost_total.amount, 2)),
        (lb("hours"), fmt_number(pack.cost_total.hours)),
        (lb("cost_per_resolved"), fmt_number(pack.cost_per_resolved, 2)),
    ]
    if budget is not None:
        lines.append((f"{lb('budget')} {budget.year}", fmt_number(budget.budget, 2)))
        lines.append((lb("budget_used"), fmt_share(budget.used_share)))
    y = 0.89
    for name, value in lines:
        fig.text(0.07, y, _m(name), fontsize=10)
        fig.text(0.93, y, _m(value), fontsize=10, weight="bold", ha="right")
        y -= 0.028
    ax = fig.add_axes((0.1, 0.08, 0.83, 0.33))
    xs = list(range(len(pack.by_month)))
    ax.bar(xs, [c.count for c in pack.by_month], color=BLUE)
    ax.set_xticks(xs, [c.label for c in pack.by_month], fontsize=7, rotation=45 if len(xs) > 6 else 0)
    ax.set_title(_m(lb("months")), fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _requests_page(pack: MeetingPack, script: Script, subtitle: str) -> Figure:
    """Draw requests by channel and by category."""
    fig = _page(label("received", script), subtitle)
    top = fig.add_axes((0.3, 0.6, 0.62, 0.3))
    _barh(
        top,
        [channel(c.key, script) for c in pack.by_channel],
        [c.count for c in pack.by_channel],
        label("channels", script),
    )
    bottom = fig.add_axes((0.3, 0.08, 0.62, 0.44))
    cats = pack.by_category[:15]
    _barh(bottom, [tr(c.label, script) for c in cats], [c.count for c in cats], label("categories", script), GREEN)
    return fig


def _clocks_page(pack: MeetingPack, script: Script, subtitle: str) -> Figure:
    """Draw the two clocks and who held the tickets."""

    def lb(key: str) -> str:
        return label(key, script)

    fig = _page(lb("clocks"), subtitle)
    rows = [
        [
            lb(name),
            str(c.on_time),
            str(c.late),
            str(c.pending),
            fmt_share(c.rate),
            fmt_number(c.median_h),
            fmt_number(c.p90_h),
        ]
        for name, c in (("answer_clock", pack.answer), ("resolve_clock", pack.resolve))
    ]
    _table(
        fig.add_axes((0.05, 0.72, 0.9, 0.18)),
        [lb("clock"), lb("on_time"), lb("late"), lb("pending"), lb("rate"), lb("median_h"), lb("p90_h")],
        rows,
        [0.3, 0.1, 0.1, 0.1, 0.1, 0.14, 0.16],
        size=7,
    )
    fig.text(0.07, 0.7, _m(f"{lb('ended_unresolved')}: {pack.ended_unresolved}"), fontsize=9)
    clock = pack.clock
    names = [lb("call_centre"), lb("with_organisation"), lb("other_organisation"), lb("citizen")]
    values = [clock.call_centre_h, clock.organisation_h, clock.other_organisation_h, clock.citizen_h]
    means = [round(clock.mean(v) or 0.0, 1) for v in values]
    ax = fig.add_axes((0.4, 0.1, 0.52, 0.5))
    _barh(ax, names, means, f"{lb('holders')} — {lb('hours_mean')}", GREY)
    return fig


def _costs_page(pack: MeetingPack, script: Script, subtitle: str) -> Figure:
    """Costs per category against the budget lines."""

    def lb(key: str) -> str:
        return label(key, script)

    fig = _page(lb("costs_by_category"), subtitle)
    lines = pack.costs_by_category[:12]
    ax = fig.add_axes((0.3, 0.55, 0.62, 0.35))
    ax.set_title(_m(f"{lb('amount')} / {lb('budget')}"), fontsize=10, loc="left")
    if lines:
        ys = list(range(len(lines)))[::-1]
        ax.barh([y + 0.2 for y in ys], [float(c.amount) for c in lines], height=0.4, color=BLUE, label=_m(lb("amount")))
        ax.barh(
            [y - 0.2 for y in ys], [float(c.budget or 0) for c in lines], height=0.4, color=GREY, label=_m(lb("budget"))
        )
        ax.set_yticks(ys, [_m(tr(c.label, script)[:40]) for c in lines], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    else:
        ax.axis("off")
        fig.text(0.3, 0.7, _m(lb("no_data")), fontsize=10)
    rows = [
        [
            tr(c.label, script)[:38],
            str(c.tickets),
            fmt_number(c.hours),
            fmt_number(c.amount, 2),
            fmt_number(c.per_request, 2),
            fmt_number(c.budget, 2),
        ]
        for c in pack.costs_by_category[:18]
    ]
    t = pack.cost_total
    rows.append(
        [lb("total"), str(t.tickets), fmt_number(t.hours), fmt_number(t.amount, 2), fmt_number(t.per_request, 2), ""]
    )
    _table(
        fig.add_axes((0.05, 0.05, 0.9, 0.42)),
        [lb("category"), lb("requests"), lb("hours"), lb("amount"), lb("per_request"), lb("budget")],
        rows,
        [0.38, 0.1, 0.1, 0.14, 0.14, 0.14],
        size=7,
    )
    return fig


def _list_pages(
    title: str, subtitle: str, header: list[str], rows: list[list[str]], widths: list[float], *, empty: str
) -> list[Figure]:
    """Split a long list over as many pages as it needs."""
    pages = []
    chunks = [rows[i : i + ROWS_PER_PAGE] for i in range(0, len(rows), ROWS_PER_PAGE)] or [[]]
    for n, chunk in enumerate(chunks, start=1):
        fig = _page(title if len(chunks) == 1 else f"{title} — {n}/{len(chunks)}", subtitle)
        if chunk:
            _table(fig.add_axes((0.05, 0.04, 0.9, 0.88)), header, chunk, widths, size=7)
        else:
            fig.text(0.07, 0.88, _m(empty), fontsize=10)
        pages.append(fig)
    return pages
