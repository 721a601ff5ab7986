"""E-mail of warnings through a real SMTP server: once each, opt-out honoured, nothing lost when it fails."""

from __future__ import annotations

import asyncio
import logging
import pytest

from licheng.errors import LichengError
from taipei_coolcloud import early_warnings_service
from taipei_coolcloud.early_warnings import scheduled_jobs
from taipei_coolcloud.models.early_warnings import EmailState, WarningKind
from tests.plugins.taipei.warnings.conftest import (
    NEAR_UPLOAD_DEADLINE,
    SMTP_PASSWORD,
    Inbox,
    SmtpServer,
    _authenticate,
    free_port,
    self_signed,
    server_tls,
)
from tests.plugins.taipei.warnings.helpers import run, warnings_of
from tests.portfolio.conftest import at

OPT_OUT = "mutation($o: Boolean!, $k: EarlyWarningKind) { setWarningEmailOptOut(optOut: $o, kind: $k) { allKinds kinds } }"
MY_WARNINGS = "{ myWarnings { edges { node { kind emailState emailedAt subjectZh } } } }"


async def _students_with_records(taipei, count: int) -> None:  # noqa: ANN001
    for n in range(count):
        student = await taipei.scene.add_student(f"並行{n}")
        await taipei.scene.course_record(student, f"6{n}")


async def _job(school, kind: WarningKind):  # noqa: ANN202
    [job] = [j for j in scheduled_jobs(await school.config()) if j.name == f"warnings_{kind.value}"]
    return job


async def test_opting_out_stops_email_but_the_warning_still_shows_in_the_app(taipei, inbox, clock, gql):
    await gql.sign_in_as(taipei.scene.student)
    assert (await gql.ok(OPT_OUT, {"o": True}))["setWarningEmailOptOut"] == {"allKinds": True, "kinds": []}
    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert report.created == 1 and report.delivery.sent == 0 and not inbox.messages
    [node] = [e["node"] for e in (await gql.ok(MY_WARNINGS))["myWarnings"]["edges"]]
    assert node["kind"] == "OUTCOMES_NOT_SENT" and node["emailState"] == "OPTED_OUT" and node["emailedAt"] is None

    # Opting back in does not resend the warning already settled, and the next run sends nothing.
    await gql.ok(OPT_OUT, {"o": False})
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery.sent == 0 and not inbox.messages


async def test_opting_out_of_one_kind_keeps_the_others(taipei, inbox, clock):
    scene = taipei.scene
    await early_warnings_service.set_email_opt_out(await scene.student.actor(), True, WarningKind.NOT_SELECTED)
    await early_warnings_service.set_email_opt_out(await scene.homeroom.actor(), True, WarningKind.CLASS_SUMMARY)
    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    await run(taipei, WarningKind.CLASS_SUMMARY)
    states = {w.kind: w.email_state for w in await warnings_of(taipei)}
    assert states == {WarningKind.OUTCOMES_NOT_SENT: EmailState.SENT, WarningKind.CLASS_SUMMARY: EmailState.OPTED_OUT}
    assert [m.rcpt_tos for m in inbox.messages] == [[taipei.emails["student"]]]


async def test_smtp_down_keeps_the_warning_and_a_later_run_sends_it(taipei, clock, smtp_cert):
    port = free_port()  # nothing listens here yet
    await taipei.configure({"smtp_port": port})
    clock.set(NEAR_UPLOAD_DEADLINE)
    job = await _job(taipei, WarningKind.OUTCOMES_NOT_SENT)
    with pytest.raises(LichengError) as refused:
        await job.run(taipei.school_id)  # the job fails visibly, so the queue retries it
    assert refused.value.code == "WARNING_EMAIL_FAILED" and refused.value.details["pending"] == 1
    [warning] = await warnings_of(taipei)
    assert warning.emailed_at is None and warning.email_state == EmailState.PENDING
    assert warning.email_attempts == 1 and warning.email_error == "ConnectionRefusedError"

    server = SmtpServer(Inbox(), port, smtp_cert)
    server.start()
    try:
        await job.run(taipei.school_id)
        await job.run(taipei.school_id)
    finally:
        server.stop()
    [mail] = server.inbox.messages
    assert mail.rcpt_tos == [taipei.emails["student"]] and "尚未提交任何一件" in mail.body
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.SENT and warning.emailed_at is not None and warning.email_error is None


