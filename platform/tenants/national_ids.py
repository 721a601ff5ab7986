"""National IDs in the clear, for one purpose: the rosters sent to the central database.

Every roster row carries the student's national ID (DOMAIN.md, "Central
database"), so the submission adapter needs them unmasked. Only registry staff
of the school (or a job acting for it) may read them; each read is audited per
student (PDPA: who read whose data); the values are returned, never logged,
never put in an error or an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.exceptions import InvalidTag

from licheng.errors import LichengError, NotFound
from licheng.settings import Settings
from licheng.tenants import nationalid
from licheng.tenants.actor import Actor
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Person, Role

_BATCH = 500  # SQLite's bound-variable limit is far above this, PostgreSQL has none that matters


def _data_key(settings: Settings | None) -> bytes:
    """The given settings' key, else the one the running process was configured with."""
    if settings is not None:
        return settings.data_key_bytes
    from licheng.plugins.manager import get_manager

    return get_manager().data_key


async def national_ids_for_submission(
    actor: Actor, person_ids: Iterable[int], *, settings: Settings | None = None, batch_id: int | None = None
) -> dict[int, str]:
    """{person id: clear national ID} for the school's own people; people without one are left out.

    Raises ``NotFound`` if any id is not a person of the actor's school (existence
    in another school is not revealed) and ``Forbidden`` for anyone but staff.
    """
    school_id = actor.require_role(Role.STAFF)
    wanted = sorted({int(pid) for pid in person_ids})
    key = _data_key(settings)
    found: dict[int, bytes | None] = {}
    for start in range(0, len(wanted), _BATCH):
        rows = await Person.filter(school_id=school_id, id__in=wanted[start : start + _BATCH]).values_list(
            "id", "national_id_encrypted"
        )
        found.update((int(pid), blob) for pid, blob in rows)
    if len(found) != len(wanted):
        raise NotFound("person", "人員")
    out: dict[int, str] = {}
    try:
        for pid, blob in found.items():
            if blob:
                out[pid] = nationalid.decrypt(bytes(blob), key)
    except InvalidTag:
        raise LichengError(
            "NATIONAL_ID_UNREADABLE", "無法解密身分證字號（資料金鑰不符）",
            "National IDs cannot be decrypted (the data key does not match)",
        ) from None  # fmt: skip
    entries = [
        AuditEntry(school_id=school_id, account_id=actor.account_id, acting_role=actor.acting_role,
                   action="read_national_id_for_submission", record_type="person", record_id=str(pid),
                   student_id=pid, changes={"batch_id": batch_id} if batch_id is not None else None)  # fmt: skip
        for pid in out
    ]
    if entries:
        await AuditEntry.bulk_create(entries, batch_size=_BATCH)
    return out
