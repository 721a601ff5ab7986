"""GraphQL for files: storage usage against the quota, uploads as nodes, download links.

Bytes arrive over `POST /uploads` (streamed; see docs/storage.md), which answers
with an `Upload` ID; portfolio mutations attach it. Here: `storageUsage`, the
`Upload` node (metadata and a short-lived `downloadUrl`), `discardUpload`.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.permissions import InSchool
from licheng.graphql.relay import Node, node_resolver, pk_of, to_global_id
from licheng.http.limits import limits_provider
from licheng.storage import models, service
from licheng.storage.blobstore import BlobStore, make_blob_store
from licheng.storage.limits import LimitsProvider
from licheng.storage.tickets import TICKET_SECONDS, issue_ticket

UploadState = strawberry.enum(models.BlobState, name="UploadState")
UploadCategory = strawberry.enum(models.BlobCategory, name="UploadCategory")


def _app_state(info: Info, name: str) -> object | None:
    request = info.context.request
    return getattr(request.app.state, name, None) if request is not None else None


def _limits(info: Info) -> LimitsProvider:
    provider = _app_state(info, "upload_limits_provider")
    return provider if callable(provider) else limits_provider()  # type: ignore[return-value]


def _store(info: Info) -> BlobStore:
    store = _app_state(info, "blob_store")
    return store if store is not None else make_blob_store(info.context.settings.resolved_storage_url)  # type: ignore[return-value]


@strawberry.type(description="A student's storage use against the quota of the school's policy.")
class StorageUsage:
    used_bytes: int
    limit_bytes: int
    warning: bool = strawberry.field(description="True at 80 % of the quota or more.")
    display: str = strawberry.field(description='As the cabinet shows it: "5.08 MB / 150 MB".')


@strawberry.type(description="A stored file: what `POST /uploads` answered, and what items attach.")
class Upload(Node):
    pk: strawberry.Private[int]
    size: int
    sha256: str = strawberry.field(description="SHA-256 of the bytes, hex; downloads are checked against it.")
    kind: str = strawberry.field(description="pdf, jpeg, png, mp3 or mp4: judged by content.")
    mime: str
    category: UploadCategory  # type: ignore[valid-type]
    display_filename: str
    flags: list[str] = strawberry.field(description='E.g. "pdf_javascript" when the policy flags active content.')
    state: UploadState  # type: ignore[valid-type]
    created_at: datetime
    attached_at: datetime | None

    @staticmethod
    def of(row: models.StoredBlob) -> Upload:
        return Upload(
            id=to_global_id(service.UPLOAD_TYPE, row.id), pk=row.id, size=int(row.size), sha256=row.sha256,
            kind=row.kind, mime=row.mime, category=row.category, display_filename=row.display_filename,
            flags=list(row.flags or []), state=row.state, created_at=row.created_at, attached_at=row.attached_at,
        )  # fmt: skip

    @strawberry.field(
        description=f"A link to the file for the viewer, valid {TICKET_SECONDS // 60} minutes, usable "
        "without a token header; opening it is recorded in the audit trail unless the file is yours."
    )
    def download_url(self, info: Info) -> str:
        actor = info.context.actor
        settings = info.context.settings
        ticket = issue_ticket(
            settings, account_id=actor.account_id or 0, school_id=actor.school_id or 0, blob_id=self.pk
        )
        return f"{settings.base_url.rstrip('/')}/files/{self.pk}?ticket={ticket}"


@node_resolver("Upload")
async def _upload_node(info: Info, pk: int) -> Upload:
    return Upload.of(await service.get_upload(info.context.actor, pk))


@strawberry.type
class StorageQuery:
    @strawberry.field(
        permission_classes=[InSchool],
        description="Storage used by a student (default: yourself) against the quota.",
    )
    async def storage_usage(self, info: Info, student_id: strawberry.ID | None = None) -> StorageUsage:
        actor = info.context.actor
        school_id = actor.require_school()
        pk = pk_of(student_id, "Person") if student_id else actor.person_id
        if pk is None:
            raise InvalidInput("studentId", "請指定學生", "Name the student")
        usage = await service.blob_usage(actor, pk, await _limits(info)(school_id, pk))
        return StorageUsage(
            used_bytes=usage.used_bytes, limit_bytes=usage.limit_bytes, warning=usage.warning, display=usage.display
        )


    @strawberry.field(
        permission_classes=[InSchool],
        description="Your uploads not yet attached to an item (newest first); they are cleared after a day.",
    )
    async def pending_uploads(self, info: Info) -> list[Upload]:
        return [Upload.of(row) for row in await service.pending_uploads(info.context.actor)]


@strawberry.type
class StorageMutation:
    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Drop an upload you have not attached to an item; its space comes back.",
    )
    async def discard_upload(self, info: Info, id: strawberry.ID) -> StorageUsage | None:
        actor = info.context.actor
        school_id = actor.require_school()
        row = await service.discard_upload(actor, _store(info), pk_of(id, service.UPLOAD_TYPE))
        if row.owner_person_id is None or not row.charged:
            return None
        usage = await service.blob_usage(actor, row.owner_person_id, await _limits(info)(school_id, row.owner_person_id))
        return StorageUsage(
            used_bytes=usage.used_bytes, limit_bytes=usage.limit_bytes, warning=usage.warning, display=usage.display
        )
