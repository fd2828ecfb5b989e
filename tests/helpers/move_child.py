"""A process that moves a case and kills itself (SIGKILL) at a chosen step of the move.

    python -m tests.helpers.move_child <profile> <user> <password> <record> <to> <point>

``point`` names where it dies: ``journal`` (journal written), ``copy_midway`` (inside the
copy's transaction, records and answers inserted, not committed), ``copy`` (copy
committed), ``delete`` (source rows deleted), ``audit`` (audit entry committed, journal not
yet removed). The steps themselves are the program's (storage/moves.py); only the moment
of death is added here.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from intake_app.app import Workspace
from intake_app.storage import moves
from intake_app.storage.profile import Profile


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _after(name: str) -> None:
    original = getattr(moves, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _die()
        return result

    setattr(moves, name, wrapped)


def main() -> int:
    root, user, password, record, to, point = sys.argv[1:7]
    if point == "journal":
        original_write = moves.MoveJournal.write

        def write(self: moves.MoveJournal, root: Path) -> None:
            original_write(self, root)
            _die()

        moves.MoveJournal.write = write  # type: ignore[method-assign]
    elif point == "copy_midway":
        original_columns = moves._columns

        def columns(conn: Any, schema: str, table: str) -> list[str]:
            if table == "outbox":  # records, answers and search entry are inserted
                _die()
            return original_columns(conn, schema, table)

        moves._columns = columns
    elif point == "copy":
        _after("copy_rows")
    elif point == "delete":
        _after("delete_rows")
    elif point == "audit":
        moves.remove_journal = lambda *_a, **_k: _die()
    else:
        raise SystemExit(f"unknown point {point}")
    ws = Workspace.sign_in(Profile(Path(root)), username=user, password=password)
    ws.move_case_to(record, to)
    print("moved without dying", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
