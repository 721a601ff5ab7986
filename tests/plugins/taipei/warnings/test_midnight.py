"""Deadlines end at local midnight (Asia/Taipei): 00:30 in Taipei is still the previous day in UTC.

Term-1 uploads close on 2027-02-03, i.e. at 2027-02-04 00:00 Taipei = 2027-02-03 16:00 UTC; with
7 days' notice the warning starts at 2027-01-28 00:00 Taipei = 2027-01-27 16:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from taipei_coolcloud.models.early_warnings import EmailState, WarningKind
from tests.plugins.taipei.warnings.conftest import free_port
from tests.plugins.taipei.warnings.helpers import run, warnings_of
from tests.portfolio.conftest import TAIPEI

KIND = WarningKind.OUTCOMES_NOT_SENT


def taipei_time(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=TAIPEI)


async def test_the_warning_starts_at_local_midnight_not_at_utc_midnight(taipei, inbox, clock):
    before = taipei_time(1, 27, 23, 30)
    clock.set(before)
    assert (await run(taipei, KIND)).found == 0  # 7 days and 30 minutes before the close: too early
    start = taipei_time(1, 28, 0, 30)
    assert start.astimezone(UTC).date().isoformat() == "2027-01-27"  # still the day before in UTC
    clock.set(start)
    report = await run(taipei, KIND)
    assert (report.found, report.delivery.sent) == (1, 1)
    [warning] = await warnings_of(taipei)
    assert warning.period == "115-1@2027-02-03" and warning.deadline_at == taipei_time(2, 4, 0, 0)


async def test_half_an_hour_before_local_midnight_it_goes_and_half_an_hour_after_it_is_expired(taipei, inbox, clock, smtp_server):
    await taipei.configure({"smtp_port": free_port()})  # the server is down on the last evening
    clock.set(taipei_time(2, 3, 23, 30))
    assert (await run(taipei, KIND)).delivery.failed == 1
    await taipei.configure({"smtp_port": smtp_server.port})
    after = taipei_time(2, 4, 0, 30)
    assert after.astimezone(UTC).date().isoformat() == "2027-02-03"  # the UTC date is still the last day
    clock.set(after)
    report = await run(taipei, KIND)
    assert report.found == 0 and report.delivery.sent == 0 and not inbox.messages  # uploads closed: no new warning, no late mail
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.EXPIRED


async def test_the_last_evening_still_sends(taipei, inbox, clock):
    clock.set(taipei_time(2, 3, 23, 30))
    report = await run(taipei, KIND)
    assert (report.found, report.delivery.sent) == (1, 1) and len(inbox.messages) == 1
