"""The named refusals of rule books, records, approvals, objections, evidence and imports.

Each carries a stable ``code`` and a translated message; ``details`` add what a client needs
to show or fix the problem (every rule-book problem with its line, the reasons of a refused
record …).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from pointsbank.errors import BadRequest, Conflict, DomainError, NotFound, Unprocessable


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"
    message = _l("Send the rule book as YAML text with Content-Type: application/yaml.")


class RuleBookInvalid(BadRequest):
    code = "rulebook_invalid"
    message = _l("The rule book has %(count)s problem(s); nothing was published.")


class RuleBookVersionExists(Conflict):
    code = "rulebook_version_exists"
    message = _l("Version %(version)s is already published; a published rule book never changes. "
                 "Publish it under a new version.")


class NoRuleBookInForce(NotFound):
    code = "no_rulebook_in_force"
    message = _l("No rule book is in force on %(day)s.")


class RecordInFuture(Unprocessable):
    code = "record_in_future"
    message = _l("A record cannot be dated in the future (%(occurred_on)s is after today, %(today)s).")


class BeforeRuleBook(Unprocessable):
    code = "before_rulebook"
    message = _l("No rule book was in force on %(occurred_on)s: the first one took effect on %(effective_from)s.")


class UnknownRule(Unprocessable):
    code = "unknown_rule"
    message = _l("There is no rule %(rule_code)s in rule book %(version)s.")


class RecordRefused(Unprocessable):
    """The engine refused the record; ``code`` is the first reason's code (e.g. ``evidence_required``)."""

    code = "record_refused"
    message = _l("The record cannot be scored: %(reasons)s")

    def __init__(self, reasons: list[dict[str, Any]], messages: list[str]) -> None:
        super().__init__(details={"reasons": reasons}, reasons=" ".join(messages))
        if reasons:
            self.code = reasons[0]["code"]


class ResidentNotInHousehold(Unprocessable):
    code = "resident_not_in_household"
    message = _l("Resident %(resident_id)s does not belong to household %(household_id)s.")


class ClaimNeedsEvidence(Unprocessable):
    code = "evidence_required"
    message = _l("A claim needs evidence: upload a photo or a document first (POST /evidence).")


class EvidenceNotFound(NotFound):
    code = "evidence_not_found"
    message = _l("Evidence %(evidence_id)s was not found for this household.")


class EvidenceTooLarge(DomainError):
    status, code = 413, "evidence_too_large"
    message = _l("An evidence file may be at most %(limit)s MB.")


class EvidenceTypeNotAllowed(DomainError):
    status, code = 415, "evidence_type_not_allowed"
    message = _l("Evidence must be a JPEG or PNG photo or a PDF document.")


class RecordNotPending(Conflict):
    code = "record_not_pending"
    message = _l("This record is %(status)s, no longer pending.")


class SecondPersonRequired(Unprocessable):
    code = "second_person_required"
    message = _l("A staff member other than the one who recorded it must decide on this record.")


class AlreadyApproved(Conflict):
    code = "already_approved"
    message = _l("You have already approved this record; another staff member must approve it.")


class NotOpenToObjection(Conflict):
    code = "record_not_open_to_objection"
    message = _l("Only a posted record can be objected to; this one is %(status)s.")


class NoticePeriodOver(Unprocessable):
    code = "notice_period_over"
    message = _l("The notice period of this record ended at %(notice_until)s.")


class ObjectionNotOpen(Conflict):
    code = "objection_not_open"
    message = _l("This objection is already resolved (%(status)s).")


class ObjectorCannotResolve(Unprocessable):
    code = "objector_cannot_resolve"
    message = _l("Whoever raised an objection cannot resolve it.")


class ImportUnreadable(BadRequest):
    code = "import_unreadable"
    message = _l("The file cannot be read as CSV (UTF-8 or GB18030) or XLSX: %(problem)s")


class ImportColumnsMissing(BadRequest):
    code = "import_columns_missing"
    message = _l("The file lacks the column(s) %(columns)s (the first row must name the columns).")


class ImportConflict(Conflict):
    code = "import_in_progress"
    message = _l("Some of these rows were imported by another import at the same moment; run it again.")


class GroupEmpty(BadRequest):
    code = "group_empty"
    message = _l("Name at least one household (household_ids) or resident (resident_ids).")