async def test_a_wrong_smtp_password_keeps_the_warning_pending(taipei, inbox, clock):
    await taipei.configure({"smtp_password": "not-the-password"})
    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert report.delivery.failed == 1 and not inbox.messages
    [warning] = await warnings_of(taipei)
    assert warning.email_error == "SMTPAuthenticationError" and warning.email_state == EmailState.PENDING
    await taipei.configure({"smtp_password": SMTP_PASSWORD})
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery.sent == 1 and len(inbox.messages) == 1


async def test_a_warning_whose_deadline_passed_while_smtp_was_down_is_not_sent_late(taipei, inbox, clock, smtp_server):
    await taipei.configure({"smtp_port": free_port()})
    clock.set(NEAR_UPLOAD_DEADLINE)
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery.failed == 1
    await taipei.configure({"smtp_port": smtp_server.port})  # the server is back...
    clock.set(at(2027, 2, 4, 1))  # ...after uploads closed (local midnight)
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery.sent == 0 and not inbox.messages
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.EXPIRED and warning.emailed_at is None


async def test_no_email_when_the_bureau_has_not_switched_it_on(taipei, inbox, clock):
    await taipei.configure({"smtp_enabled": False})
    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.DISABLED and not inbox.messages


async def test_two_runs_at_once_send_one_email(taipei, inbox, clock):
    """Three runs interleaved at every await on one loop: each reads "nothing stored, nothing claimed" before
    any of them writes, so the unique key and the conditional claim UPDATE are what keep it to one row and one
    e-mail. On SQLite (one connection) the statements themselves run one after another; on PostgreSQL the
    pool gives each run its own connection, so the INSERTs and claim UPDATEs really race."""
    clock.set(NEAR_UPLOAD_DEADLINE)
    config = await taipei.config()
    from taipei_coolcloud.early_warnings import run_kind

    reports = await asyncio.gather(*(run_kind(WarningKind.OUTCOMES_NOT_SENT, taipei.school_id, config) for _ in range(3)))
    assert len(await warnings_of(taipei)) == 1 and len(inbox.messages) == 1
    assert sum(r.created for r in reports) == 1  # the rows ignore_conflicts dropped are not counted as created
    assert sum(r.delivery.sent for r in reports) == 1


async def test_two_claims_on_the_same_rows_never_share_one(taipei, clock):
    from taipei_coolcloud import early_warnings_email

    await _students_with_records(taipei, 3)
    clock.set(NEAR_UPLOAD_DEADLINE)
    from taipei_coolcloud.early_warnings import store
    from taipei_coolcloud.early_warnings_detect import outcomes_not_sent

    await store(taipei.school_id, await outcomes_not_sent(taipei.school_id, 7, NEAR_UPLOAD_DEADLINE))
    ids = [w.id for w in await warnings_of(taipei)]
    first, second = await asyncio.gather(
        early_warnings_email._claim(ids, NEAR_UPLOAD_DEADLINE, "a" * 32), early_warnings_email._claim(ids, NEAR_UPLOAD_DEADLINE, "b" * 32)
    )  # fmt: skip
    assert first.isdisjoint(second) and first | second == set(ids) and len(ids) == 4


async def test_logs_carry_no_personal_data_and_no_secret(taipei, inbox, clock, caplog):
    clock.set(NEAR_UPLOAD_DEADLINE)
    with caplog.at_level(logging.DEBUG):
        await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
        await run(taipei, WarningKind.CLASS_SUMMARY)
    assert len(inbox.messages) == 2
    ours = [r for r in caplog.records if r.name.startswith(("taipei_coolcloud", "licheng"))]  # not the ORM's SQL debug
    assert any(r.name == "taipei_coolcloud.warnings" for r in ours)
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in ours)
    for secret in ("王小明", taipei.emails["student"], taipei.emails["homeroom"], SMTP_PASSWORD, "尚未提交"):
        assert secret not in text


