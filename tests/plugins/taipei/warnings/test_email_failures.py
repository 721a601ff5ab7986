"""E-mail failures that must cost only the message at fault: bad addresses, errors mid-batch, a lease running out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from licheng.portfolio import clock as portfolio_clock
from licheng.tenants.models import Person
from taipei_coolcloud import early_warnings_email
from taipei_coolcloud.early_warnings import run_kind
from taipei_coolcloud.models.early_warnings import EarlyWarning, EmailState, WarningKind
from tests.plugins.taipei.warnings.conftest import NEAR_UPLOAD_DEADLINE, Inbox, SmtpServer, TaipeiSchool, free_port
from tests.plugins.taipei.warnings.helpers import run, warnings_of

KIND = WarningKind.OUTCOMES_NOT_SENT


async def _students(taipei: TaipeiSchool, count: int) -> list[str]:
    """More students with a term-1 course record and an address; returns their addresses."""
    addresses = []
    for n in range(count):
        student = await taipei.scene.add_student(f"同學{n}")
        await taipei.scene.course_record(student, f"5{n}")
        addresses.append(await taipei.give_email(student, f"more{n}"))
    return addresses


async def test_an_address_with_a_line_break_is_settled_and_the_others_are_sent_once(taipei, inbox, clock):
    others = await _students(taipei, 2)
    student = taipei.scene.student.person
    await Person.filter(id=student.id).update(email="a@x.tw\nBcc: spy@evil.example")  # stored as a CSV import gave it
    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, KIND)
    assert (report.delivery.sent, report.delivery.failed) == (2, 0)
    bad = await EarlyWarning.get(recipient_id=student.id, kind=KIND)
    assert bad.email_state == EmailState.INVALID_ADDRESS and bad.email_attempts == 0 and bad.email_claim is None
    assert sorted(r for m in inbox.messages for r in m.rcpt_tos) == sorted(others)
    assert all("spy@evil.example" not in str(m.message) for m in inbox.messages)

    again = await run(taipei, KIND)  # nothing claimed is left behind: the next run sends nothing again
    assert again.delivery.sent == 0 and len(inbox.messages) == 2


async def test_a_line_break_in_a_subject_cannot_add_a_header(taipei, inbox, clock):
    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, KIND)  # stored, and sent: reset it with a subject carrying a header
    await EarlyWarning.filter(school_id=taipei.school_id).update(
        subject_zh="班級 101\r\nBcc: spy@evil.example", email_state=EmailState.PENDING, emailed_at=None
    )  # fmt: skip
    inbox.messages.clear()
    assert (await run(taipei, KIND)).delivery.sent == 1
    [mail] = inbox.messages
    assert mail.message["Bcc"] is None and mail.rcpt_tos == [taipei.emails["student"]]
    assert mail.message["Subject"].startswith("班級 101 Bcc: spy@evil.example")


async def test_a_non_ascii_address_is_settled_when_the_server_lacks_smtputf8(taipei, inbox, clock):
    others = await _students(taipei, 1)
    student = taipei.scene.student.person
    await Person.filter(id=student.id).update(email="王小明@學校.tw")  # id order: this row is tried first
    clock.set(NEAR_UPLOAD_DEADLINE)
    for _ in range(3):
        report = await run(taipei, KIND)
        assert report.delivery.failed == 0
    bad = await EarlyWarning.get(recipient_id=student.id, kind=KIND)
    assert bad.email_state == EmailState.INVALID_ADDRESS and bad.email_attempts == 0
    assert [m.rcpt_tos for m in inbox.messages] == [others]  # the others went, once


async def test_a_non_ascii_address_goes_out_when_the_server_offers_smtputf8(taipei, clock, smtp_cert):
    server = SmtpServer(Inbox(), free_port(), smtp_cert, smtputf8=True)
    server.start()
    try:
        await taipei.configure({"smtp_port": server.port})
        await Person.filter(id=taipei.scene.student.person.id).update(email="王小明@學校.tw")
        clock.set(NEAR_UPLOAD_DEADLINE)
        assert (await run(taipei, KIND)).delivery.sent == 1
    finally:
        server.stop()
    [mail] = server.inbox.messages
    assert mail.rcpt_tos == ["王小明@學校.tw"]


class RefusingInbox(Inbox):
    """Refuses one recipient, as a server does with a mailbox it does not know."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address == self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_refused_recipient_costs_only_its_own_message(taipei, clock, smtp_cert):
    others = await _students(taipei, 2)
    server = SmtpServer(RefusingInbox(taipei.emails["student"]), free_port(), smtp_cert)
    server.start()
    try:
        await taipei.configure({"smtp_port": server.port})
        clock.set(NEAR_UPLOAD_DEADLINE)
        report = await run(taipei, KIND)
    finally:
        server.stop()
    assert (report.delivery.sent, report.delivery.failed) == (2, 1), [(w.email_error, w.email_state) for w in await warnings_of(taipei)]
    assert sorted(r for m in server.inbox.messages for r in m.rcpt_tos) == sorted(others)
    refused = await EarlyWarning.get(recipient_id=taipei.scene.student.person.id, kind=KIND)
    assert refused.email_state == EmailState.PENDING and refused.email_attempts == 1
    assert refused.email_error == "SMTPRecipientsRefused" and refused.email_claim is None


