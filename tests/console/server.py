"""A real Licheng server for the browser tests: its own SQLite, seeded, served by uvicorn on 127.0.0.1.

Run as a subprocess (Tortoise keeps per-process state, and the test process
already holds the session database):

    python tests/console/server.py --port 8123 --data /tmp/x

Seeds a Taipei bureau with three schools, accounts for a platform admin, a
bureau admin and a school's staff (password ``PASSWORD``), Taipei CoolCloud
made available by the platform, the test plugins registered directly, and in
school A three students who already sent 10 outcomes this term (so that
lowering the cap to 9 shows them in the preview).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PASSWORD = "Console2026ok"
SCHOOLS = [("163301", "臺北市立甲高中"), ("163302", "臺北市立乙高中"), ("163303", "臺北市立丙高中")]


async def seed(settings: object) -> None:
    from licheng import db
    from licheng.auth import passwords
    from licheng.auth.models import Account
    from licheng.plugins.manager import get_manager
    from licheng.plugins.models import InstalledPlugin
    from licheng.plugins.preview import current_term
    from licheng.plugins.service import sync_catalogue
    from licheng.tenants.models import Bureau, BureauAdmin, Membership, Person, Role, School

    hashed = passwords.hash_password(PASSWORD)
    bureau = await Bureau.create(code="tpe", name="臺北市政府教育局")
    schools = [await School.create(bureau=bureau, code=code, name=name) for code, name in SCHOOLS]
    await Account.create(login="platform", display_name="平臺管理者", password_hash=hashed, is_platform_admin=True)
    admin = await Account.create(login="tpe-admin", display_name="王科長", password_hash=hashed)
    await BureauAdmin.create(bureau=bureau, account=admin)
    staff = await Account.create(login="staff-a", display_name="林組長", password_hash=hashed)
    person = await Person.create(school=schools[0], account=staff, name="林組長")
    await Membership.create(school=schools[0], person=person, role=Role.STAFF)

    manager = get_manager()
    await sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id__in=["taipei_coolcloud", "moe_central", "test_rules"]).update(available=True)

    if "licheng.portfolio.models" in db.MODEL_APPS.get("portfolio", []):
        from licheng.portfolio.models import CourseOutcome, CourseRecord

        year, term = current_term()
        sent = datetime.now(timezone.utc)
        for n in range(3):
            student = await Person.create(school=schools[0], name=f"學生{n}", student_number=f"S{n:04d}")
            await Membership.create(school=schools[0], person=student, role=Role.STUDENT)
            for subject in ("國文", "英文", "數學", "歷史", "地理"):
                record = await CourseRecord.create(
                    school=schools[0], student=student, academic_year=year, term=term, course_code="1" * 23,
                    subject_name=subject, grade=10, credits=2,
                )  # fmt: skip
                for k in range(2):
                    await CourseOutcome.create(
                        school=schools[0], student=student, course_record=record, academic_year=year, term=term,
                        brief=f"{subject}作品{k}", first_sent_at=sent,
                    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()

    import uvicorn

    from licheng import db
    from licheng.app import create_app
    from licheng.settings import Settings
    from tests.fixtures_plugins import broken, rules

    settings = Settings(
        data_dir=args.data, database_url=f"sqlite://{args.data / 'console.sqlite3'}",
        storage_url=f"file://{args.data / 'blobs'}", secret_key="console-test-secret-0123456789abcdef",
    )  # fmt: skip
    app = create_app(settings)
    from licheng.plugins.manager import get_manager

    get_manager().register(rules.make())
    get_manager().register(broken.make())

    async def prepare() -> None:
        await db.migrate(settings)
        await db.init_db(settings)
        try:
            await seed(settings)
        finally:
            await db.close_db()

    asyncio.run(prepare())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
