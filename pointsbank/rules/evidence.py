"""Evidence files: photos and documents behind a record or a resident's claim.

Invariants:

* only JPEG, PNG and PDF are kept, recognised by their first bytes (never by the name or the
  declared type), at most ``MAX_BYTES``;
* a file is stored once per community under ``EVIDENCE_DIR/<community id>/<sha256>`` (written
  to a temporary name, then renamed, so a reader never sees half a file); the row keeps the
  path relative to ``EVIDENCE_DIR`` so the directory can move;
* it is served only to whoever may see its household — the household it was uploaded for,
  or any household whose record cites it — plus staff of its community and its uploader;
  to anyone else it does not exist (404).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePath
from typing import IO

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Household
from pointsbank.errors import NotFound
from pointsbank.database import row_by_id
from pointsbank.extensions import db
from pointsbank.rules.errors import EvidenceTooLarge, EvidenceTypeNotAllowed
from pointsbank.rules.models import BehaviourRecord, Evidence

MAX_BYTES = 5 * 1024 * 1024
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-", "application/pdf"))


def sniff(head: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)


def _store(community_id: int, data: bytes, digest: str) -> str:
    root = Path(current_app.config["EVIDENCE_DIR"])
    relative = f"{community_id}/{digest}"
    target = root / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return relative


def upload(actor: User, *, stream: IO[bytes], filename: str | None, household_id: int | None = None) -> Evidence:
    """Keep a photo or document for a record; a resident's is always for its own household."""
    policy.require_role(actor, "staff", "grid_worker", "resident")
    if actor.role == "resident":
        if household_id not in (None, actor.household_id):
            raise NotFound()
        household_id = actor.household_id
    if household_id is not None:
        policy.household_for(actor, household_id)
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise EvidenceTooLarge(limit=MAX_BYTES // (1024 * 1024), details={"max_bytes": MAX_BYTES})
    content_type = sniff(data[:16])
    if content_type is None:
        raise EvidenceTypeNotAllowed()
    digest = hashlib.sha256(data).hexdigest()
    name = PurePath((filename or "").replace("\\", "/")).name.strip() or digest[:12]
    evidence = Evidence(community_id=actor.community_id, household_id=household_id, filename=name[-255:],
                        content_type=content_type, size=len(data), sha256=digest,
                        storage_path=_store(actor.community_id, data, digest), uploaded_by_id=actor.id,
                        created_at=clock.now())
    db.session.add(evidence)
    db.session.flush()
    return evidence


def _may_see(actor: User, evidence: Evidence) -> bool:
    if evidence.uploaded_by_id == actor.id:
        return True
    if actor.role in ("staff", "admin") and evidence.household_id is None:
        return policy.community_visible(actor, db.session.get(Community, evidence.community_id))
    household_ids = {evidence.household_id} if evidence.household_id is not None else set()
    household_ids |= set(db.session.scalars(sa.select(BehaviourRecord.household_id).where(
        BehaviourRecord.evidence_id == evidence.id).distinct()))
    households = db.session.scalars(sa.select(Household).where(Household.id.in_(household_ids))) \
        if household_ids else []
    return any(policy.household_visible(actor, household) for household in households)


def open_evidence(actor: User, evidence_id: int) -> tuple[Evidence, Path]:
    """The evidence and its file, if ``actor`` may see it."""
    policy.require_role(actor, "admin", "staff", "grid_worker", "resident")
    evidence = row_by_id(Evidence, evidence_id, actor.community_id)
    if evidence is None or not _may_see(actor, evidence):
        raise NotFound()
    path = Path(current_app.config["EVIDENCE_DIR"]) / evidence.storage_path
    if not path.is_file():
        raise NotFound()
    return evidence, path
