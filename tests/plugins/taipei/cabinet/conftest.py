"""A Taipei school with the plugin on: a class, its student, his parent, his homeroom teacher, a counselor, a teacher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from licheng.plugins import service
from licheng.plugins.manager import PluginManager
from licheng.portfolio import clock
from licheng.tenants.models import Guardianship, Role, School, SchoolClass


@dataclass
class Cabinet:
    district: Any  # tests.plugins.conftest.District
    school: School
    school_class: SchoolClass
    student: Any
    parent: Any
    homeroom: Any
    counselor: Any
    teacher: Any


@pytest.fixture
async def cab(factory: Any, manager: PluginManager, district: Any) -> Cabinet:
    admin = await district.admin_actor()
    await service.set_enabled(admin, manager, district.bureau.id, "taipei_coolcloud", enabled=True, all_schools=True)
    school = district.schools[0]
    school_class = await factory.school_class(school)
    student = await factory.member(school, Role.STUDENT, school_class=school_class, name="陳同學")
    parent = await factory.member(school, Role.PARENT, name="陳家長")
    await Guardianship.create(school=school, parent=parent.person, student=student.person)
    homeroom = await factory.member(school, Role.TEACHER, Role.HOMEROOM, homeroom_of=school_class, name="黃導師")
    counselor = await factory.member(school, Role.COUNSELOR, name="張諮詢老師")
    teacher = await factory.member(school, Role.TEACHER, name="李老師")
    return Cabinet(district, school, school_class, student, parent, homeroom, counselor, teacher)


@pytest.fixture
def frozen_clock():
    """Lets a test move the portfolio clock; always released."""
    yield clock.set_now
    clock.set_now(None)
