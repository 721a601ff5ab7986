"""The OAuth scopes of the portfolio's root fields, added to ``licheng.graphql.scopes.FIELD_SCOPES``.

Reads need ``portfolio:read``; a student's changes ``portfolio:write``; a
teacher's certification ``certify``; the school's registry work (records,
batches, policy, substitutes, late additions) ``school:admin``. Services still
check the person's roles: a scope only narrows.
"""

from __future__ import annotations

from licheng.graphql.scopes import FIELD_SCOPES

READ, WRITE, CERTIFY, ADMIN = "portfolio:read", "portfolio:write", "certify", "school:admin"

PORTFOLIO_SCOPES: dict[str, str | None] = {
    "Query.myPortfolio": READ,
    "Query.portfolio": READ,
    "Query.myChildrenPortfolios": READ,
    "Query.classOverview": READ,
    "Query.portfolioProgress": READ,
    "Query.portfolioPolicy": READ,
    "Query.performanceKinds": READ,
    "Query.certificationQueue": READ,
    "Query.counselingRecords": READ,
    "Query.myReceipts": READ,
    "Query.receiptLines": READ,
    "Query.substitutes": "school:read",
    "Query.submissionBatches": ADMIN,
    "Query.schoolPolicyOverrides": ADMIN,
    "Mutation.createCourseOutcome": WRITE,
    "Mutation.reviseCourseOutcome": WRITE,
    "Mutation.restoreItemFile": WRITE,
    "Mutation.deleteCourseOutcome": WRITE,
    "Mutation.sendOutcomeForCertification": WRITE,
    "Mutation.createPerformance": WRITE,
    "Mutation.updatePerformance": WRITE,
    "Mutation.deletePerformance": WRITE,
    "Mutation.selectPortfolioItems": WRITE,
    "Mutation.unselectPortfolioItems": WRITE,
    "Mutation.confirmReceipt": WRITE,
    "Mutation.disputeReceipt": WRITE,
    "Mutation.writeCounselingRecord": WRITE,
    "Mutation.updateCounselingRecord": WRITE,
    "Mutation.deleteCounselingRecord": WRITE,
    "Mutation.openOutcomeFile": CERTIFY,
    "Mutation.certifyCourseOutcome": CERTIFY,
    "Mutation.publishCertifications": CERTIFY,
    "Mutation.assignSubstitute": ADMIN,
    "Mutation.removeSubstitute": ADMIN,
    "Mutation.saveCourseRecord": ADMIN,
    "Mutation.saveCadreRecord": ADMIN,
    "Mutation.saveEnrolmentRecord": ADMIN,
    "Mutation.deleteSchoolRecord": ADMIN,
    "Mutation.correctSchoolRecord": ADMIN,
    "Mutation.importPortfolioRecords": ADMIN,
    "Mutation.addLatePerformance": ADMIN,
    "Mutation.createSubmissionBatch": ADMIN,
    "Mutation.submitBatch": ADMIN,
    "Mutation.recordReceipts": ADMIN,
    "Mutation.collectReceipts": ADMIN,
    "Mutation.resubmitBatch": ADMIN,
    "Mutation.setSchoolPolicy": ADMIN,
}

for _field, _scope in PORTFOLIO_SCOPES.items():
    FIELD_SCOPES.setdefault(_field, _scope)
