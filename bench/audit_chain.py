"""What naming its audit heads costs a sync: the chain from the entries' contents.

    .venv/bin/python bench/audit_chain.py [--entries 20000,100000] [--repeat 3]

Every batch names the hash now at each number the device's earlier batches named,
computed from the entries' contents from the start of the log (``storage/audit.py``,
``content_chain``; docs/security.md, "Signed audit entries and anchors"). This prints, in
one run on one profile whose audit log is grown to each size in turn: the time of that
walk, and beside it the time of the rest of what a sync does before anything leaves,
packing and sealing one batch of 50 finalised records (``Sync.prepare``, the walk
included), and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _office import ROOT_PASSPHRASE, office
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.central import db
from intake_app.central.keystore import RootKey
from intake_app.central.registry import enrol_device
from intake_app.core.audit import GENESIS_HASH, canonical_bytes, chain_hash
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage import audit
from intake_app.storage.models import AuditLogEntry, OutboxItem, SyncBatch
from intake_app.storage.profile import Profile
from intake_app.sync.identity import verify_key_set_document

PASSWORD = "Bench-Passwort-2026"
STAMP = "2026-12-07T10:00:00Z"


def grow(ws: Workspace, entries: int) -> None:
    """Append plain entries (as the program writes them, unsigned: the walk reads no
    signature) until the log holds ``entries``."""
    with ws.db.write() as session:
        last = session.scalars(
            select(AuditLogEntry).order_by(AuditLogEntry.seq.desc()).limit(1)
        ).first()
        seq, digest = (last.seq, last.hash) if last else (0, GENESIS_HASH)
        while seq < entries:
            seq += 1
            subject = f"{seq:036d}"
            canonical = canonical_bytes(
                seq=seq,
                ts=STAMP,
                actor="berater",
                action="record_read",
                subject_type="record",
                subject_id=subject,
                details={},
            )
            prev, digest = digest, chain_hash(digest, canonical)
            session.add(
                AuditLogEntry(
                    seq=seq,
                    ts=STAMP,
                    actor="berater",
                    action="record_read",
                    subject_type="record",
                    subject_id=subject,
                    details="{}",
                    prev_hash=prev,
                    hash=digest,
                )
            )


def walk(ws: Workspace, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        with ws.db.read() as session:
            started = time.perf_counter()
            audit.content_chain(session, range(1, 200))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def prepare(ws: Workspace, repeat: int) -> float:
    """One batch of 50 records packed and sealed, as ``Sync.prepare`` does; the batch is
    then put back so that the next round packs the same records again."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        ws.sync.prepare("folder")
        times.append(time.perf_counter() - started)
        with ws.db.write() as session:
            for batch in session.scalars(select(SyncBatch)).all():
                session.delete(batch)
            for item in session.scalars(select(OutboxItem)).all():
                item.state, item.batch_id = "pending", None
    return statistics.median(times)


def enrolled_counsellor(root: Path) -> Workspace:
    """A profile enrolled with an office, and its counsellor signed in."""
    home, _store, url = office(root / "office")
    profile = Profile(root / "profile")
    profile.create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
    ws = Workspace.sign_in(profile, username="admin", password=PASSWORD)
    try:
        ws.accounts.add_user(username="berater", role="counsellor", password=PASSWORD)
        engine = db.create_db_engine(url)
        root_key = RootKey(home.root_key_path).unlock(ROOT_PASSPHRASE)
        key_set = verify_key_set_document(
            home.key_set_path.read_bytes(), root=root_key.public_key()
        )
        out = root / "enrolment.json"
        enrol_device(
            engine,
            name="bench-laptop",
            server_url="http://127.0.0.1:9",
            key_set=key_set,
            root_key=root_key,
            out=out,
            valid_for=timedelta(days=1),
        )
        engine.dispose()
        data = out.read_bytes()
        ws.sync.enrol(data, expected_fingerprint=ws.sync.enrolment_fingerprint(data))
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="berater", password=PASSWORD)
    ws.accounts.set_own_password(PASSWORD)
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="20000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.entries.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        ws = enrolled_counsellor(Path(tmp))
        try:
            add_synthetic_intakes(ws, count=50, seed=1, complete_share=1.0)
            print("audit chain walk beside packing and sealing one batch of 50 records")
            print(f"  {'entries':>9}  {'walk':>9}  {'prepare':>9}  {'walk / prepare':>14}")
            for size in sizes:
                grow(ws, size)
                walked = walk(ws, args.repeat)
                prepared = prepare(ws, args.repeat)
                print(
                    f"  {size:>9,}  {walked * 1000:>7.0f} ms  {prepared * 1000:>7.0f} ms"
                    f"  {walked / prepared:>14.2f}"
                )
        finally:
            ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
