"""GraphQL for early warnings (預警): my warnings, the school's warnings, read marks, e-mail opt-out.

Thin: each resolver checks that Taipei CoolCloud is enabled in the viewer's
school (``NOT_FOUND`` elsewhere), then calls ``early_warnings_service``, which
checks role and school.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from licheng.graphql.context import Info
from licheng.graphql.permissions import InSchool
from licheng.graphql.relay import Connection, Node, connection, node_resolver, pk_of, to_global_id
from taipei_coolcloud import early_warnings_service as service
from taipei_coolcloud.models import early_warnings as models


WarningKindEnum = strawberry.enum(models.WarningKind, name="EarlyWarningKind", description="What a warning is about (預警類別).")
EmailStateEnum = strawberry.enum(models.EmailState, name="EarlyWarningEmailState")


@strawberry.type(description="An early warning (預警) shown in the app and sent by e-mail once, unless opted out.")
class EarlyWarning(Node):
    kind: WarningKindEnum  # type: ignore[valid-type]
    period: str = strawberry.field(description="What it is about: year-term (or year-selection) @ the deadline date.")
    recipient_id: strawberry.ID
    recipient_name: str
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str
    deadline_at: datetime | None
    created_at: datetime
    read_at: datetime | None
    emailed_at: datetime | None = strawberry.field(description="Empty until the SMTP server accepted the e-mail.")
    email_state: EmailStateEnum  # type: ignore[valid-type]

    @staticmethod
    def of(row: models.EarlyWarning) -> EarlyWarning:
        return EarlyWarning(
            id=to_global_id("EarlyWarning", row.id), kind=row.kind, period=row.period,
            recipient_id=to_global_id("Person", row.recipient_id), recipient_name=row.recipient.name,
            subject_zh=row.subject_zh, body_zh=row.body_zh, subject_en=row.subject_en, body_en=row.body_en,
            deadline_at=row.deadline_at, created_at=row.created_at, read_at=row.read_at, emailed_at=row.emailed_at,
            email_state=row.email_state,
        )  # fmt: skip


@strawberry.type(description="Which warning e-mails a person has turned off (the warnings still show in the app).")
class WarningEmailPreference:
    all_kinds: bool
    kinds: list[WarningKindEnum]  # type: ignore[valid-type]

    @staticmethod
    def of(value: service.EmailPreference) -> WarningEmailPreference:
        return WarningEmailPreference(all_kinds=value.all_kinds, kinds=list(value.kinds))


@node_resolver("EarlyWarning")
async def _warning_node(info: Info, pk: int) -> EarlyWarning:
    return EarlyWarning.of(await service.get_warning(info.context.actor, pk))


@strawberry.type
class EarlyWarningQuery:
    licheng_scopes = {
        "Query.myWarnings": "portfolio:read",
        "Query.schoolWarnings": "school:read",
        "Query.myWarningEmailPreference": "portfolio:read",
    }

    @strawberry.field(permission_classes=[InSchool], description="My early warnings (預警), oldest first.")
    async def my_warnings(
        self, info: Info, unread_only: bool = False, first: int | None = None, after: str | None = None
    ) -> Connection[EarlyWarning]:
        page = await service.my_warnings(info.context.actor, unread_only=unread_only, first=first, after=after)
        return connection(page, EarlyWarning.of)

    @strawberry.field(permission_classes=[InSchool], description="Staff: every warning of the school, of one kind or all.")
    async def school_warnings(
        self, info: Info, kind: WarningKindEnum | None = None, first: int | None = None, after: str | None = None  # type: ignore[valid-type]
    ) -> Connection[EarlyWarning]:
        page = await service.school_warnings(info.context.actor, kind=kind, first=first, after=after)
        return connection(page, EarlyWarning.of)

    @strawberry.field(permission_classes=[InSchool], description="Which warning e-mails I have turned off.")
    async def my_warning_email_preference(self, info: Info) -> WarningEmailPreference:
        return WarningEmailPreference.of(await service.email_preference(info.context.actor))


@strawberry.type
class EarlyWarningMutation:
    licheng_scopes = {
        "Mutation.markWarningRead": "portfolio:write",
        "Mutation.setWarningEmailOptOut": "first-party",
    }

    @strawberry.mutation(permission_classes=[InSchool], description="Mark one of my warnings read.")
    async def mark_warning_read(self, info: Info, id: strawberry.ID) -> EarlyWarning:
        return EarlyWarning.of(await service.mark_read(info.context.actor, pk_of(id, "EarlyWarning")))

    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Turn warning e-mail off (or back on): of one kind, or of every kind when no kind is given.",
    )
    async def set_warning_email_opt_out(self, info: Info, opt_out: bool, kind: WarningKindEnum | None = None) -> WarningEmailPreference:  # type: ignore[valid-type]
        return WarningEmailPreference.of(await service.set_email_opt_out(info.context.actor, opt_out, kind))


QUERY_TYPES = [EarlyWarningQuery]
MUTATION_TYPES = [EarlyWarningMutation]