async def test_an_error_mid_batch_keeps_what_was_sent_and_frees_the_rest(taipei, inbox, clock, monkeypatch):
    await _students(taipei, 2)
    real_mark_sent, calls = early_warnings_email._mark_sent, []

    async def failing_second(row_id: int, token: str) -> None:
        calls.append(row_id)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        await real_mark_sent(row_id, token)

    monkeypatch.setattr(early_warnings_email, "_mark_sent", failing_second)
    clock.set(NEAR_UPLOAD_DEADLINE)
    with pytest.raises(RuntimeError):
        await run(taipei, KIND)
    first, second, third = await warnings_of(taipei)
    assert first.email_state == EmailState.SENT  # recorded as soon as the server took it
    assert second.email_state == third.email_state == EmailState.PENDING
    assert (second.email_claim, third.email_claim, third.email_attempts) == (None, None, 0)  # free now, not in 15 minutes
    assert len(inbox.messages) == 2

    monkeypatch.setattr(early_warnings_email, "_mark_sent", real_mark_sent)
    assert (await run(taipei, KIND)).delivery.sent == 2  # the one not recorded goes again (same Message-ID), and the third
    assert {w.email_state for w in await warnings_of(taipei)} == {EmailState.SENT}
    assert len({m.message["Message-ID"] for m in inbox.messages}) == 3


class SlowInbox(Inbox):
    """Each message takes 6 minutes of the test clock; at the third, another run starts on the main loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, other_run: Any) -> None:
        super().__init__()
        self.loop, self.other_run, self.fired = loop, other_run, False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        portfolio_clock.set_now(portfolio_clock.now() + timedelta(minutes=6))
        if len(self.messages) == 3 and not self.fired:
            self.fired = True  # 18 minutes after the first claim: the batch outlived a 15-minute lease
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.other_run(), self.loop))
        return answer


async def test_a_batch_outliving_its_lease_never_sends_a_warning_twice(taipei, clock, smtp_cert):
    addresses = [taipei.emails["student"], *await _students(taipei, 3)]
    other: list[Any] = []

    async def other_run() -> None:
        other.append(await run_kind(KIND, taipei.school_id, await taipei.config()))

    server = SmtpServer(SlowInbox(asyncio.get_running_loop(), other_run), free_port(), smtp_cert)
    server.start()
    try:
        await taipei.configure({"smtp_port": server.port})
        clock.set(NEAR_UPLOAD_DEADLINE)
        first = await run(taipei, KIND)
    finally:
        server.stop()
    [second] = other
    assert first.delivery.sent + second.delivery.sent == 4
    received = sorted(r for m in server.inbox.messages for r in m.rcpt_tos)
    assert received == sorted(addresses)  # each once
    assert {w.email_state for w in await warnings_of(taipei)} == {EmailState.SENT}
