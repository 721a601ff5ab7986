"""GraphQL for restoring a lost file with the same bytes (檔案補回; see ``licheng.portfolio.restore``)."""

from __future__ import annotations

from enum import Enum

import strawberry

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.permissions import InSchool
from licheng.graphql.relay import from_global_id, to_global_id
from licheng.portfolio import restore

_ITEM_TYPES = {"CourseOutcome": "outcome", "DiversePerformance": "performance"}


@strawberry.enum(description="The file of an item to restore.")
class RestorableFile(Enum):
    DOCUMENT = "document"
    MEDIA = "media"


@strawberry.input
class RestoreItemFileInput:
    item_id: strawberry.ID = strawberry.field(description="A CourseOutcome or DiversePerformance of the student.")
    file: RestorableFile
    upload_id: strawberry.ID = strawberry.field(description="The uploadId POST /uploads answered for the re-uploaded copy.")


@strawberry.type
class RestoredItemFile:
    item_id: strawberry.ID
    file: RestorableFile
    file_id: strawberry.ID = strawberry.field(description="The PortfolioFile the item now holds.")


@strawberry.type
class RestoreMutation:
    @strawberry.mutation(
        permission_classes=[InSchool],
        description="學生: 補回遺失的檔案 — re-upload the same bytes (same SHA-256); status, certification and version stay.",
    )
    async def restore_item_file(self, info: Info, input: RestoreItemFileInput) -> RestoredItemFile:
        type_name, pk = from_global_id(input.item_id)
        item_type = _ITEM_TYPES.get(type_name)
        if item_type is None:
            raise InvalidInput("itemId", "項目 ID 無效", "itemId must name a course outcome or a diverse performance")
        row = await restore.restore_item_file(info.context.actor, item_type, pk, input.file.value, str(input.upload_id))
        file_id = getattr(row, f"{input.file.value}_id")
        return RestoredItemFile(item_id=input.item_id, file=input.file, file_id=to_global_id("PortfolioFile", file_id))
