"""The payload a batch carries: finalised records and instructions (erasure, withdrawal,
case event, hand-over, device encryption key).

The device side produces ``{"records": [...], "instructions": [...]}``; this module checks
that shape (on building and again after decrypting centrally) and names each item by a
small reference, so a receipt can say which records and instructions it answers.
Answers and consent are opaque JSON objects here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from intake_app.sync.errors import BatchError
from intake_app.sync.identity import is_uuid
from intake_app.sync.keys import EncryptionPublicKey
from intake_app.sync.minimum import GROUP_NAMES, SCOPES

MAX_REVISION = 2**31 - 1
INSTRUCTION_TYPES = (
    "erasure",
    "consent_withdrawal",
    "case_event",
    "handover",
    "device_key",
    "reassignment",
)
#: Instruction types a version 3 batch may carry (``reassignment`` came with version 4).
INSTRUCTION_TYPES_V3 = ("erasure", "consent_withdrawal", "case_event", "handover", "device_key")
#: Instruction types a version 1 batch may carry (``case_event`` came with version 2).
INSTRUCTION_TYPES_V1 = ("erasure", "consent_withdrawal")
#: Instruction types a version 2 batch may carry (``handover`` and ``device_key`` came with
#: version 3).
INSTRUCTION_TYPES_V2 = ("erasure", "consent_withdrawal", "case_event")
#: What a case event is (docs/batch-format.md §5).
CASE_EVENT_KINDS = ("contact", "update", "closure", "reopening")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPTIONAL_TEXT = ("status", "site", "counsellor", "created_at", "finalised_at")


class RecordRef(NamedTuple):
    """A record revision: what receipts name and the central database keys on."""

    record_id: str
    revision: int


class InstructionRef(NamedTuple):
    """An instruction by type, record and purpose (``""`` for an erasure)."""

    type: str
    record_id: str
    purpose: str


def _check(condition: bool) -> None:
    if not condition:
        raise BatchError("payload_invalid")


def _is_revision(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_REVISION  # type: ignore[operator]


def _is_text(value: object, *, limit: int = 200) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and _is_plain(value)


# Control characters (C0, DEL, C1) and surrogates: none may be in a column's text.
_NOT_PLAIN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# Answer keys and consent purposes are a form's field and purpose ids (the form schema's
# id pattern); they become CSV column names at the office, so nothing else is accepted
# (docs/central-office.md, "Exports").
_FIELD_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _keys_are_ids(value: object) -> bool:
    """Every key of ``value``, and of the objects nested in it, is a field id."""
    if not isinstance(value, dict):
        return True
    return all(
        isinstance(key, str) and _FIELD_ID.fullmatch(key) is not None and _keys_are_ids(item)
        for key, item in value.items()
    )


def _is_plain(value: str) -> bool:
    """No control characters and no lone surrogates in a short text that becomes a column."""
    return _NOT_PLAIN.search(value) is None


def validate_record(record: object) -> None:
    """Check one record's shape (id, revision, form, answers, consent)."""
    _check(isinstance(record, dict))
    assert isinstance(record, dict)
    _check(is_uuid(record.get("id")) and _is_revision(record.get("revision")))
    _check(_is_text(record.get("form_id")) and _is_text(record.get("form_version")))
    _check(isinstance(record.get("answers"), dict) and isinstance(record.get("consent"), dict))
    for name in _OPTIONAL_TEXT:
        value = record.get(name)
        _check(value is None or (isinstance(value, str) and _is_plain(value)))
    purposes = record["consent"].get("purposes", {})
    _check(isinstance(purposes, dict))
    _check(all(isinstance(state, dict) for state in purposes.values()))
    _check(_keys_are_ids(record["answers"]) and _keys_are_ids(purposes))
    # Since the data minimisation (docs/batch-format.md §5): which scope the device sent,
    # and the statistics groups it worked out; both optional for older devices.
    _check(record.get("scope") is None or record["scope"] in SCOPES)
    groups = record.get("groups")
    _check(groups is None or isinstance(groups, dict))
    if isinstance(groups, dict):
        _check(all(name in GROUP_NAMES and _is_text(value) for name, value in groups.items()))


