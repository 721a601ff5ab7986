"""GraphQL operations the portfolio tests send, as a client would write them."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id

MY_PORTFOLIO = """
query($y: Int!) {
  myPortfolio(academicYear: $y) {
    academicYear
    student { name }
    terms { term outcomes sentForCertification awaitingResult passed failed outcomesCap perSubjectCap
            uploadWindow { closesOn isOpen } }
    courseRecords { id courseCode subjectName credits }
    outcomes { id brief status version resultReason decision selected frozen sentAt publishedAt
               courseRecord { courseCode subjectName } document { displayFilename kind size sha256 } media { kind } }
    performances { id kind title brief details externalUrl selected lateAddition document { kind } }
    cadreRecords { unit position level }
    caps { performances performancesCap selectedOutcomes selectedOutcomesCap selectedPerformances
           selectedPerformancesCap storageUsedBytes quotaBytes }
    windows { name nameZh opensOn closesOn isOpen }
    receipts { id status }
  }
}
"""

CREATE_OUTCOME = """
mutation($r: ID!, $b: String!, $d: ID, $m: ID) {
  createCourseOutcome(input: {courseRecordId: $r, brief: $b, documentUpload: $d, mediaUpload: $m}) { id status version }
}
"""
REVISE_OUTCOME = "mutation($id: ID!, $d: ID, $b: String) { reviseCourseOutcome(input: {id: $id, documentUpload: $d, brief: $b}) { id status version } }"
SEND = "mutation($id: ID!) { sendOutcomeForCertification(id: $id) { id status sentAt } }"
OPEN = "mutation($id: ID!) { openOutcomeFile(id: $id) { outcome { openedAt } files { sha256 } } }"
CERTIFY = "mutation($id: ID!, $p: Boolean!, $r: String) { certifyCourseOutcome(id: $id, passed: $p, reason: $r) { status decision } }"
PUBLISH = "mutation($ids: [ID!]) { publishCertifications(ids: $ids) { id status resultReason } }"
QUEUE = """
query($pending: Boolean!) {
  certificationQueue(academicYear: 115, pendingOnly: $pending) {
    edges { node { id brief status openedAt decision student { name studentNumber } courseRecord { subjectName courseCode }
                   document { displayFilename size } } }
  }
}
"""
CREATE_PERFORMANCE = """
mutation($kind: PerformanceKind!, $t: String!, $b: String!, $d: JSON, $u: String, $doc: ID) {
  createPerformance(input: {academicYear: 115, kind: $kind, title: $t, brief: $b, details: $d, externalUrl: $u, documentUpload: $doc}) {
    id kind selected
  }
}
"""
SELECT = """
mutation($o: [ID!], $p: [ID!]) {
  selectPortfolioItems(academicYear: 115, outcomeIds: $o, performanceIds: $p) { outcomeIds performanceIds outcomesCap performancesCap }
}
"""
CREATE_BATCH = "mutation($t: Int!) { createSubmissionBatch(academicYear: 115, term: $t) { id itemCount status contentSha256 } }"
SUBMIT = "mutation($id: ID!) { submitBatch(id: $id) { status externalRef } }"
COLLECT = "mutation($id: ID!) { collectReceipts(batchId: $id) { status receipts { id status } } }"
MY_RECEIPTS = "{ myReceipts(academicYear: 115) { id status lines } }"
CONFIRM = "mutation($id: ID!) { confirmReceipt(id: $id) { status respondedAt } }"
DISPUTE = "mutation($id: ID!, $r: String!) { disputeReceipt(id: $id, reason: $r) { status reason } }"
CLASS_OVERVIEW = """
query($c: ID!) {
  classOverview(classId: $c, academicYear: 115) {
    class { code }
    students { name outcomes sentForCertification passed failed awaitingResult performances selectedOutcomes selectedPerformances hasNone }
    studentsWithNone { name }
  }
}
"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def competition(title: str = "全國科展") -> dict:
    return {
        "kind": "COMPETITION", "t": title, "b": "物理組佳作",
        "d": {"competition_name": title, "level": "national", "award": "佳作", "announced_on": "2026-11-02"},
    }  # fmt: skip