async def test_a_certificate_the_system_does_not_trust_is_refused(taipei, inbox, clock, tmp_path, monkeypatch):
    other_ca, _ = self_signed(tmp_path)  # the system now trusts another CA only
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert report.delivery.failed == 1 and not inbox.messages
    assert (await warnings_of(taipei))[0].email_error == "SSLCertVerificationError"


async def test_a_login_without_tls_is_refused_by_the_settings(taipei):
    with pytest.raises(LichengError) as refused:
        await taipei.configure({"smtp_tls": "none"})
    assert refused.value.code == "INVALID_INPUT" and refused.value.details["field"] == "smtp_username"
    assert SMTP_PASSWORD not in str(refused.value.details)
    await taipei.configure({"smtp_tls": "none", "smtp_username": "", "smtp_password": None})  # no login: allowed
    assert (await taipei.config()).smtp_tls == "none"


async def test_without_tls_a_server_requiring_starttls_gets_nothing(taipei, inbox, clock):
    await taipei.configure({"smtp_tls": "none", "smtp_username": "", "smtp_password": None})
    clock.set(NEAR_UPLOAD_DEADLINE)
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery.failed == 1 and not inbox.messages


async def test_implicit_tls_then_login(taipei, clock, smtp_cert):
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls(*smtp_cert),
                            authenticator=_authenticate, auth_required=True,
                            auth_require_tls=False)  # fmt: skip - aiosmtpd does not count SMTPS as TLS for AUTH
    controller.start()
    try:
        await taipei.configure({"smtp_port": port, "smtp_tls": "implicit"})
        clock.set(NEAR_UPLOAD_DEADLINE)
        report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
        assert report.delivery.sent == 1, (await warnings_of(taipei))[0].email_error
    finally:
        controller.stop()
    [mail] = inbox.messages
    assert mail.rcpt_tos == [taipei.emails["student"]]


async def test_the_email_notifier_uses_the_bureaus_smtp_server(taipei, inbox):
    from licheng.plugins import Notification
    from taipei_coolcloud.early_warnings import notifiers

    [notifier] = notifiers(await taipei.config())
    assert notifier.channel == "email"
    await notifier.send(Notification("receipt_ready", taipei.scene.student.person.id, taipei.emails["student"],
                                     "收訖明細已可確認", "請於期限內確認。", "Receipt list ready", "Please confirm it."))  # fmt: skip
    [mail] = inbox.messages
    assert mail.rcpt_tos == [taipei.emails["student"]] and mail.message["Subject"] == "收訖明細已可確認 / Receipt list ready"
    assert mail.body.index("請於期限內確認") < mail.body.index("Please confirm it.")
    await taipei.configure({"smtp_enabled": False})
    assert notifiers(await taipei.config()) == []


async def test_a_from_address_that_is_no_address_is_refused(taipei):
    with pytest.raises(LichengError) as refused:
        await taipei.configure({"smtp_from": "not an address"})
    assert refused.value.code == "INVALID_INPUT" and refused.value.details["field"] == "smtp_from"
    assert (await taipei.config()).smtp_from == "portfolio@tp.example.edu.tw"


async def test_many_warnings_go_out_in_batches_within_one_run(taipei, inbox, clock, monkeypatch):
    from taipei_coolcloud import early_warnings_email

    monkeypatch.setattr(early_warnings_email, "BATCH", 2)
    scene = taipei.scene
    for n in range(4):
        student = await scene.add_student(f"批次{n}")
        await scene.course_record(student, f"4{n}")
        await taipei.give_email(student, f"batch{n}")
    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert report.created == 5 and report.delivery.sent == 5 and len(inbox.messages) == 5


async def test_an_email_refused_too_often_is_given_up(taipei, clock, monkeypatch):
    from taipei_coolcloud import early_warnings_email

    monkeypatch.setattr(early_warnings_email, "MAX_EMAIL_ATTEMPTS", 2)
    await taipei.configure({"smtp_port": free_port()})
    clock.set(NEAR_UPLOAD_DEADLINE)
    first, second, third = [(await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).delivery for _ in range(3)]
    assert (first.failed, second.failed, second.skipped, third.failed) == (1, 0, 1, 0)
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.FAILED and warning.email_attempts == 2 and warning.emailed_at is None