def validate_instruction(instruction: object) -> None:
    """Check one instruction: an erasure request, a consent withdrawal or a case event."""
    _check(isinstance(instruction, dict))
    assert isinstance(instruction, dict)
    kind = instruction.get("type")
    _check(kind in INSTRUCTION_TYPES and is_uuid(instruction.get("record_id")))
    if kind == "erasure":
        _check(isinstance(instruction.get("requested_at"), str))
        _check(instruction.get("reason") is None or isinstance(instruction.get("reason"), str))
    elif kind == "handover":
        _check(is_uuid(instruction.get("handover_id")))
        for name in ("recipient", "purpose"):
            value = instruction.get(name)
            _check(isinstance(value, str) and _FIELD_ID.fullmatch(value) is not None)
        requested = instruction.get("requested_at")
        _check(isinstance(requested, str) and _is_text(requested, limit=40))
    elif kind == "device_key":
        key = instruction.get("key")
        _check(isinstance(key, dict) and set(key) == {"kid", "alg", "key"})
        assert isinstance(key, dict)
        try:
            EncryptionPublicKey.from_json(key)
        except ValueError:
            _check(False)
    elif kind == "reassignment":
        _check(is_uuid(instruction.get("reassignment_id")))
        _check(_is_text(instruction.get("counsellor")))
        moved = instruction.get("moved_at")
        _check(isinstance(moved, str) and _is_text(moved, limit=40))
    elif kind == "case_event":
        _check(is_uuid(instruction.get("event_id")))
        _check(instruction.get("kind") in CASE_EVENT_KINDS)
        day = instruction.get("occurred_on")
        _check(isinstance(day, str) and _DAY.match(day) is not None)
        _check(isinstance(instruction.get("data"), dict))
        recorded = instruction.get("recorded_at")
        _check(recorded is None or (isinstance(recorded, str) and _is_plain(recorded)))
    else:
        purpose = instruction.get("purpose")
        _check(isinstance(purpose, str) and _FIELD_ID.fullmatch(purpose) is not None)
        _check(isinstance(instruction.get("withdrawn_on"), str))
        revision = instruction.get("revision")
        _check(revision is None or _is_revision(revision))


def validate_payload(payload: object) -> None:
    """Check the whole payload; raises ``BatchError("payload_invalid")`` when wrong.

    Besides the shape of each item: no record revision and no (type, record) instruction
    appears twice, so receipts can name items unambiguously.
    """
    _check(isinstance(payload, Mapping))
    assert isinstance(payload, Mapping)
    _check(set(payload) == {"records", "instructions"})
    records, instructions = payload["records"], payload["instructions"]
    _check(isinstance(records, list) and isinstance(instructions, list))
    for record in records:
        validate_record(record)
    for instruction in instructions:
        validate_instruction(instruction)
    refs = record_refs(payload)
    _check(len(set(refs)) == len(refs))
    irefs = instruction_refs(payload)
    _check(len(set(irefs)) == len(irefs))


def record_refs(payload: Mapping[str, Any]) -> tuple[RecordRef, ...]:
    """The (id, revision) of every record, in payload order."""
    return tuple(RecordRef(r["id"], r["revision"]) for r in payload["records"])


def instruction_ref(item: Mapping[str, Any]) -> InstructionRef:
    """An instruction's name: its type, record id and purpose (``""`` for an erasure, the
    event id for a case event, the hand-over id for a hand-over, the key id for a device
    key, whose "record id" is the device id, the reassignment's id for a reassignment;
    docs/batch-format.md §5)."""
    kind = item["type"]
    if kind == "erasure":
        return InstructionRef(kind, item["record_id"], "")
    if kind == "case_event":
        return InstructionRef(kind, item["record_id"], item["event_id"])
    if kind == "handover":
        return InstructionRef(kind, item["record_id"], item["handover_id"])
    if kind == "device_key":
        return InstructionRef(kind, item["record_id"], item["key"]["kid"])
    if kind == "reassignment":
        return InstructionRef(kind, item["record_id"], item["reassignment_id"])
    return InstructionRef(kind, item["record_id"], item["purpose"])


def instruction_refs(payload: Mapping[str, Any]) -> tuple[InstructionRef, ...]:
    """The (type, record id, purpose) of every instruction, in payload order."""
    return tuple(instruction_ref(i) for i in payload["instructions"])
