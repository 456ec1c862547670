"""What a posted import writes in bulk (``ledger.post_many``, ``ledger.insert_rows``: COPY on
PostgreSQL): the records' reasons as stored lists, and a clash with another import's rows
refused whole, nothing posted."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from pointsbank.ledger.models import Posting
from pointsbank.ledger.verify import verify
from pointsbank.rules import importer
from pointsbank.rules.models import BehaviourRecord
from tests.fixtures.rules import household, publish


def _import(client, world, data: bytes):
    return client.post(f"/api/v1/communities/{world['alpha']}/records/import",
                       data={"file": (io.BytesIO(data), "records.csv"), "post": "true"},
                       headers=world.headers("staff_a2"), content_type="multipart/form-data")


CSV = ("household_number,rule_code,occurred_on,quantity\n"
       + "".join(f"A-001,volunteer_hour,2026-05-0{d},8\n" for d in (1, 2, 3, 4))
       + "A-002,good_deed,2026-05-02,1\n").encode()


@pytest.mark.parametrize("chunk", [importer.POST_CHUNK, 2])
def test_imported_records_keep_their_reasons_as_lists_and_their_transactions(client, world, db, monkeypatch, chunk):
    monkeypatch.setattr(importer, "POST_CHUNK", chunk)  # 2: the postings in three post_many calls
    publish(client, world)
    report = _import(client, world, CSV).get_json()
    assert (report["posted"], report["points"]) == (5, 40 + 35)
    rows = db.session.execute(sa.select(BehaviourRecord.points, BehaviourRecord.reasons,
                                        BehaviourRecord.transaction_id, BehaviourRecord.status)
                              .order_by(BehaviourRecord.id)).all()
    assert [r.points for r in rows] == [16, 16, 8, 0, 35]
    assert all(r.status == "posted" for r in rows)
    assert rows[0].reasons == [] and [c["code"] for c in rows[2].reasons] == ["points_cap_reached"]
    assert rows[3].transaction_id is None  # a 0-point record moves nothing
    assert all(r.transaction_id is not None for r in rows if r.points)
    assert household(client, world, "a1")["balance"] == 140
    assert household(client, world, "a2")["balance"] == 135
    assert verify().ok


def test_rows_another_import_wrote_meanwhile_refuse_the_whole_import_and_move_nothing(client, world, db, monkeypatch):
    publish(client, world)
    assert _import(client, world, CSV).status_code == 200
    postings = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))
    # the same rows again, as if another import had written them after this one checked its keys
    monkeypatch.setattr(importer, "_existing_keys", lambda community_id, keys: set())
    clash = _import(client, world, CSV)
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "import_in_progress"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == postings
    assert household(client, world, "a1")["balance"] == 140
    assert verify().ok
