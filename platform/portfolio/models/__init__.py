"""The portfolio's tables (app label ``portfolio``), split by area; every row carries ``school_id``."""

from licheng.portfolio.models.flow import (
    BatchScope,
    BatchStatus,
    LateAddition,
    Receipt,
    ReceiptComparison,
    ReceiptStatus,
    SchoolPolicyOverride,
    SubmissionBatch,
    SubmissionItem,
)
from licheng.portfolio.models.items import (
    CourseOutcome,
    Decision,
    DiversePerformance,
    FileCategory,
    FileState,
    ItemVersion,
    OutcomeStatus,
    PerformanceKind,
    PortfolioFile,
    StudentCounter,
)
from licheng.portfolio.models.records import (
    CadreLevel,
    CadreRecord,
    CounselingRecord,
    CourseRecord,
    EnrolmentRecord,
    EnrolmentStatus,
    SubstituteAssignment,
)

__all__ = [
    "BatchScope", "BatchStatus", "CadreLevel", "CadreRecord", "CounselingRecord", "CourseOutcome", "CourseRecord",
    "Decision", "DiversePerformance", "EnrolmentRecord", "EnrolmentStatus", "FileCategory", "FileState", "ItemVersion",
    "LateAddition", "OutcomeStatus", "PerformanceKind", "PortfolioFile", "Receipt", "ReceiptComparison", "ReceiptStatus",
    "SchoolPolicyOverride", "StudentCounter", "SubmissionBatch", "SubmissionItem", "SubstituteAssignment",
]  # fmt: skip
