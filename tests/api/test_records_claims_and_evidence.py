"""Resident claims (申领) with evidence, and evidence files: checked by their bytes, served by scope."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.rules import JPEG, PDF, PNG, error_code, household, publish, record, upload


def test_a_resident_claims_for_its_household_with_a_photo_and_it_waits_for_staff(client, world, app):
    publish(client, world)
    photo = upload(client, world, "resident_a1", PNG, "扶老人过马路.png")
    assert photo.status_code == 201, photo.get_json()
    evidence = photo.get_json()
    assert (evidence["content_type"], evidence["household_id"], evidence["size"]) == ("image/png", world["a1"],
                                                                                      len(PNG))
    stored = Path(app.config["EVIDENCE_DIR"]) / str(world["alpha"]) / evidence["sha256"]
    assert stored.read_bytes() == PNG

    claim = record(client, world, "resident_a1", "a1", "good_deed", evidence=evidence["id"])
    assert claim.status_code == 201, claim.get_json()
    body = claim.get_json()
    assert (body["status"], body["is_claim"], body["approvals_required"], body["evidence"]) == (
        "pending", True, 1, evidence["id"])
    assert body["reasons"][-1]["code"] == "claim_needs_approval"
    assert household(client, world, "a1")["balance"] == 100
    approved = client.post(f"/api/v1/records/{body['id']}/approve", headers=world.headers("staff_a2")).get_json()
    assert (approved["status"], approved["points"]) == ("posted", 35)
    assert household(client, world, "a1")["balance"] == 135


def test_a_claim_without_evidence_or_for_another_household_is_refused(client, world):
    publish(client, world)
    bare = record(client, world, "resident_a1", "a1", "good_deed")
    assert bare.status_code == 422 and error_code(bare) == "evidence_required"
    evidence = upload(client, world, "resident_a1").get_json()
    other = record(client, world, "resident_a1", "a2", "good_deed", evidence=evidence["id"])
    assert other.status_code == 404
    borrowed = record(client, world, "resident_a2", "a2", "good_deed", evidence=evidence["id"])
    assert borrowed.status_code == 404 and error_code(borrowed) == "evidence_not_found"
    assert household(client, world, "a2")["balance"] == 100
    listed = client.get(f"/api/v1/records?household_id={world['a2']}", headers=world.headers("staff_a"))
    assert listed.get_json()["items"] == []  # the refused claims stored no record


def test_a_rule_that_requires_evidence_is_refused_without_it_and_scored_with_it(client, world):
    publish(client, world)
    refused = record(client, world, "staff_a2", "a1", "rescue")
    assert refused.status_code == 422 and error_code(refused) == "evidence_required"
    photo = upload(client, world, "staff_a2", JPEG, "rescue.jpg", household_id=str(world["a1"])).get_json()
    scored = record(client, world, "staff_a2", "a1", "rescue", evidence=photo["id"])
    assert scored.status_code == 201 and scored.get_json()["points"] == 30


def test_only_jpeg_png_and_pdf_are_kept_judged_by_their_bytes_and_at_most_5_mb(client, world, monkeypatch):
    from pointsbank.rules import evidence

    assert evidence.MAX_BYTES == 5 * 1024 * 1024
    monkeypatch.setattr(evidence, "MAX_BYTES", 4096)  # the test client spools big bodies to files it never closes
    assert upload(client, world, "staff_a2", PDF, "证明.pdf").get_json()["content_type"] == "application/pdf"
    disguised = upload(client, world, "staff_a2", b"<html><script>alert(1)</script>", "photo.png")
    assert disguised.status_code == 415 and error_code(disguised) == "evidence_type_not_allowed"
    assert upload(client, world, "staff_a2", PNG + b"\x00" * (4096 - len(PNG)), "fits.png").status_code == 201
    big = upload(client, world, "staff_a2", PNG + b"\x00" * 4096, "big.png")
    assert big.status_code == 413 and error_code(big) == "evidence_too_large"
    missing = client.post("/api/v1/evidence", headers=world.headers("staff_a2"), data={},
                          content_type="multipart/form-data")
    assert missing.status_code == 400 and "file" in missing.get_json()["error"]["details"]["fields"]
    assert upload(client, world, "cashier_a").status_code == 403


def _fetch(client, world, url, who):
    response = client.get(url, headers=world.headers(who))
    try:
        if response.status_code == 200:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        return response.status_code, response.data, response.mimetype
    finally:
        response.close()


def test_evidence_is_served_only_to_those_who_may_see_its_household(client, world):
    evidence = upload(client, world, "resident_a1", PNG).get_json()
    url = f"/api/v1/evidence/{evidence['id']}"
    for who in ("resident_a1", "staff_a2", "grid_a"):
        assert _fetch(client, world, url, who) == (200, PNG, "image/png"), who
    for who in ("resident_a2", "staff_b", "resident_b1"):
        assert _fetch(client, world, url, who)[0] == 404, who
    assert _fetch(client, world, url, "cashier_a")[0] == 403


def test_evidence_of_a_record_is_visible_to_the_residents_of_that_record_household(client, world):
    publish(client, world)
    photo = upload(client, world, "staff_a2", JPEG, "group.jpg").get_json()
    url = f"/api/v1/evidence/{photo['id']}"
    assert _fetch(client, world, url, "resident_a2")[0] == 404
    record(client, world, "staff_a2", "a2", "good_deed", evidence=photo["id"])
    assert _fetch(client, world, url, "resident_a2")[:2] == (200, JPEG)
    assert _fetch(client, world, url, "resident_a1")[0] == 404
    assert _fetch(client, world, url, "grid_a")[0] == 200


def _evidence_stored(app) -> tuple[int, list[str]]:
    """(evidence rows, files under EVIDENCE_DIR)."""
    import sqlalchemy as sa

    from pointsbank.extensions import db
    from pointsbank.rules.models import Evidence

    root = Path(app.config["EVIDENCE_DIR"])
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)), files


def test_a_grid_worker_cannot_upload_for_a_household_outside_its_grids(client, world, app):
    response = upload(client, world, "grid_a", PNG, household_id=str(world["a3"]))
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert _evidence_stored(app) == (0, [])  # neither a row nor the file: nothing was kept
    inside = upload(client, world, "grid_a", PNG, household_id=str(world["a1"]))
    assert inside.status_code == 201 and _evidence_stored(app)[0] == 1  # the same file, in scope, is kept


def test_every_content_type_evidence_is_served_with_is_documented_in_the_openapi_document(client, world):
    """schemathesis (make check-reliability) found image/png served where only octet-stream was documented."""
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = set(spec["paths"]["/api/v1/evidence/{evidence_id}"]["get"]["responses"]["200"]["content"])
    served = set()
    for data, name in ((PNG, "a.png"), (JPEG, "a.jpg"), (PDF, "a.pdf")):
        evidence = upload(client, world, "resident_a1", data, name).get_json()
        status, _, mimetype = _fetch(client, world, f"/api/v1/evidence/{evidence['id']}", "resident_a1")
        assert status == 200
        served.add(mimetype)
    assert served == {"image/png", "image/jpeg", "application/pdf"}
    assert served <= documented
