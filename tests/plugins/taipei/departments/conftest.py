"""A Taipei bureau with the plugin enabled for its schools, a class, a student, his parent, his homeroom teacher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from licheng.plugins import service
from licheng.plugins.manager import PluginManager
from licheng.tenants.models import Guardianship, Role, School, SchoolClass

PLUGIN = "taipei_coolcloud"


@dataclass
class Taipei:
    district: Any  # tests.plugins.conftest.District
    school: School
    school_class: SchoolClass
    student: Any
    parent: Any
    homeroom: Any

    @property
    def bureau(self) -> Any:
        return self.district.bureau

    @property
    def admin(self) -> Any:
        return self.district.admin


async def enable_taipei(manager: PluginManager, district: Any) -> None:
    await service.set_enabled(await district.admin_actor(), manager, district.bureau.id, PLUGIN, enabled=True, all_schools=True)


@pytest.fixture
async def taipei(factory: Any, manager: PluginManager, district: Any) -> Taipei:
    await enable_taipei(manager, district)
    school = district.schools[0]
    school_class = await factory.school_class(school)
    student = await factory.member(school, Role.STUDENT, school_class=school_class, name="王小明")
    parent = await factory.member(school, Role.PARENT, name="王家長")
    await Guardianship.create(school=school, parent=parent.person, student=student.person)
    homeroom = await factory.member(school, Role.TEACHER, Role.HOMEROOM, homeroom_of=school_class, name="林導師")
    return Taipei(district, school, school_class, student, parent, homeroom)
