"""The central receiver: an ASGI app (starlette) that takes sealed batches over HTTP.

For every ``POST /v1/batches`` it checks the size, the structure, that the device is
registered and not revoked, that the batch is sealed to an office key, and the device
signature; then it stores the sealed bytes durably (write, fsync, link) and answers with a
``stored`` receipt signed by its receipt key. The same batch again gets the same receipt
(kept in the database). Refusals carry ``{"error": reason}`` and are logged with the
reason, device id and batch id only. The receiver holds one secret, its receipt key
(``receiver-key.json``, under its own passphrase), certified by the office's root key; it
holds no decryption key and cannot sign a key set, a form or an enrolment file
(docs/security.md, "Central office: keys, receiver and importer"). It hands devices the
key set that the root signed (``keyset.json``) as it is.

It is stateless apart from the database and the batch folder, so several can run behind
a proxy sharing both.

Other routes: ``GET /v1/health``, ``POST /v1/register`` (online device registration),
``GET /v1/keys`` (the office key set, signed by the root), ``GET /v1/forms`` and
``GET /v1/forms/{id}/{version}`` (published forms), ``GET /v1/receipts`` (import receipts
for the asking device, signed request header).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from intake_app import __version__
from intake_app.errors import ConflictError, KnownError, ProfileError
from intake_app.i18n import _
from intake_app.sync import device_auth, keys
from intake_app.sync.batch import MAX_BATCH_BYTES, SealedBatch, parse_batch, verify_signature
from intake_app.sync.enrolment import build_confirmation, read_registration
from intake_app.sync.errors import BatchError, EnrolmentError, SignatureError
from intake_app.sync.identity import OfficeKeySet, verify_key_set_document
from intake_app.sync.published_forms import build_form_index, is_safe_name
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt
from intake_app.sync.transport_http import encode_blobs

from .db import batches, devices
from .forms import form_path, index_entries
from .home import Home
from .registry import get_device, register_device, utcnow
from .store import BatchStore

log = logging.getLogger("intake.central")

MAX_SMALL_BODY = 64 * 1024
_STATUS = {
    "too_large": 413,
    "unknown_device": 403,
    "not_registered": 403,
    "revoked": 403,
    "bad_signature": 401,
    "device_key_mismatch": 401,
    "unsigned": 401,
    "batch_id_conflict": 409,
    "token_used": 409,
    "token_invalid": 403,
    "expired": 410,
    "storage": 503,
    "database": 503,
}


class Refusal(Exception):
    """A request the receiver refuses; ``reason`` goes to the client and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Receiver:
    """Everything the routes need, built once by :func:`create_app`."""

    home: Home
    engine: Engine
    signing_key: ec.EllipticCurvePrivateKey
    key_set: OfficeKeySet
    key_set_document: bytes
    root_public: dict[str, ec.EllipticCurvePublicKey]
    max_batch_bytes: int = MAX_BATCH_BYTES

    @property
    def known_office_keys(self) -> set[str]:
        return set(self.key_set.encryption_keys)

    # -- batches ---------------------------------------------------------------------------

    def accept_batch(self, data: bytes) -> bytes:
        """Verify and store one batch; return the (possibly earlier) stored receipt."""
        try:
            batch = parse_batch(data, max_size=self.max_batch_bytes)
        except BatchError as exc:
            raise Refusal(exc.reason) from None
        header = batch.header
        if header.office_key_id not in self.known_office_keys:
            raise Refusal("unknown_office_key")
        with self.engine.connect() as conn:
            device = get_device(conn, header.device_id)
            existing = conn.execute(
                sa.select(batches.c.sha384, batches.c.device_id, batches.c.stored_receipt).where(
                    batches.c.batch_id == header.batch_id
                )
            ).first()
        if device is None:
            raise Refusal("unknown_device")
        if device.status == "revoked":
            raise Refusal("revoked")
        public = device.public_key()
        if device.status != "active" or public is None:
            raise Refusal("not_registered")
        try:
            verify_signature(batch, public)
        except BatchError as exc:
            raise Refusal(exc.reason) from None
        if existing is not None:
            return self._existing_receipt(existing, batch)
        store = BatchStore(self.home)
        try:
            store.store(device_id=header.device_id, batch_id=header.batch_id, data=data)
        except ConflictError:
            raise Refusal("batch_id_conflict") from None
        except (OSError, KnownError):
            log.exception("could not store a batch")
            raise Refusal("storage") from None
        receipt = build_receipt(
            status=ReceiptStatus.STORED,
            batch_id=header.batch_id,
            device_id=header.device_id,
            batch_sha384=batch.sha384,
            records=[(ref, ItemResult.RECEIVED) for ref in header.records],
            instructions=[(ref, ItemResult.RECEIVED) for ref in header.instructions],
            signing_key=self.signing_key,
        )
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    batches.insert().values(
                        batch_id=header.batch_id,
                        device_id=header.device_id,
                        sha384=batch.sha384,
                        size=batch.size,
                        source="http",
                        status="stored",
                        received_at=now,
                        stored_receipt=receipt.decode("utf-8"),
                    )
                )
                conn.execute(
                    devices.update()
                    .where(devices.c.device_id == header.device_id)
                    .values(last_batch_at=now)
                )
        except IntegrityError:
            # Another receiver stored the same batch a moment ago: answer with its receipt.
            with self.engine.connect() as conn:
                existing = conn.execute(
                    sa.select(
                        batches.c.sha384, batches.c.device_id, batches.c.stored_receipt
                    ).where(batches.c.batch_id == header.batch_id)
                ).first()
            if existing is None:
                raise Refusal("database") from None
            return self._existing_receipt(existing, batch)
        log.info(
            "batch stored: device=%s batch=%s records=%d size=%d",
            header.device_id,
            header.batch_id,
            header.record_count,
            batch.size,
        )
        return receipt

    def _existing_receipt(self, row: sa.Row, batch: SealedBatch) -> bytes:
        if row.sha384 != batch.sha384 or row.device_id != batch.header.device_id:
            raise Refusal("batch_id_conflict")
        if row.stored_receipt is None:
            # It came in through a folder first: make the stored receipt once and keep it,
            # so every later resend gets exactly these bytes.
            receipt = build_receipt(
                status=ReceiptStatus.STORED,
                batch_id=batch.header.batch_id,
                device_id=batch.header.device_id,
                batch_sha384=batch.sha384,
                records=[(ref, ItemResult.RECEIVED) for ref in batch.header.records],
                instructions=[(ref, ItemResult.RECEIVED) for ref in batch.header.instructions],
                signing_key=self.signing_key,
            )
            with self.engine.begin() as conn:
                conn.execute(
                    batches.update()
                    .where(
                        batches.c.batch_id == batch.header.batch_id,
                        batches.c.stored_receipt.is_(None),
                    )
                    .values(stored_receipt=receipt.decode("utf-8"))
                )
                kept = conn.execute(
                    sa.select(batches.c.stored_receipt).where(
                        batches.c.batch_id == batch.header.batch_id
                    )
                ).scalar_one()
            return str(kept).encode("utf-8")
        log.info("batch sent again, same receipt: batch=%s", batch.header.batch_id)
        return str(row.stored_receipt).encode("utf-8")

    # -- registration, keys, forms, receipts -----------------------------------------------

    def register(self, data: bytes) -> bytes:
        try:
            registration = read_registration(data)
            register_device(self.engine, registration)
        except EnrolmentError as exc:
            raise Refusal(exc.reason) from None
        return build_confirmation(registration, signing_key=self.signing_key)

    def key_documents(self) -> bytes:
        """The key set as the root signed it (the receiver cannot sign one)."""
        return encode_blobs("documents", [self.key_set_document])

    def form_index(self) -> bytes:
        return build_form_index(
            index_entries(self.home, trusted=self.root_public), signing_key=self.signing_key
        )

    def public_key_for(self, device_id: str) -> ec.EllipticCurvePublicKey | None:
        with self.engine.connect() as conn:
            device = get_device(conn, device_id)
        if device is None or device.status != "active":
            return None
        return device.public_key()

    def import_receipts(self, device_id: str) -> bytes:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(batches.c.import_receipt)
                .where(batches.c.device_id == device_id, batches.c.import_receipt.is_not(None))
                .order_by(batches.c.imported_at.desc())
                .limit(1000)
            ).all()
        return encode_blobs("receipts", [str(r.import_receipt).encode("utf-8") for r in rows])


