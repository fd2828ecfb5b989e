"""Coverage-guided fuzzing of one target with atheris (libFuzzer), in its own process.

    python -m tests.torture.helpers.fuzz_atheris batch|form|expression RUNS WORKDIR

The ``intake_app`` modules are instrumented for coverage; the corpus starts from the
target's seeds (genuine batches and payloads, the seed forms, the expressions of the
shipped form) in ``WORKDIR/corpus``. After RUNS inputs it prints one JSON line
``{"runs": N, "outcomes": {...}}`` and exits 0. Any exception other than the target's
typed error is a crash: libFuzzer prints the traceback, writes the input to
``WORKDIR/crash-*`` and exits non-zero.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["intake_app"]):
    import intake_app.core.forms
    import intake_app.sync.batch  # noqa: F401
    from tests.torture.helpers import fuzz_targets


def _batch() -> tuple[Callable[[bytes], str], list[bytes]]:
    target = fuzz_targets.BatchTarget()

    def one(data: bytes) -> str:
        if not data:
            return "empty"
        if data[0] == 0:  # a plaintext to seal correctly around
            plain = data[1:]
            return target.check_sealed(plain, header=target.manifest_for(plain))
        if data[0] == 1:  # the same, uncompressed and without a matching manifest
            return target.check_sealed(data[1:], compression="none")
        return target.check_bytes(data[1:])

    seeds = [b"\x02" + s for s in target.seeds] + [b"\x00" + p for p in target.payload_seeds]
    return one, seeds


def _form() -> tuple[Callable[[bytes], str], list[bytes]]:
    return fuzz_targets.form_target, [f.encode("utf-8") for f in fuzz_targets.SEED_FORMS]


def _expression() -> tuple[Callable[[bytes], str], list[bytes]]:
    target = fuzz_targets.ExpressionTarget()
    answers: list[dict[str, object]] = [{}, {"has_children": True, "household_size": "x"}]

    def one(data: bytes) -> str:
        if len(data) < 2:
            return "empty"
        where, flags = data[0] % 9, data[1]
        source = data[2:].decode("utf-8", "replace")
        return target.check(
            source, answers[flags % len(answers)], where=where, condition=bool(flags & 2)
        )

    seeds = [bytes([0, 2]) + s.encode("utf-8") for s in target.seeds]
    seeds += [bytes([1, 0]) + s.encode("utf-8") for s in target.seeds[:20]]
    return one, seeds


def main(argv: list[str]) -> int:
    name, runs, workdir = argv[0], int(argv[1]), Path(argv[2])
    one, seeds = {"batch": _batch, "form": _form, "expression": _expression}[name]()
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    outcomes: Counter[str] = Counter()

    def test_one_input(data: bytes) -> None:
        outcomes[one(data)] += 1
        if sum(outcomes.values()) >= runs:
            print(json.dumps({"runs": runs, "outcomes": dict(outcomes)}), flush=True)
            os._exit(0)

    atheris.Setup(
        [
            sys.argv[0],
            f"-runs={runs * 2}",
            "-seed=1",
            "-max_len=65536",
            "-rss_limit_mb=4096",
            "-timeout=120",
            f"-artifact_prefix={workdir}/",
            str(corpus),
        ],
        test_one_input,
    )
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
