"""SMS commands read from citizens' texts: status queries, 1/0 answers, script detection, health."""

from __future__ import annotations

import pytest

from core.services.sms import detect_script, feedback_invite, parse_feedback, parse_status_query, retry_delay
from sms_modem.daemon import assess
from sms_modem.modem import ModemStatus


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("STATUS 48-2026-000123", ("48-2026-000123",)),
        ("СТАЊЕ 48-2026-000123", ("48-2026-000123",)),
        ("stanje 48 2026 123", ("48-2026-000123",)),
        ("Статус", ()),
        ("  status?  ", ()),
        ("STATUS 48-2026-000001 48-2026-000002", ("48-2026-000001", "48-2026-000002")),
        ("Нема воде у улици", None),
        ("status " + "x" * 200, None),
        ("moj status je los", None),
    ],
)
def test_parse_status_query(text: str, codes: tuple[str, ...] | None) -> None:
    """Status keywords in any script and case are recognised with their codes; complaints are not."""
    assert parse_status_query(text) == codes


@pytest.mark.parametrize(
    ("text", "answer"),
    [("1", "yes"), ("0", "no"), (" Da ", "yes"), ("ДА", "yes"), ("не", "no"), ("NE!", "no"), ("0.", "no"),
     ("10", None), ("da, hvala", None), ("", None), ("nema vode", None)],
)  # fmt: skip
def test_parse_feedback(text: str, answer: str | None) -> None:
    """Only a bare 1/0/da/ne (any script) answers the "fixed?" question."""
    assert parse_feedback(text) == answer


@pytest.mark.parametrize(
    ("text", "script"),
    [("СТАЊЕ", "sr-Cyrl"), ("STANJE", "sr-Latn"), ("Šta je sa vodom", "sr-Latn"), ("123", "sr-Cyrl")],
)
def test_detect_script(text: str, script: str) -> None:
    """Answers follow the script the citizen wrote in."""
    assert detect_script(text) == script


def test_feedback_invite_in_both_scripts() -> None:
    """The 1/0 invitation exists in Cyrillic and derived Latin."""
    assert feedback_invite("sr-Cyrl") == "Да ли је проблем ријешен? Одговорите 1 (да) или 0 (не)."
    assert feedback_invite("sr-Latn") == "Da li je problem riješen? Odgovorite 1 (da) ili 0 (ne)."


def test_retry_delay_grows_and_caps() -> None:
    """Backoff doubles from 30 s and stops at 30 minutes."""
    assert [int(retry_delay(n).total_seconds()) for n in (1, 2, 3, 10)] == [30, 60, 120, 1800]


@pytest.mark.parametrize(
    ("used", "signal", "network", "state", "fragment"),
    [(2, 60, "HomeNetwork", "ok", "SIM 2/20"), (16, 60, "HomeNetwork", "degraded", "SIM memory almost full (16/20)"),
     (2, 5, "HomeNetwork", "degraded", "weak signal (5%)"), (2, 60, "NoNetwork", "degraded", "not registered")],
)  # fmt: skip
def test_assess_modem_status(used: int, signal: int, network: str, state: str, fragment: str) -> None:
    """SIM almost full, weak signal and no network degrade the modem's health with a clear reason."""
    status = ModemStatus(signal_percent=signal, network_state=network, network_name=None, network_code=None,
                         sim_used=used, sim_size=20, phone_used=0, phone_size=0)  # fmt: skip
    got_state, detail = assess(status)
    assert got_state == state
    assert fragment in detail
