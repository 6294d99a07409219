"""The outgoing side of the SMS daemon: queued ``message`` rows → the modem, paced in parts per minute.

The table is the queue (``core.services.sms.claim_next``); this module only paces and sends. Pacing
uses :class:`~sms_modem.outbound.OutboundScheduler`'s rule: a message reserves the modem for as many
slots as it has parts, so a 5-part Cyrillic reply waits five times as long as a 1-part one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.bootstrap import Core
from core.services import sms as sms_core
from sms_modem.decode import DeliveryReport, DeliveryState
from sms_modem.modem import GammuModem, InvalidRecipient, ModemError, ModemUnavailable, SentSms

log = logging.getLogger(__name__)


@dataclass
class SmsSender:
    """Sends queued SMS rows at ``per_minute`` parts per minute, retrying with backoff."""

    core: Core
    modem: GammuModem
    per_minute: float = 10.0
    budget: int = sms_core.DAILY_PART_BUDGET
    request_reports: bool = True
    send: Callable[[GammuModem, str, str, bool, bool], SentSms] | None = None
    _free_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.per_minute <= 0:
            raise ValueError("per_minute must be positive")

    @property
    def interval(self) -> timedelta:
        """Time one SMS part occupies the modem."""
        return timedelta(minutes=1) / self.per_minute

    def wait(self, now: datetime) -> timedelta:
        """How long the modem is still reserved by the last send."""
        if self._free_at is None or now >= self._free_at:
            return timedelta(0)
        return self._free_at - now

    def tick(self, now: datetime) -> int | None:
        """Send at most one message if the rate allows; return its id. Modem errors propagate."""
        if self._free_at is not None and now < self._free_at:
            return None
        claimed = sms_core.claim_next(
            self.core.uow(),
            now,
            transliterate_default=self.core.settings.sms_transliterate,
            budget=self.budget,
        )
        if claimed is None:
            return None
        try:
            sent = self._send(claimed)
        except InvalidRecipient as exc:
            sms_core.record_failure(self.core.uow(), claimed.message_id, str(exc), permanent=True)
            return claimed.message_id
        except ModemUnavailable as exc:
            # The modem vanished: this send did not happen; queue it again and let the daemon report.
            sms_core.record_failure(self.core.uow(), claimed.message_id, str(exc))
            raise
        except ModemError as exc:
            state = sms_core.record_failure(self.core.uow(), claimed.message_id, str(exc))
            log.warning("SMS %s not sent (%s): %s", claimed.message_id, state, exc)
            self._free_at = now + self.interval
            return claimed.message_id
        sms_core.record_sent(
            self.core.uow(),
            claimed.message_id,
            references=sent.references,
            segments=sent.plan.segments,
            encoding=sent.plan.coding.value,
            transliterated=sent.plan.transliterated,
            report_requested=sent.report_requested,
            sent_text=sent.plan.text if sent.plan.transliterated else None,
        )
        self._free_at = now + self.interval * max(1, sent.plan.segments)
        return claimed.message_id

    def _send(self, claimed: sms_core.OutgoingSms) -> SentSms:
        """Hand one message to the modem (a hook lets tests fail it on purpose)."""
        if self.send is not None:
            return self.send(self.modem, claimed.address, claimed.body, claimed.transliterate, self.request_reports)
        return self.modem.send(
            claimed.address, claimed.body, transliterate=claimed.transliterate, report=self.request_reports
        )

    def apply_report(self, report: DeliveryReport) -> int | None:
        """Record one delivery report against the message it is about."""
        if report.state is DeliveryState.PENDING:
            state = "pending"
        else:
            state = "delivered" if report.state is DeliveryState.DELIVERED else "failed"
        return sms_core.record_delivery_report(
            self.core.uow(),
            recipient=report.recipient,
            reference=report.reference,
            state=state,
            at=report.discharge_time,
        )
