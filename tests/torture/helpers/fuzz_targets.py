"""The three fuzz targets and their seeds, shared by the hypothesis tests and atheris.

Each target takes one input and lets only its typed error through as "refused":

* :class:`BatchTarget` — the batch reader (``parse_batch``, ``BuiltBatch.from_bytes``,
  ``verify_signature``, ``open_batch``): only :class:`BatchError`. Inputs that parse are
  re-signed with the device key, so that mutated headers, recipients and ciphertexts reach
  decryption; structured inputs (``check_sealed``) are correctly sealed and signed around
  an arbitrary header and plaintext, so that the payload checks are reached too.
* :func:`form_target` — the form loader on an in-memory file (the way a form published by
  the office is loaded): only :class:`FormLoadError`.
* :class:`ExpressionTarget` — parse, check (in the scope of the shipped intake form, at
  the top level or inside a repeat group) and evaluate (with the engine's environment over
  generated answers, without the evaluator's safety net): only :class:`ExpressionError`.

Any other exception escapes: that is the finding.
"""

from __future__ import annotations

import secrets
import struct
import uuid
import zlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intake_app.core.forms import ExpressionError, Form, FormLoadError, load_form
from intake_app.core.forms.engine import _Run
from intake_app.core.forms.expressions import compile_expression
from intake_app.core.forms.linking import FormScope
from intake_app.core.forms.registry import load_shipped_forms
from intake_app.device_sync.device import MemoryFormSource
from intake_app.sync import keys
from intake_app.sync.batch import (
    FORMAT_VERSION,
    BuiltBatch,
    build_batch,
    open_batch,
    parse_batch,
    utc_timestamp,
    verify_signature,
)
from intake_app.sync.errors import BatchError
from intake_app.sync.signed import canonical_json
from tests.torture.helpers.forge import resign
from tests.unit.sync.factories import erasure, make_identity, make_office, make_payload, withdrawal

# -- batches -----------------------------------------------------------------------------


class BatchTarget:
    """One office and one device, with genuine batches as seeds."""

    def __init__(self) -> None:
        self.office = make_office(recovery=True)
        self.identity = make_identity(self.office)
        self.device_key = self.identity.signing_key()
        self.public = self.device_key.public_key()
        self.private = {**self.office.encryption}
        self.seeds = [
            build_batch(make_payload(n, seed=n), identity=self.identity).data for n in (0, 1, 3)
        ]
        rid = str(uuid.uuid4())
        self.seeds.append(
            build_batch(
                make_payload(1, instructions=[erasure(rid), withdrawal(rid)]),
                identity=self.identity,
                compression="none",
            ).data
        )
        self.payload_seeds = [canonical_json(make_payload(n, seed=n)) for n in (0, 1, 2)]

    def check_bytes(self, data: bytes) -> str:
        """Read arbitrary bytes as a batch; return the outcome (a reason or ``opened``)."""
        try:
            sealed = parse_batch(data)
        except BatchError as error:
            return error.reason
        BuiltBatch.from_bytes(data)
        try:
            verify_signature(sealed, self.public)
        except BatchError:
            sealed = parse_batch(resign(data, self.device_key))
            try:
                verify_signature(sealed, self.public)
            except BatchError as error:
                return error.reason
        try:
            open_batch(sealed, self.private)
        except BatchError as error:
            return error.reason
        return "opened"

    def seal(
        self,
        plain: bytes,
        *,
        header: dict[str, Any] | None = None,
        compression: str = "zlib",
        body: bytes | None = None,
    ) -> bytes:
        """A correctly sealed and signed batch around any header fields and plaintext.

        ``body`` replaces the (compressed) plaintext as encrypted, e.g. a broken zlib stream.
        """
        fields: dict[str, Any] = {
            "format": "intake-batch",
            "version": 1,
            "batch_id": str(uuid.uuid4()),
            "device_id": self.identity.device_id,
            "device_key_id": self.identity.key_id,
            "office_key_id": self.identity.current_office_key_id,
            "recovery_key_id": self.identity.recovery_public_key.key_id  # type: ignore[union-attr]
            if self.identity.recovery_public_key
            else None,
            "created": utc_timestamp(),
            "record_count": 0,
            "instruction_count": 0,
            "compression": compression,
            "payload_length": len(plain),
            "records": [],
            "instructions": [],
        }
        fields.update(header or {})
        header_bytes = canonical_json(fields)
        if body is None:
            body = zlib.compress(plain) if compression == "zlib" else plain
        content_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(content_key).encrypt(nonce, body, header_bytes)
        targets = [self.identity.office_key()]
        if self.identity.recovery_public_key:
            targets.append(self.identity.recovery_public_key)
        parts = [
            struct.pack(">8sHI", b"INTAKEB\x00", FORMAT_VERSION, len(header_bytes)),
            header_bytes,
        ]
        parts.append(bytes([len(targets)]))
        for target in targets:
            sealed = keys.SUITE.encrypt(content_key, target.to_hpke(), info=header_bytes)
            parts += [bytes.fromhex(target.key_id), struct.pack(">H", len(sealed)), sealed]
        parts += [nonce, struct.pack(">I", len(ciphertext)), ciphertext]
        signed = b"".join(parts)
        return signed + keys.sign(self.device_key, signed)

    def check_sealed(self, plain: bytes, **kwargs: Any) -> str:
        """Seal ``plain`` (with header overrides) and read it back."""
        try:
            data = self.seal(plain, **kwargs)
        except (ValueError, TypeError, OverflowError):
            return "unbuildable"  # the header overrides are not JSON: nothing to send
        return self.check_bytes(data)

    def manifest_for(self, plain: bytes) -> dict[str, Any]:
        """Header fields that match the records a plaintext names (if it names any)."""
        import json

        try:
            payload = json.loads(plain)
            records = [[r["id"], r["revision"]] for r in payload["records"]]
            instructions = [
                [i["type"], i["record_id"], i.get("purpose", "") if i["type"] != "erasure" else ""]
                for i in payload["instructions"]
            ]
        except Exception:
            return {}
        return {
            "records": records,
            "record_count": len(records),
            "instructions": instructions,
            "instruction_count": len(instructions),
        }


