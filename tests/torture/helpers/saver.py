"""A real Intake process that saves answers in a tight loop until it is killed.

    python -m tests.torture.helpers.saver PROFILE USER PASSWORD RECORD_ID...

It signs in like the program does, then keeps saving the answers of the given records in
turn (the autosave path: :meth:`RecordService.save`, one transaction each). The answers of
save number ``n`` of a record are a pure function of (record id, n) — see
:func:`answers_for` — so the parent can check that what is stored is exactly one of the
states that were written. After each save has returned (committed) it prints
``saved <record id> <n>``; it prints ``ready`` once signed in.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path
from typing import Any

COUNTER = "torture_counter"
SCRIPTS = (
    "Al-Hassan الحسن ليلى",
    "Коваленко Олена",
    "Haddad حداد",
    "Yılmaz Ömer",
    "Tesfay Tsegay",
    "Ахмади احمدی",
)

_LETTERS = "abcdefghijklmnopqrstuvwxyzäöüß ابتثجحخ АБВГДЕЖ"
_TEXT = "".join(random.Random(0).choice(_LETTERS) for _ in range(400_000))


def answers_for(base: dict[str, Any], record_id: str, n: int) -> dict[str, Any]:
    """The answers of save ``n`` of a record: the base answers plus changing text.

    Sizes vary from a few bytes to about 200 KB so that the WAL grows, checkpoints run and
    a kill can land in the middle of writing many pages.
    """
    seed = int.from_bytes(hashlib.sha256(f"{record_id}:{n}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    name = rng.choice(SCRIPTS)
    size = rng.choice((10, 300, 2_000, 20_000, 200_000))
    start = rng.randrange(len(_TEXT) - size)
    answers = dict(base)
    answers[COUNTER] = n
    answers["family_name"] = f"{name} {n}"
    answers["given_names"] = f"Vorname{n % 97}"
    answers["housing_note"] = _TEXT[start : start + size]
    answers["address_street"] = f"Keupstraße {n % 300 + 1}"
    return answers


def base_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers without the parts :func:`answers_for` changes."""
    changed = {COUNTER, "family_name", "given_names", "housing_note", "address_street"}
    return {k: v for k, v in answers.items() if k not in changed}


def main(argv: list[str]) -> int:
    profile_dir, user, password, *record_ids = argv
    from intake_app.app import Workspace
    from intake_app.storage.profile import Profile

    ws = Workspace.sign_in(Profile(Path(profile_dir)), username=user, password=password)
    state = {}
    for record_id in record_ids:
        stored = ws.records.get(record_id).answers
        state[record_id] = (base_answers(stored), int(stored.get(COUNTER, 0)))
    print("ready", flush=True)
    while True:
        for record_id in record_ids:
            base, n = state[record_id]
            n += 1
            ws.records.save(record_id, answers=answers_for(base, record_id, n))
            state[record_id] = (base, n)
            print(f"saved {record_id} {n}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
