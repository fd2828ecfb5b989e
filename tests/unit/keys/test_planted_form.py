"""A form put into the profile database is never used (device_sync/installed_forms.py).

Tried as attacker run 32 did: a counsellor holds the profile database's key and puts a form
of her own into ``installed_forms``, a copy of the newest version numbered higher, in which
the question labelled "Familienname" keeps its answer under ``residence_document``. It
became every colleague's current form without a word; a family name typed into it went,
when the record was removed, into the statistics' trace in the profile database, where her
key read it. Now an installed form counts only as the document the office root signed,
checked whenever the forms are read; anything else is left out and reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from tests.helpers.attacker import findings, profile_db
from tests.helpers.key_site import own

SHIPPED = Path(__file__).parents[3] / "forms" / "intake-2026.3.yaml"


def _planted_form() -> bytes:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace('version: "2026.3"', 'version: "2026.9"', 1)
    text = text.replace('previous_version: "2026.2"', 'previous_version: "2026.3"', 1)
    text = re.sub(r"\bresidence_document\b", "residence_doc_kind", text)
    text = re.sub(r"\bfamily_name\b", "residence_document", text)
    return text.encode("utf-8")


def _plant(profile: Profile, content: bytes) -> None:
    conn = profile_db(profile, "anna")
    try:
        conn.execute(
            "INSERT INTO installed_forms VALUES ('intake', '2026.9', 'intake-2026.9.yaml', ?, "
            "'x', '2026-12-07T00:00:00Z', '2026-12-07 00:00:00.000000')",
            (content,),
        )
    finally:
        conn.close()


def _findings(ws: Workspace) -> list[dict]:
    return findings(ws, "form_not_signed")


def test_a_planted_form_is_no_colleagues_form(site: tuple[Profile, str]) -> None:
    profile, _ = site
    planted = _planted_form()
    # the planted form itself loads (it is a valid form): only its signature is missing
    _plant(profile, planted)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.current_form().version == "2026.3"
        assert "2026.9" not in ws.forms.versions("intake")
        assert _findings(ws) == [{"kind": "form_not_signed", "forms": ["intake 2026.9"]}]
        record_id = ws.new_intake()
        assert ws.records.get(record_id).form_version == "2026.3"
    finally:
        ws.close()


def test_a_planted_form_in_signed_clothes_is_no_form_either(site: tuple[Profile, str]) -> None:
    """Bytes shaped as a signed document, signed with a key of her own: the device is not
    enrolled, so no key at all signs an installed form here."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from intake_app.sync.published_forms import build_published_form

    profile, _ = site
    document = build_published_form(
        form_id="intake",
        version="2026.9",
        filename="intake-2026.9.yaml",
        content=_planted_form(),
        signing_key=ec.generate_private_key(ec.SECP384R1()),
    )
    _plant(profile, document)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.current_form().version == "2026.3"
        assert _findings(ws) == [{"kind": "form_not_signed", "forms": ["intake 2026.9"]}]
    finally:
        ws.close()
