"""Hand-over of a case to another site through the office (inside the import transaction).

A device asks for a hand-over with an instruction in its batch (docs/batch-format.md §5).
The office never trusts the device's own consent check: it looks at the record revision
it holds and the withdrawals it recorded, at which device takes over cases for the named
recipient and under which purpose the office registered that recipient
(``handover_recipients``), and at the receiving device's encryption key, which came in a
batch that device signed with its pinned key. Only then it seals the record with its case
events to that key and signs it with the importer key (:mod:`intake_app.sync.handover`);
otherwise the hand-over is refused with a reason (docs/security.md, "Hand-over through the
office"). Everything is written in the batch's transaction, keyed by the hand-over id, so
a repeated batch or a crash mid-import never seals twice.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Connection, Engine

from intake_app.errors import NotFound, UsageError
from intake_app.i18n import N_, _
from intake_app.sync import keys
from intake_app.sync.handover import seal_handover
from intake_app.sync.receipt import ItemResult

from .db import (
    case_events,
    consent_withdrawals,
    device_encryption_keys,
    devices,
    handover_recipients,
)
from .db import handovers as handovers_table
from .db import records as records_table
from .export import consent_states
from .registry import utcnow

log = logging.getLogger("intake.central")

#: Purpose and recipient ids of an organisation file (its schema's id pattern).
ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

#: Why the office refused a hand-over: the tag kept in ``handovers.reason`` and its text.
REFUSALS: dict[str, str] = {
    "no_consent": N_(
        "Die Person hat der Weitergabe an diese Empfangsstelle nicht zugestimmt; die Akte "
        "wird nicht übergeben."
    ),
    "consent_withdrawn": N_(
        "Die Person hat ihre Einwilligung zur Weitergabe an diese Empfangsstelle widerrufen; "
        "die Akte wird nicht übergeben."
    ),
    "unknown_recipient": N_(
        "Für diese Empfangsstelle ist in der Zentrale kein übernehmendes Gerät eingetragen."
    ),
    "purpose_mismatch": N_(
        "Die Empfangsstelle ist in der Zentrale unter einem anderen Einwilligungszweck "
        "eingetragen, als das Gerät angegeben hat."
    ),
    "no_device_key": N_(
        "Das übernehmende Gerät hat der Zentrale noch keinen Schlüssel für Übergaben "
        "geschickt; es muss zuerst einmal synchronisieren."
    ),
    "same_device": N_("Eine Akte kann nicht an das Gerät übergeben werden, von dem sie kommt."),
    "record_missing": N_("Die Akte liegt der Zentrale nicht vor."),
    "no_signing_key": N_("Der Import hat keinen Signaturschlüssel für Übergaben."),
}


def refusal_text(reason: str | None) -> str:
    """The plain German (or translated) sentence for a refusal tag."""
    text = REFUSALS.get(reason or "")
    return _(text) if text else _("Übergabe abgelehnt ({reason}).").format(reason=reason)


def register_device_key(
    conn: Connection, item: Mapping[str, Any], *, device_id: str, batch_id: str, now: datetime
) -> ItemResult:
    """Keep the device's hand-over key from a batch it signed, the first one only: every
    user of a device holds its signing key, so a later, other key may be anyone's on it
    (docs/security.md, "Hand-over through the office"); it is refused as a conflict and
    logged, as is a key naming another device. The device keeps its key pair (sealed to
    its site key); a device that needs a new one is enrolled again."""
    if item["record_id"] != device_id:
        return ItemResult.CONFLICT
    public = keys.EncryptionPublicKey.from_json(item["key"])
    existing = conn.execute(
        sa.select(device_encryption_keys.c.key_id).where(
            device_encryption_keys.c.device_id == device_id
        )
    ).first()
    values = {
        "key_id": public.key_id,
        "public_key": keys.b64(public.raw),
        "batch_id": batch_id,
        "registered_at": now,
    }
    if existing is None:
        conn.execute(device_encryption_keys.insert().values(device_id=device_id, **values))
        return ItemResult.RECORDED
    if existing.key_id == public.key_id:
        return ItemResult.DUPLICATE
    log.warning(
        "device %s announced another hand-over key (%s, batch %s); the first one stays",
        device_id,
        public.key_id,
        batch_id,
    )
    return ItemResult.CONFLICT


def _request_document(item: Mapping[str, Any]) -> str:
    return json.dumps(dict(item), ensure_ascii=False, sort_keys=True)


def _current_record(conn: Connection, record_id: str, revision: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(records_table.c.document).where(
            records_table.c.record_id == record_id, records_table.c.revision == revision
        )
    ).first()
    return json.loads(row.document) if row is not None else None


def _refusal(
    conn: Connection, item: Mapping[str, Any], *, record: dict[str, Any] | None, device_id: str
) -> tuple[str | None, str | None]:
    """``(reason, receiving device)``: reason None when the hand-over may go ahead."""
    if record is None:
        return "record_missing", None
    target = conn.execute(
        sa.select(handover_recipients.c.purpose, handover_recipients.c.device_id).where(
            handover_recipients.c.recipient_id == item["recipient"]
        )
    ).first()
    if target is None:
        return "unknown_recipient", None
    if target.purpose != item["purpose"]:
        return "purpose_mismatch", target.device_id
    withdrawals = {
        row.purpose: (row.revision, row.withdrawn_on)
        for row in conn.execute(
            sa.select(
                consent_withdrawals.c.purpose,
                consent_withdrawals.c.revision,
                consent_withdrawals.c.withdrawn_on,
            ).where(consent_withdrawals.c.record_id == item["record_id"])
        )
    }
    state = consent_states(record, withdrawals).get(target.purpose, "not_granted")
    if state.startswith("withdrawn"):
        return "consent_withdrawn", target.device_id
    if not state.startswith("granted"):
        return "no_consent", target.device_id
    if target.device_id == device_id:
        return "same_device", target.device_id
    return None, target.device_id


def apply_handover(
    conn: Connection,
    item: Mapping[str, Any],
    *,
    head_revision: int | None,
    device_id: str,
    batch_id: str,
    now: datetime,
    signing_key: ec.EllipticCurvePrivateKey,
) -> tuple[ItemResult, str | None]:
    """Seal or refuse one hand-over; the same hand-over again gets its first answer.

    Returns the result and the refusal tag (None when sealed or already answered).
    """
    request = _request_document(item)
    existing = conn.execute(
        sa.select(handovers_table.c.request, handovers_table.c.status).where(
            handovers_table.c.handover_id == item["handover_id"]
        )
    ).first()
    if existing is not None:
        if existing.request != request:
            return ItemResult.CONFLICT, None
        return ItemResult(existing.status), None
    record = _current_record(conn, item["record_id"], head_revision) if head_revision else None
    reason, target = _refusal(conn, item, record=record, device_id=device_id)
    document = None
    if reason is None:
        assert target is not None and record is not None
        key_row = conn.execute(
            sa.select(device_encryption_keys.c.public_key).where(
                device_encryption_keys.c.device_id == target
            )
        ).first()
        if key_row is None:
            reason = "no_device_key"
        else:
            events = [
                {
                    "event_id": row.event_id,
                    "kind": row.kind,
                    "occurred_on": row.occurred_on,
                    "recorded_at": row.recorded_at,
                    "data": json.loads(row.data),
                }
                for row in conn.execute(
                    sa.select(case_events)
                    .where(case_events.c.record_id == item["record_id"])
                    .order_by(case_events.c.occurred_on, case_events.c.event_id)
                )
            ]
            document = seal_handover(
                handover_id=item["handover_id"],
                device_id=target,
                from_device_id=device_id,
                device_key=keys.EncryptionPublicKey(keys.unb64(key_row.public_key)),
                content={
                    "handover_id": item["handover_id"],
                    "record": record,
                    "events": events,
                    "recipient": item["recipient"],
                    "purpose": item["purpose"],
                    "requested_at": item["requested_at"],
                },
                signing_key=signing_key,
                issued_at=now,
            ).decode("utf-8")
    result = ItemResult.REFUSED if reason else ItemResult.SEALED
    conn.execute(
        handovers_table.insert().values(
            handover_id=item["handover_id"],
            record_id=item["record_id"],
            from_device_id=device_id,
            to_device_id=target if reason is None else None,
            recipient=item["recipient"],
            purpose=item["purpose"],
            status=result.value,
            reason=reason,
            document=document,
            request=request,
            batch_id=batch_id,
            created_at=now,
        )
    )
    if reason:
        log.warning("hand-over refused: reason=%s batch=%s", reason, batch_id)
    else:
        log.info("hand-over sealed for device=%s batch=%s", target, batch_id)
    return result, reason


def set_recipient(engine: Engine, *, device_name: str, recipient: str, purpose: str) -> str:
    """Name the device that takes over cases for ``recipient`` (an id of the organisation
    file), which the organisation file lists under the consent purpose ``purpose``. Returns
    the device id.

    Raises:
        UsageError: the ids are not ids of an organisation file.
        NotFound: no device of that name.
    """
    for value in (recipient, purpose):
        if not ID_PATTERN.fullmatch(value):
            raise UsageError(
                _("„{value}“ ist keine Kennung aus der Organisationsdatei.").format(value=value)
            )
    with engine.begin() as conn:
        row = conn.execute(sa.select(devices.c.device_id).where(devices.c.name == device_name))
        found = row.first()
        if found is None:
            raise NotFound(_("Es gibt kein Gerät namens »{name}«.").format(name=device_name))
        values = {"purpose": purpose, "device_id": found.device_id, "set_at": utcnow()}
        updated = conn.execute(
            handover_recipients.update()
            .where(handover_recipients.c.recipient_id == recipient)
            .values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(handover_recipients.insert().values(recipient_id=recipient, **values))
    return str(found.device_id)


def sealed_for(engine: Engine, *, device_name: str) -> list[tuple[str, bytes]]:
    """The hand-overs sealed for the device called ``device_name``: (id, signed document),
    for the folder transport (``handovers export``; only ciphertext the device opens).

    Raises:
        NotFound: no device of that name.
    """
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(devices.c.device_id).where(devices.c.name == device_name)
        ).first()
        if found is None:
            raise NotFound(_("Es gibt kein Gerät namens »{name}«.").format(name=device_name))
        rows = conn.execute(
            sa.select(handovers_table.c.handover_id, handovers_table.c.document)
            .where(
                handovers_table.c.to_device_id == found.device_id,
                handovers_table.c.status == ItemResult.SEALED.value,
                handovers_table.c.document.is_not(None),
            )
            .order_by(handovers_table.c.handover_id)
        ).all()
    return [(str(row.handover_id), str(row.document).encode("utf-8")) for row in rows]
