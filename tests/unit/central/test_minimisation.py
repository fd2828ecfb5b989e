"""A withdrawal of the central office purpose: the office keeps only the statistics minimum.

Batches go through the real receiver and importer on each database backend; the stored
documents are read back (docs/security.md, "What reaches the central office").
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.export import statistics
from intake_app.sync.receipt import ItemResult
from tests.unit.central.harness import Central, receiver_app, serve
from tests.unit.central.test_record_ownership import _payload, _receipt, _send
from tests.unit.sync.factories import make_record, withdrawal

NAME = "Kanarienname"


def _stored(central: Central, record_id: str) -> dict[int, str]:
    with central.engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.records.c.revision, db.records.c.document).where(
                db.records.c.record_id == record_id
            )
        ).all()
    return {r.revision: r.document for r in rows}


def _record(revision: int, record_id: str | None = None) -> dict[str, Any]:
    record = make_record(record_id=record_id, revision=revision, family_name=NAME)
    record["answers"]["nationalities"] = ["SY"]
    record["groups"] = {"age_group": "35-44", "nationality_group": "third_country"}
    record["scope"] = "central_office"
    return record


def _reduced(document: str) -> bool:
    data = json.loads(document)
    return (
        data["scope"] == "statistics"
        and NAME not in document
        and "1990-04-01" not in document
        and "given_names" not in data["answers"]
        and "language" not in data["consent"]
        and data["groups"] == {"age_group": "35-44", "nationality_group": "third_country"}
        and bool(data["answers"]["referrals"][0]["service"])
    )


def test_a_withdrawal_reduces_the_revisions_it_covers(central: Central) -> None:
    device = central.enrol()
    first = _record(1)
    second = _record(2, record_id=first["id"])
    third = _record(3, record_id=first["id"])
    with serve(receiver_app(central)) as url:
        _send(device, url, _payload(first, second, third))
        central.importer().run()
        assert not any(_reduced(d) for d in _stored(central, first["id"]).values())
        _send(device, url, _payload(instructions=[withdrawal(first["id"], revision=2)]))
        central.importer().run()
        stored = _stored(central, first["id"])
        assert _reduced(stored[1]) and _reduced(stored[2])
        assert NAME in stored[3]  # a newer revision carries its own consent
        # the same revision once more (a lost receipt): still the same revision
        again = _send(device, url, _payload(first))
        central.importer().run()
        receipt = _receipt(device, url, again)
    assert [result for _ref, result in receipt.records] == [ItemResult.DUPLICATE]
    counts = statistics(central.engine)
    assert sum(n for key, n in counts.items() if key[2] == "intakes") == 1


def test_a_revision_arriving_after_the_withdrawal_is_stored_reduced(central: Central) -> None:
    device = central.enrol()
    late = _record(1)
    early = _record(1)
    with serve(receiver_app(central)) as url:
        # the withdrawal travels first (it waits), or the record was already stored
        _send(device, url, _payload(instructions=[withdrawal(early["id"], revision=1)]))
        central.importer().run()
        _send(device, url, _payload(early))
        _send(device, url, _payload(late))
        central.importer().run()
        _send(device, url, _payload(instructions=[withdrawal(late["id"], revision=2)]))
        central.importer().run()
        older = _record(2, record_id=late["id"])
        _send(device, url, _payload(older))
        central.importer().run()
    assert [_reduced(d) for d in _stored(central, early["id"]).values()] == [True]
    assert [_reduced(d) for _r, d in sorted(_stored(central, late["id"]).items())] == [True, True]
    # reduced records still count, with their groups
    counts = statistics(central.engine)
    assert sum(n for key, n in counts.items() if key[2] == "intakes") == 2
    assert sum(n for key, n in counts.items() if key[2:] == ("opened_by_age_group", "35-44")) == 2
