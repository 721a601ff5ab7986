"""A directory entry's schools come only through the bureau's code table, as for the single sign-on."""

from __future__ import annotations

from taipei_coolcloud.ldap import identity_of


def _person(*schools: str) -> dict:
    return {"o": list(schools), "employeeType": ["學生"], "employeeNumber": ["112001"], "displayName": ["王小明"],
            "entryUUID": ["2ebb2f90"]}  # fmt: skip


def test_a_mapped_school_name_becomes_our_code():
    identity = identity_of("wang", _person("tpsh"), {"tpsh": "313302"})
    assert identity.school_codes == ("313302",) and identity.student_number == "112001"


def test_an_unmapped_value_names_no_school_even_with_six_digits():
    identity = identity_of("wang", _person("313302", "other"), {"tpsh": "313302"})
    assert identity.school_codes == () and identity.school_code is None
