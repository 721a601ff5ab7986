"""E-mailing stored warnings: once each, recorded message by message, under a claim with a lease.

Why message by message: a row is marked ``SENT`` right after the server
accepted it, by an UPDATE that checks this run still holds the claim, and the
claim's lease is renewed (by the same kind of UPDATE) just before each message.
So a slow batch never outlives its lease, a run that lost a row to another run
skips it, and an error or a crash mid-batch leaves the rows already sent
recorded and the others free for the next run. A bad address settles its own
row (``INVALID_ADDRESS``) and costs no other row anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import F, Q

from licheng.portfolio import clock
from licheng.tenants.models import Person
from taipei_coolcloud.mail import INVALID_ADDRESS, SENT, OutgoingMail, SmtpConfig, SmtpSession, address_ok, error_name
from taipei_coolcloud.models.early_warnings import EarlyWarning, EmailState, WarningEmailOptOut, WarningKind

CLAIM_LEASE = timedelta(minutes=15)  # renewed before each message: one SMTP exchange (4 steps x 10 s) fits many times
MAX_EMAIL_ATTEMPTS = 10
BATCH = 200  # e-mails per SMTP connection
MAX_BATCHES = 50  # per run and kind; more waits for the next run


@dataclass
class Delivery:
    sent: int = 0
    skipped: int = 0
    failed: int = 0  # still pending: retried by the next run


def _mail_of(row: EarlyWarning, address: str) -> OutgoingMail:
    return OutgoingMail(
        to=address,
        subject=f"{row.subject_zh} / {row.subject_en}",
        body=f"{row.body_zh}\n\n（此為系統自動寄發的預警通知，可於系統中取消電子郵件通知。）\n\n---\n\n{row.body_en}\n\n"
        "(An automatic early warning. You may turn these e-mails off in the app.)",
        message_id=f"<warning-{row.school_id}-{row.id}@licheng.taipei-coolcloud>",
    )


async def _settle(ids: list[int], state: EmailState, token: str | None = None) -> int:
    if not ids:
        return 0
    rows = EarlyWarning.filter(id__in=ids, email_state=EmailState.PENDING)
    if token is not None:
        rows = rows.filter(email_claim=token)
    return await rows.update(email_state=state, email_claimed_at=None, email_claim=None)


def _free(now: datetime) -> Q:
    return Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - CLAIM_LEASE)


async def _claim(ids: list[int], now: datetime, token: str) -> set[int]:
    """The rows this run may send: one conditional update, so two runs never both win a row."""
    if not ids:
        return set()
    await EarlyWarning.filter(_free(now), id__in=ids, email_state=EmailState.PENDING).update(email_claim=token, email_claimed_at=now)
    won: list[int] = await EarlyWarning.filter(id__in=ids, email_claim=token).values_list("id", flat=True)  # type: ignore[assignment]
    return set(won)


async def _hold(row_id: int, token: str) -> bool:
    """Renew this run's lease on one row; False when another run took the row over (its lease had run out)."""
    held = EarlyWarning.filter(id=row_id, email_claim=token, email_state=EmailState.PENDING)
    return await held.update(email_claimed_at=clock.now()) == 1


async def _mark_sent(row_id: int, token: str) -> None:
    await EarlyWarning.filter(id=row_id, email_claim=token).update(
        email_state=EmailState.SENT, emailed_at=clock.now(), email_claimed_at=None, email_claim=None, email_error=None
    )  # fmt: skip


async def _charge(ids: list[int], token: str, error: str, report: Delivery) -> None:
    """One more failed attempt for these rows; given up (``FAILED``) after ``MAX_EMAIL_ATTEMPTS``."""
    if not ids:
        return
    mine = EarlyWarning.filter(id__in=ids, email_claim=token)
    await mine.update(email_attempts=F("email_attempts") + 1, email_error=error)
    given_up = await EarlyWarning.filter(id__in=ids, email_claim=token, email_attempts__gte=MAX_EMAIL_ATTEMPTS).update(
        email_state=EmailState.FAILED
    )  # fmt: skip
    await _release(ids, token)
    report.skipped += given_up
    report.failed += len(ids) - given_up