# -- HTTP plumbing -------------------------------------------------------------------------


def _refuse(reason: str, *, route: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    status = _STATUS.get(reason, 400)
    details = " ".join(f"{k}={v}" for k, v in (extra or {}).items())
    log.warning("refused %s: reason=%s %s", route, reason, details)
    return JSONResponse({"error": reason}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refusal("malformed")
        if int(declared) > limit:
            raise Refusal("too_large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal("too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _peek_ids(data: bytes) -> dict[str, Any]:
    """Batch and device id for the refusal log, if the header can be read at all."""
    try:
        header = parse_batch(data, max_size=len(data) + 1).header
    except BatchError:
        return {}
    return {"device": header.device_id, "batch": header.batch_id}


def create_app(receiver: Receiver) -> Starlette:
    """The ASGI app around ``receiver`` (serve it with uvicorn)."""

    async def health(request: Request) -> Response:
        def check() -> bool:
            try:
                with receiver.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return True
            except SQLAlchemyError:
                return False

        ok = await run_in_threadpool(check)
        body = {"status": "ok" if ok else "degraded", "version": __version__, "batch_format": 1}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def post_batch(request: Request) -> Response:
        data = b""
        try:
            data = await _read_body(request, receiver.max_batch_bytes)
            receipt = await run_in_threadpool(receiver.accept_batch, data)
        except ClientDisconnect:
            log.warning("upload cut off by the client; nothing stored")
            return Response(status_code=400)
        except Refusal as refusal:
            return _refuse(refusal.reason, route="batch", extra=_peek_ids(data))
        except SQLAlchemyError:
            log.exception("database error while receiving a batch")
            return _refuse("database", route="batch")
        return Response(receipt, media_type="application/json")

    async def post_register(request: Request) -> Response:
        try:
            data = await _read_body(request, MAX_SMALL_BODY)
            confirmation = await run_in_threadpool(receiver.register, data)
        except ClientDisconnect:
            return Response(status_code=400)
        except Refusal as refusal:
            return _refuse(refusal.reason, route="register")
        return Response(confirmation, media_type="application/json")

    async def get_keys(request: Request) -> Response:
        body = await run_in_threadpool(receiver.key_documents)
        return Response(body, media_type="application/json")

    async def get_forms(request: Request) -> Response:
        body = await run_in_threadpool(receiver.form_index)
        return Response(body, media_type="application/json")

    async def get_form(request: Request) -> Response:
        form_id = request.path_params["form_id"]
        version = request.path_params["version"]
        if not (is_safe_name(form_id) and is_safe_name(version)):
            return JSONResponse({"error": "not_found"}, status_code=404)
        path = form_path(receiver.home, form_id, version)
        try:
            data = await run_in_threadpool(path.read_bytes)
        except OSError:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return Response(data, media_type="application/json")

    async def get_receipts(request: Request) -> Response:
        device_id = await run_in_threadpool(
            lambda: device_auth.check_header(
                request.headers.get(device_auth.HEADER),
                method="GET",
                path="/v1/receipts",
                public_key_for=receiver.public_key_for,
            )
        )
        if device_id is None:
            return _refuse("bad_signature", route="receipts")
        body = await run_in_threadpool(receiver.import_receipts, device_id)
        return Response(body, media_type="application/json")

    routes = [
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/batches", post_batch, methods=["POST"]),
        Route("/v1/register", post_register, methods=["POST"]),
        Route("/v1/keys", get_keys, methods=["GET"]),
        Route("/v1/forms", get_forms, methods=["GET"]),
        Route("/v1/forms/{form_id}/{version}", get_form, methods=["GET"]),
        Route("/v1/receipts", get_receipts, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def load_receiver(
    home: Home,
    *,
    engine: Engine,
    receipt_key: ec.EllipticCurvePrivateKey,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> Receiver:
    """Build the receiver from its unlocked receipt key and the root-signed key set.

    Raises:
        ProfileError: ``keyset.json`` or ``root-public.pem`` is missing or damaged.
    """
    try:
        document = home.key_set_path.read_bytes()
        root = keys.public_key_from_pem(home.root_public_path.read_bytes())
        root_public = {keys.signing_key_id(root): root}
        key_set = verify_key_set_document(document, root=root)
    except (OSError, ValueError, SignatureError):
        raise ProfileError(
            _(
                "Der Schlüsselsatz der Zentrale (keyset.json, root-public.pem) fehlt oder ist "
                "nicht gültig. Veröffentlichen Sie ihn mit »intake-central keys publish«."
            ),
            kind="corrupt",
        ) from None
    if keys.signing_key_id(receipt_key.public_key()) not in key_set.signing_keys:
        raise ProfileError(
            _(
                "Der Schlüssel dieses Empfangsservers steht nicht im Schlüsselsatz der "
                "Zentrale (gesperrt oder noch nicht veröffentlicht)."
            ),
            kind="receiver_keys",
        )
    return Receiver(
        home=home,
        engine=engine,
        signing_key=receipt_key,
        key_set=key_set,
        key_set_document=document,
        root_public=root_public,
        max_batch_bytes=max_batch_bytes,
    )
