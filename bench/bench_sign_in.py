"""Sign-in cost beyond Argon2id, for a supervisor who reads 20 counsellors' stores.

    .venv/bin/python bench/bench_sign_in.py [--counsellors 20] [--records 2000] [--repeat 5]

Prints, from one run, for each user (the supervisor with the site key, a counsellor, the
administrator): the median time of ``Workspace.sign_in``, of a bare Argon2id stretching
with the same parameters run just before it, and of the Argon2id stretching inside that
very sign-in (timed around the vault's call), and the sign-in beyond that stretching.
The last is the figure the budget (docs/security.md, "Device: keys and scopes") is about:
at most 0.3 s beyond Argon2id. On a shared machine the separate Argon2id run varies by
tenths of a second from one run to the next; the stretching inside the sign-in does not
have that noise.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from intake_app.app import Workspace
from intake_app.kdf import KdfParams
from intake_app.storage import vault as vault_module
from intake_app.storage.profile import Profile
from intake_app.storage.vault import _kdf

_inside: list[float] = []


def _timed_kdf(password: str, salt: bytes, params: KdfParams) -> bytes:
    start = time.perf_counter()
    try:
        return _kdf(password, salt, params)
    finally:
        _inside.append(time.perf_counter() - start)


vault_module._kdf = _timed_kdf  # the sign-in's own stretching, timed

PASSWORD = "Bench-Passwort-2026"
BUDGET = 0.3


def build(root: Path, counsellors: int, records: int) -> Profile:
    profile = Profile(root)
    recovery = profile.create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
    ws = Workspace.sign_in(profile, username="admin", password=PASSWORD)
    ws.accounts.add_user(username="leitung", role="supervisor", password=PASSWORD)
    names = [f"berater{i:02d}" for i in range(counsellors)]
    for name in names:
        ws.accounts.add_user(username=name, role="counsellor", password=PASSWORD)
    ws.close()
    per_store = records // max(1, counsellors)
    for name in ["leitung", *names]:
        ws = Workspace.sign_in(profile, username=name, password=PASSWORD)
        ws.accounts.set_own_password(PASSWORD)
        if name != "leitung":
            for _ in range(per_store):
                ws.new_intake()
        ws.close()
    ws = Workspace.recover(profile, recovery_key=recovery, username="admin", new_password=PASSWORD)
    ws.grant_site_key("leitung")
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=PASSWORD)  # key work done
    ws.close()
    return profile


def measure(profile: Profile, user: str, repeat: int) -> dict[str, float]:
    params = profile.vault().kdf_params(user)
    argon, total, inside = [], [], []
    stores = 0
    for _ in range(repeat):
        start = time.perf_counter()
        _kdf(PASSWORD, secrets.token_bytes(16), params)
        argon.append(time.perf_counter() - start)
        _inside.clear()
        start = time.perf_counter()
        ws = Workspace.sign_in(profile, username=user, password=PASSWORD)
        total.append(time.perf_counter() - start)
        inside.append(sum(_inside))
        stores = len(ws.scope.stores)
        ws.close()
    med = statistics.median
    return {
        "total": med(total),
        "argon": med(argon),
        "inside": med(inside),
        "beyond_separate": med([t - a for t, a in zip(total, argon, strict=True)]),
        "beyond": med([t - a for t, a in zip(total, inside, strict=True)]),
        "stores": stores,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counsellors", type=int, default=20)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="intake-bench-signin-") as tmp:
        profile = build(Path(tmp) / "profile", args.counsellors, args.records)
        print(
            f"sign-in, median of {args.repeat} (seconds); {args.counsellors} counsellors' "
            f"stores, {args.records:,} records"
        )
        worst = 0.0
        for user in ("leitung", "berater00", "admin"):
            m = measure(profile, user, args.repeat)
            worst = max(worst, m["beyond"])
            print(
                f"  {user:10s} {int(m['stores']):3d} store(s)  sign-in {m['total']:6.3f}  "
                f"Argon2id inside {m['inside']:6.3f} (alone {m['argon']:6.3f})  "
                f"beyond Argon2id +{m['beyond']:.3f} ({m['beyond'] / m['inside']:.2f}x "
                f"Argon2id; against the separate run +{m['beyond_separate']:.3f})"
            )
        verdict = "inside" if worst <= BUDGET else "OVER"
        print(f"  budget +{BUDGET:.1f} s beyond Argon2id: {verdict} (worst +{worst:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