async def _release(ids: list[int], token: str) -> None:
    if ids:
        await EarlyWarning.filter(id__in=ids, email_claim=token).update(email_claimed_at=None, email_claim=None)


async def _send_claimed(smtp: SmtpConfig, claimed: list[tuple[EarlyWarning, str]], token: str, report: Delivery) -> None:
    """Send each claimed row over one connection, recording each outcome as it comes."""
    session = SmtpSession(smtp)
    try:
        await session.open()
    except Exception as error:  # noqa: BLE001 - connection, TLS or login failure: every row charged, all retried
        await _charge([row.id for row, _ in claimed], token, error_name(error), report)
        return
    done: set[int] = set()
    try:
        for row, address in claimed:
            if session.broken is not None:
                break
            if not await _hold(row.id, token):
                done.add(row.id)  # another run took it over after our lease ran out: it sends it
                continue
            outcome = await session.send(_mail_of(row, address))
            if outcome is SENT:
                await _mark_sent(row.id, token)
                report.sent += 1
            elif outcome == INVALID_ADDRESS:
                report.skipped += await _settle([row.id], EmailState.INVALID_ADDRESS, token)
            else:
                await _charge([row.id], token, outcome, report)
            done.add(row.id)  # recorded: an error before this line leaves it to the release below
    finally:
        await session.close()
        rest = [row.id for row, _ in claimed if row.id not in done]
        await _release(rest, token)  # not tried (connection lost, or an error here): free for the next run, no attempt charged
        report.failed += len(rest)


async def deliver_batch(school_id: int, smtp: SmtpConfig | None, kinds: Sequence[WarningKind], report: Delivery) -> int:
    """One batch over one SMTP connection; returns how many pending rows it looked at."""
    now = clock.now()
    pending = EarlyWarning.filter(_free(now), school_id=school_id, kind__in=list(kinds), email_state=EmailState.PENDING)
    rows = await pending.order_by("id").limit(BATCH)
    if not rows:
        return 0
    if smtp is None:
        report.skipped += await _settle([r.id for r in rows], EmailState.DISABLED)
        return len(rows)
    person_ids = sorted({r.recipient_id for r in rows})
    opted = set(await WarningEmailOptOut.filter(school_id=school_id, person_id__in=person_ids).values_list("person_id", "kind"))
    addresses = dict(
        await Person.filter(school_id=school_id, id__in=person_ids, active=True, email__isnull=False).values_list("id", "email")
    )
    settled: dict[EmailState, list[int]] = {}
    ready: list[EarlyWarning] = []
    for row in rows:
        address = (addresses.get(row.recipient_id) or "").strip()
        if row.deadline_at is not None and row.deadline_at <= now:
            settled.setdefault(EmailState.EXPIRED, []).append(row.id)
        elif (row.recipient_id, "") in opted or (row.recipient_id, row.kind.value) in opted:
            settled.setdefault(EmailState.OPTED_OUT, []).append(row.id)
        elif not address:
            settled.setdefault(EmailState.NO_ADDRESS, []).append(row.id)
        elif not address_ok(address):  # CR/LF, a list, a display name...: never sendable, never retried
            settled.setdefault(EmailState.INVALID_ADDRESS, []).append(row.id)
        else:
            ready.append(row)
    for state, ids in settled.items():
        report.skipped += await _settle(ids, state)
    token = uuid.uuid4().hex
    won = await _claim([r.id for r in ready], now, token)
    claimed = [(r, (addresses[r.recipient_id] or "").strip()) for r in ready if r.id in won]
    if claimed:
        await _send_claimed(smtp, claimed, token, report)
    return len(rows)


async def deliver(school_id: int, smtp: SmtpConfig | None, kinds: Sequence[WarningKind]) -> Delivery:
    """E-mail the school's pending warnings of these kinds, once each, batch after batch.

    Stops at the first batch with a failure: the server is likely down, the next run retries."""
    report = Delivery()
    for _ in range(MAX_BATCHES):
        if not await deliver_batch(school_id, smtp, kinds, report) or report.failed:
            break
    return report