# -- forms -------------------------------------------------------------------------------

SEED_FORMS = [
    """\
form: fuzz
version: "1.0"
title: {de: Test, en: Test}
sections:
  - id: person
    label: {de: Person, en: Person}
    questions:
      - id: family_name
        type: text
        label: {de: Familienname, en: Family name}
        required: true
      - id: birth_date
        type: date
        label: {de: Geburtsdatum, en: Date of birth}
        constraint: "age(.) >= 14"
        constraint_message: {de: zu jung, en: too young}
      - id: has_children
        type: yes_no
        label: {de: Kinder, en: Children}
      - id: children
        type: integer
        label: {de: Anzahl, en: Number}
        relevant: has_children
        min: 1
        max: 20
""",
    """\
form: fuzz
version: "1.1"
title: {de: Test, en: Test}
previous_version: "1.0"
changes:
  - {rename: family_name, to: surname}
value_sets:
  levels:
    choices:
      - {value: a1, label: {de: A1, en: A1}, tags: [low]}
      - {value: b2, label: {de: B2, en: B2}, tags: [high]}
sections:
  - id: language
    label: {de: Sprache, en: Language}
    relevant: "true"
    questions:
      - id: surname
        type: text
        label: {de: Name, en: Name}
      - id: level
        type: choice
        choices: levels
        choice_filter: "'low' in choice_tags or answered(surname)"
        label: {de: Niveau, en: Level}
      - id: jobs
        type: repeat
        label: {de: Stellen, en: Jobs}
        max: 5
        questions:
          - id: years
            type: integer
            label: {de: Jahre, en: Years}
          - id: title
            type: text
            label: {de: Titel, en: Title}
            required: "years > 2"
      - id: total_years
        type: integer
        label: {de: Summe, en: Sum}
        calculate: "sum(jobs, years)"
""",
]


def form_target(data: bytes) -> str:
    """Load arbitrary bytes as a form file; return ``loaded`` or ``refused``."""
    try:
        load_form(MemoryFormSource("fuzz.yaml", data).as_source())
    except FormLoadError as error:
        assert error.issues, "a FormLoadError names at least one problem"
        return "refused"
    return "loaded"


# -- expressions -------------------------------------------------------------------------


class ExpressionTarget:
    """Expressions in the scope of the shipped intake form, evaluated by the engine."""

    def __init__(self) -> None:
        self.form: Form = load_shipped_forms().get("intake", "2026.1")
        self.ids = [q.id for q in self.form]
        self.groups = [q for q in self.form if q.type.value == "repeat" and not q.repeat_chain]
        self.seeds = sorted(set(self._sources()))

    def _sources(self) -> Iterator[str]:
        for question in self.form:
            for compiled in (
                question.relevant,
                question.required_if,
                question.calculate,
                question.choice_filter,
            ):
                if compiled is not None:
                    yield str(compiled.source)
            for constraint in question.constraints:
                yield str(constraint.expression.source)
        for section in self.form.sections:
            if section.relevant is not None:
                yield str(section.relevant.source)

    def check(
        self, source: str, answers: dict[str, Any], *, where: int = 0, condition: bool = False
    ) -> str:
        """Compile ``source`` at place ``where`` (0: top level, else a repeat group) and
        evaluate it over ``answers``; return ``refused``, ``value`` or ``error``."""
        owner = None
        chain: tuple[str, ...] = ()
        context: tuple[int, ...] = ()
        if where and self.groups:
            group = self.groups[where % len(self.groups)]
            owner = next((q for q in self.form if q.repeat_chain == (group.id,)), None)
            chain = (group.id,)
            context = (0,)
        scope = FormScope(self.form, owner, chain, self_allowed=owner is not None)
        try:
            compiled = compile_expression(source, scope, condition=condition)
        except ExpressionError:
            return "refused"
        run = _Run(
            self.form,
            answers,
            today=date(2026, 3, 2),
            lang="de",
            purposes=None,
            languages=("de", "en"),
        )
        try:
            if condition:
                run.evaluator.condition(compiled.tree, context)
            else:
                run.evaluator.eval(compiled.tree, context)
        except ExpressionError:
            return "error"
        return "value"
