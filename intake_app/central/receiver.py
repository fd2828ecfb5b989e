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

It is stateless apart from the database (and, with SQLite, the batch folder): on
PostgreSQL the sealed batches are stored in the database, so several receivers on several
hosts can run behind one proxy sharing nothing else.

Other routes: ``GET /v1/health``, ``POST /v1/register`` (online device registration),
``GET /v1/keys`` (the office key set, signed by the root), ``GET /v1/forms`` and
``GET /v1/forms/{id}/{version}`` (published forms), ``GET /v1/receipts`` (import receipts
for the asking device, signed request header), ``GET /v1/handovers`` (hand-overs the
importer sealed for the asking device, signed request header).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import h11
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

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

from .db import batches, devices, handovers
from .forms import form_path, index_entries
from .home import Home
from .registry import get_device, register_device, utcnow
from .store import BatchStore, insert_blob

log = logging.getLogger("intake.central")

MAX_SMALL_BODY = 64 * 1024
_STATUS = {
    "timeout": 408,
    "length_required": 411,
    "busy": 503,
    "rate_limited": 429,
    "too_large": 413,
    "unknown_device": 403,
    "not_registered": 403,
    "revoked": 403,
    "bad_signature": 401,
    "device_key_mismatch": 401,
    "unsigned": 401,
    "replayed": 401,
    "device_auth_outdated": 401,
    "body_length_mismatch": 400,
    "body_digest_mismatch": 400,
    "batch_id_conflict": 409,
    "token_used": 409,
    "token_invalid": 403,
    "expired": 410,
    "storage": 503,
    "database": 503,
}


#: Refusals of a request whose header verified but which the device itself would not send
#: (a header used again, or with another body): counted against the client address.
_NOT_THE_DEVICE = frozenset({"replayed", "body_length_mismatch", "body_digest_mismatch"})


class Refusal(Exception):
    """A request the receiver refuses; ``reason`` goes to the client and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    """What one unauthenticated or slow client may take from a receiver process
    (docs/central-office.md, "Limits"). Requests over a limit get 408, 411, 429 or 503 and
    are cheap to refuse; devices retry 429 and 503 with back-off."""

    #: Seconds a client has to send the request line and headers.
    header_timeout: float = 10.0
    #: Seconds for a whole request body, and the longest pause between two of its pieces.
    body_timeout: float = 120.0
    body_idle_timeout: float = 20.0
    #: Connections and requests served at once (uvicorn answers 503 beyond).
    max_connections: int = 200
    #: Body bytes of requests without a valid device signature read at the same time.
    unauthenticated_bytes: int = 64 * 1024 * 1024
    #: Body bytes of all uploads, signed or not, read at the same time.
    body_bytes: int = 256 * 1024 * 1024
    #: Uploads of one signed device read at the same time.
    device_uploads: int = 2
    #: Batches one device may post: a burst, then this many per second.
    device_burst: int = 60
    device_rate: float = 2.0
    #: Refused requests without a verified device signature one client address may make:
    #: a burst, then this many per second (behind a proxy: all such clients together).
    client_failure_burst: int = 60
    client_failure_rate: float = 2.0
    #: Until when (Unix time) the old request header that names no body is honoured,
    #: for devices that were offline during the update; None: not at all. Outside it,
    #: such an upload is read like an unsigned one (docs/security.md, signed requests).
    old_device_auth_until: float | None = None
    #: Refusals are logged once per route, reason and client address in this many
    #: seconds, with the count (docs/central-office.md, "Limits").
    refusal_log_seconds: float = 60.0


class _Budget:
    """Body bytes reserved by unauthenticated requests being read (one event loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def reserve(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def release(self, size: int) -> None:
        self.used = max(0, self.used - size)


class _Nonces:
    """Nonces of signed request headers seen by this process while they are fresh: each
    header is honoured once (docs/security.md, signed requests)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self._seen: dict[str, float] = {}
        self._prune_at = 1024

    def use(self, checked: device_auth.CheckedHeader) -> bool:
        """Whether the header's nonce is new (it is remembered from now on)."""
        key = f"{checked.device_id}.{checked.nonce}"
        now = time.time()
        if len(self._seen) >= self._prune_at:
            self._seen = {k: until for k, until in self._seen.items() if until > now}
            self._prune_at = max(1024, 2 * len(self._seen))
        if key in self._seen or len(self._seen) >= self.limit:
            return False
        # past this moment the time stamp alone refuses the header
        self._seen[key] = checked.stamp + device_auth.MAX_SKEW_SECONDS + 1
        return True


class _RateLimiter:
    """A token bucket per device id."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._buckets: dict[str, tuple[float, float]] = {}

    def has_tokens(self, key: str) -> bool:
        """Whether ``key`` could spend now (spends nothing)."""
        tokens, last = self._buckets.get(key, (float(self.burst), time.monotonic()))
        return min(float(self.burst), tokens + (time.monotonic() - last) * self.rate) >= 1.0

    def allow(self, device_id: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(device_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[device_id] = (tokens, now)
            return False
        self._buckets[device_id] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # forget idle devices rather than grow without end
            self._buckets.clear()
        return True


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
    limits: Limits = field(default_factory=Limits)
    _key_cache: dict[str, tuple[ec.EllipticCurvePublicKey, float]] = field(default_factory=dict)
    _pem_keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)

    @property
    def known_office_keys(self) -> set[str]:
        return set(self.key_set.encryption_keys)

    # -- batches ---------------------------------------------------------------------------

    def accept_batch(
        self,
        data: bytes,
        *,
        signed_by: str | None = None,
        body_signed_with: ec.EllipticCurvePublicKey | None = None,
        allow: Callable[[str], bool] | None = None,
    ) -> bytes:
        """Verify and store one batch; return the (possibly earlier) stored receipt.

        ``signed_by`` is the device whose request signature was checked (its batch must be
        its own); ``body_signed_with`` the key that signed a request header naming these
        very bytes (length and SHA-384); ``allow`` is the rate limit for unsigned requests.
        """
        try:
            batch = parse_batch(data, max_size=self.max_batch_bytes)
        except BatchError as exc:
            raise Refusal(exc.reason) from None
        header = batch.header
        if signed_by is not None and header.device_id != signed_by:
            raise Refusal("device_key_mismatch")
        if header.office_key_id not in self.known_office_keys:
            raise Refusal("unknown_office_key")
        store = BatchStore(self.home, self.engine)
        # One connection for the checks and the write (one check-out from the pool); the
        # read transaction ends before the write begins, so SQLite never has to upgrade
        # a stale read snapshot.
        with self.engine.connect() as conn:
            device = get_device(conn, header.device_id)
            existing = conn.execute(
                sa.select(batches.c.sha384, batches.c.device_id, batches.c.stored_receipt).where(
                    batches.c.batch_id == header.batch_id
                )
            ).first()
            conn.rollback()
            if device is None:
                raise Refusal("unknown_device")
            if device.status == "revoked":
                raise Refusal("revoked")
            public = self._device_key(device.public_key_pem)
            if device.status != "active" or public is None:
                raise Refusal("not_registered")
            # A request header that the device's registered key signed over these very
            # bytes authenticates them as the batch signature would; the batch signature
            # is then left to the importer, which checks it in any case
            # (docs/security.md, signed requests). Anything else is checked here.
            if body_signed_with is None or body_signed_with is not public:
                try:
                    verify_signature(batch, public)
                except BatchError as exc:
                    raise Refusal(exc.reason) from None
            elif keys.signing_key_id(public) != header.device_key_id:
                raise Refusal("device_key_mismatch")
            # The device's rate is spent only once its signature verified: nobody without
            # its key can use up its budget (docs/central-office.md, "Limits").
            if allow is not None and not allow(header.device_id):
                raise Refusal("rate_limited")
            if existing is not None:
                return self._existing_receipt(existing, batch)
            if not store.in_database:
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
                with conn.begin():
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
                    if store.in_database:
                        # The sealed bytes commit with their row: stored means both or
                        # neither.
                        insert_blob(
                            conn, device_id=header.device_id, batch_id=header.batch_id, data=data
                        )
                    conn.execute(
                        devices.update()
                        .where(devices.c.device_id == header.device_id)
                        .values(last_batch_at=now)
                    )
            except IntegrityError:
                # Another receiver stored the same batch a moment ago: answer with its
                # receipt.
                existing = conn.execute(
                    sa.select(
                        batches.c.sha384, batches.c.device_id, batches.c.stored_receipt
                    ).where(batches.c.batch_id == header.batch_id)
                ).first()
                conn.rollback()
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

    def _device_key(self, pem: str | None) -> ec.EllipticCurvePublicKey | None:
        """The registered key from its PEM text, parsed once per process."""
        if pem is None:
            return None
        found = self._pem_keys.get(pem)
        if found is None:
            if len(self._pem_keys) > 10_000:
                self._pem_keys.clear()
            found = self._pem_keys[pem] = keys.public_key_from_pem(pem)
        return found

    def accepts_old_header(self) -> bool:
        """Whether the transition for the old request header (no body named) is on."""
        until = self.limits.old_device_auth_until
        return until is not None and time.time() < until

    def check_request(
        self, value: str | None, *, method: str, path: str, cached: bool = False
    ) -> tuple[device_auth.CheckedHeader | None, ec.EllipticCurvePublicKey | None]:
        """Check a request's ``Intake-Device-Auth`` header (signature and time; the nonce
        is the caller's); also return the key it verified with. ``cached``: the device key
        may be up to 30 s old (only for the check before an upload is read;
        ``accept_batch`` looks the device up again)."""
        lookup = self.cached_public_key_for if cached else self.public_key_for
        used: list[ec.EllipticCurvePublicKey | None] = [None]

        def public_key_for(device_id: str) -> ec.EllipticCurvePublicKey | None:
            used[0] = lookup(device_id)
            return used[0]

        checked = device_auth.check_header(
            value,
            method=method,
            path=path,
            public_key_for=public_key_for,
            accept_v1=self.accepts_old_header(),
        )
        return checked, used[0] if checked is not None else None

    def cached_public_key_for(self, device_id: str) -> ec.EllipticCurvePublicKey | None:
        """:meth:`public_key_for`, remembered for 30 s: only for the check before an
        upload is read (``accept_batch`` looks the device up again, so a revocation still
        takes effect at once)."""
        now = time.monotonic()
        found = self._key_cache.get(device_id)
        if found is not None and found[1] > now:
            return found[0]
        public = self.public_key_for(device_id)
        if public is not None:
            if len(self._key_cache) > 10_000:
                self._key_cache.clear()
            self._key_cache[device_id] = (public, now + 30.0)
        return public

    def public_key_for(self, device_id: str) -> ec.EllipticCurvePublicKey | None:
        with self.engine.connect() as conn:
            device = get_device(conn, device_id)
        if device is None or device.status != "active":
            return None
        return self._device_key(device.public_key_pem)

    def import_receipts(self, device_id: str) -> bytes:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(batches.c.import_receipt)
                .where(batches.c.device_id == device_id, batches.c.import_receipt.is_not(None))
                .order_by(batches.c.imported_at.desc())
                .limit(1000)
            ).all()
        return encode_blobs("receipts", [str(r.import_receipt).encode("utf-8") for r in rows])

    def sealed_handovers(self, device_id: str) -> bytes:
        """Hand-overs sealed for ``device_id`` (ciphertext the importer signed; the device
        takes each in once, by its id)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(handovers.c.document)
                .where(
                    handovers.c.to_device_id == device_id,
                    handovers.c.status == "sealed",
                    handovers.c.document.is_not(None),
                )
                .order_by(handovers.c.handover_id)
                .limit(1000)
            ).all()
        return encode_blobs("handovers", [str(r.document).encode("utf-8") for r in rows])


# -- HTTP plumbing -------------------------------------------------------------------------


class RefusalLog:
    """Refusals logged at a rate: per route, reason and client address, the first one of
    an interval at once (with the batch and device id when the body names them), every
    further one only counted, and one line with the count when the interval ends. A flood
    of refused requests thus writes a few lines a minute (docs/central-office.md,
    "Limits"). Beyond ``max_keys`` keys in one interval, further addresses are pooled
    under ``*``. Lines carry the reason, the route, the client address and ids, never a
    request's content.
    """

    def __init__(self, interval: float = 60.0, *, max_keys: int = 100) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._counts: dict[tuple[str, str, str], int] = {}
        self._ends = time.monotonic() + interval

    def note(self, route: str, reason: str, client: str, details: str = "") -> None:
        """One refusal (call from the event loop)."""
        if time.monotonic() >= self._ends:
            self.flush()
        key = (route, reason, client)
        if key not in self._counts and len(self._counts) >= self.max_keys:
            key = (route, reason, "*")
        more = self._counts.get(key)
        if more is None:
            self._counts[key] = 0
            log.warning(
                "refused %s: reason=%s client=%s%s",
                route,
                reason,
                key[2],
                details and " " + details,
            )
        else:
            self._counts[key] = more + 1

    def flush(self) -> None:
        """End the interval: one line per key that was refused more than once."""
        seconds = self.interval - max(0.0, self._ends - time.monotonic())
        for (route, reason, client), more in self._counts.items():
            if more:
                log.warning(
                    "refused %s: reason=%s client=%s: %d more in %.0f s",
                    route,
                    reason,
                    client,
                    more,
                    seconds,
                )
        self._counts.clear()
        self._ends = time.monotonic() + self.interval

    async def run(self) -> None:
        """Close each interval on time, also when no further refusal comes."""
        while True:
            await asyncio.sleep(max(0.01, self._ends - time.monotonic()))
            if time.monotonic() >= self._ends:
                self.flush()


class _InvalidRequests(logging.Filter):
    """uvicorn's line for every malformed HTTP request goes through the refusal log."""

    def __init__(self, refusals: RefusalLog) -> None:
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid HTTP request"):
            self.refusals.note("http", "invalid_request", "-")
            return False
        return True


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _refuse(
    reason: str,
    *,
    route: str,
    request: Request,
    refusals: RefusalLog,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    status = _STATUS.get(reason, 400)
    details = " ".join(f"{k}={v}" for k, v in (extra or {}).items())
    refusals.note(route, reason, _client(request), details)
    return JSONResponse({"error": reason}, status_code=status)


async def _read_body(
    request: Request,
    limit: int,
    limits: Limits,
    *,
    declared_only: bool = False,
    sha384: bytes | None = None,
) -> bytes:
    """The body, within ``limit`` bytes and the time limits.

    With ``declared_only`` the body must announce its length (411 otherwise); it is read
    into one buffer of that size, so a flood of uploads leaves no scattered pieces behind.
    With ``sha384`` (what the signed request header names) the digest is computed while
    the body streams in; another body is refused as ``body_digest_mismatch``.
    """
    hasher = hashlib.sha384() if sha384 is not None else None
    declared = request.headers.get("content-length")
    size: int | None = None
    if declared is not None:
        if not declared.isdigit():
            raise Refusal("malformed")
        size = int(declared)
        if size > limit:
            raise Refusal("too_large")
    elif declared_only:
        raise Refusal("length_required")
    buffer = bytearray(size) if size is not None else bytearray()
    filled = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_timeout
    pieces = request.stream().__aiter__()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise Refusal("timeout")
        try:
            # asyncio.timeout rather than wait_for: no extra task for every piece.
            async with asyncio.timeout(min(limits.body_idle_timeout, remaining)):
                chunk = await pieces.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise Refusal("timeout") from None
        if not chunk:
            continue
        if filled + len(chunk) > (size if size is not None else limit):
            raise Refusal("too_large" if size is None else "malformed")
        if size is not None:
            buffer[filled : filled + len(chunk)] = chunk
        else:
            buffer += chunk
        if hasher is not None:
            hasher.update(chunk)
        filled += len(chunk)
    if size is not None and filled != size:
        raise ClientDisconnect()
    if hasher is not None and sha384 is not None:
        if not hmac.compare_digest(hasher.digest(), sha384):
            raise Refusal("body_digest_mismatch")
    return bytes(buffer) if size is None else bytes(memoryview(buffer)[:filled])


def _peek_ids(data: bytes) -> dict[str, Any]:
    """Batch and device id for the refusal log, if the header can be read at all."""
    try:
        header = parse_batch(data, max_size=len(data) + 1).header
    except BatchError:
        return {}
    return {"device": header.device_id, "batch": header.batch_id}


def _return_freed_memory() -> None:
    """Make glibc serve large buffers from their own mappings, given back when freed.

    Its default threshold grows after the first large free, after which 8 MB bodies come
    from the heap and stay with the process after a flood (docs/central-office.md,
    "Limits"). Not glibc (or no ctypes): nothing to do.
    """
    try:
        name = ctypes.util.find_library("c")
        if name is None:
            return
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
        libc.mallopt(m_trim_threshold, 4 * 1024 * 1024)
    except (OSError, AttributeError):
        return


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

    _return_freed_memory()
    refusals = RefusalLog(receiver.limits.refusal_log_seconds)
    invalid_requests = _InvalidRequests(refusals)
    budget = _Budget(receiver.limits.unauthenticated_bytes)
    bodies = _Budget(receiver.limits.body_bytes)
    uploading: dict[str, int] = {}
    rates = _RateLimiter(receiver.limits.device_burst, receiver.limits.device_rate)
    # Refused requests without a verified device signature, per client address (not per
    # the device id they claim).
    failures = _RateLimiter(
        receiver.limits.client_failure_burst, receiver.limits.client_failure_rate
    )

    nonces = _Nonces()

    async def post_batch(request: Request) -> Response:
        data = b""
        reserved = body_reserved = 0
        device_id = counted = None
        body_sha384: bytes | None = None
        body_key: ec.EllipticCurvePublicKey | None = None
        client = _client(request)
        try:
            # A device that signs the request is known before its body is read; any
            # other upload counts against a shared budget of unauthenticated bytes.
            declared = request.headers.get("content-length", "")
            signed = request.headers.get(device_auth.HEADER)
            if signed:
                checked, header_key = await run_in_threadpool(
                    lambda: receiver.check_request(
                        signed, method="POST", path="/v1/batches", cached=True
                    )
                )
                if checked is not None and checked.version == 2:
                    # once per nonce, with the body it names (docs/security.md)
                    if not nonces.use(checked):
                        raise Refusal("replayed")
                    if declared != str(checked.length):
                        raise Refusal("body_length_mismatch")
                    body_sha384 = checked.sha384
                    body_key = header_key
                if checked is not None:
                    device_id = checked.device_id
                    if not rates.allow(device_id):
                        raise Refusal("rate_limited")
            if device_id is None and not failures.has_tokens(client):
                raise Refusal("rate_limited")
            if not declared.isdigit():
                raise Refusal("length_required")
            if int(declared) > receiver.max_batch_bytes:
                raise Refusal("too_large")
            if device_id is not None:
                # A signed device may read a few bodies at once, not as many as it likes.
                if uploading.get(device_id, 0) >= receiver.limits.device_uploads:
                    raise Refusal("busy")
                uploading[device_id] = uploading.get(device_id, 0) + 1
                counted = device_id
            else:
                # Unsigned or not verified (unknown, revoked or pending devices): the batch
                # itself tells why it is refused, read within the shared budget.
                if not budget.reserve(int(declared)):
                    raise Refusal("busy")
                reserved = int(declared)
            if not bodies.reserve(int(declared)):
                raise Refusal("busy")
            body_reserved = int(declared)
            data = await _read_body(
                request,
                receiver.max_batch_bytes,
                receiver.limits,
                declared_only=True,
                sha384=body_sha384,
            )
            bodies.release(body_reserved)
            body_reserved = 0
            if reserved:
                budget.release(reserved)
                reserved = 0
            receipt = await run_in_threadpool(
                receiver.accept_batch,
                data,
                signed_by=device_id,
                body_signed_with=body_key,
                allow=None if device_id else rates.allow,
            )
        except ClientDisconnect:
            # nothing stored
            refusals.note("batch", "cut_off", client)
            return Response(status_code=400)
        except Refusal as refusal:
            if (
                device_id is None and refusal.reason not in ("busy", "rate_limited")
            ) or refusal.reason in _NOT_THE_DEVICE:
                failures.allow(client)
            response = _refuse(
                refusal.reason,
                route="batch",
                request=request,
                refusals=refusals,
                extra=_peek_ids(data),
            )
            if refusal.reason in ("busy", "rate_limited"):
                response.headers["Retry-After"] = "5"
            return response
        except SQLAlchemyError:
            log.exception("database error while receiving a batch")
            return _refuse("database", route="batch", request=request, refusals=refusals)
        finally:
            if reserved:
                budget.release(reserved)
            if body_reserved:
                bodies.release(body_reserved)
            if counted is not None:
                uploading[counted] -= 1
                if not uploading[counted]:
                    del uploading[counted]
        return Response(receipt, media_type="application/json")

    async def post_register(request: Request) -> Response:
        try:
            data = await _read_body(request, MAX_SMALL_BODY, receiver.limits)
            confirmation = await run_in_threadpool(receiver.register, data)
        except ClientDisconnect:
            return Response(status_code=400)
        except Refusal as refusal:
            return _refuse(refusal.reason, route="register", request=request, refusals=refusals)
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

    async def signed_get(request: Request, path: str, route: str) -> str | Response:
        """The device a signed GET comes from, or the refusal to answer with."""
        checked, _key = await run_in_threadpool(
            lambda: receiver.check_request(
                request.headers.get(device_auth.HEADER), method="GET", path=path
            )
        )
        reason = None
        if checked is None:
            header = request.headers.get(device_auth.HEADER) or ""
            # the header of a device that has not been updated since the transition ended
            old = header.count(".") == 2 and not receiver.accepts_old_header()
            reason = "device_auth_outdated" if old else "bad_signature"
        elif checked.version == 2 and not nonces.use(checked):
            reason = "replayed"
        elif checked.version == 2 and (
            checked.length != 0 or checked.sha384 != device_auth.EMPTY_SHA384
        ):
            reason = "body_digest_mismatch"
        if checked is None or reason is not None:
            return _refuse(
                reason or "bad_signature", route=route, request=request, refusals=refusals
            )
        return checked.device_id

    async def get_receipts(request: Request) -> Response:
        device = await signed_get(request, "/v1/receipts", "receipts")
        if isinstance(device, Response):
            return device
        body = await run_in_threadpool(receiver.import_receipts, device)
        return Response(body, media_type="application/json")

    async def get_handovers(request: Request) -> Response:
        device = await signed_get(request, "/v1/handovers", "handovers")
        if isinstance(device, Response):
            return device
        body = await run_in_threadpool(receiver.sealed_handovers, device)
        return Response(body, media_type="application/json")

    routes = [
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/batches", post_batch, methods=["POST"]),
        Route("/v1/register", post_register, methods=["POST"]),
        Route("/v1/keys", get_keys, methods=["GET"]),
        Route("/v1/forms", get_forms, methods=["GET"]),
        Route("/v1/forms/{form_id}/{version}", get_form, methods=["GET"]),
        Route("/v1/receipts", get_receipts, methods=["GET"]),
        Route("/v1/handovers", get_handovers, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(invalid_requests)
        ticker = asyncio.get_running_loop().create_task(refusals.run())
        try:
            yield
        finally:
            ticker.cancel()
            uvicorn_log.removeFilter(invalid_requests)
            refusals.flush()

    return Starlette(routes=routes, lifespan=lifespan)


def load_receiver(
    home: Home,
    *,
    engine: Engine,
    receipt_key: ec.EllipticCurvePrivateKey,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    limits: Limits | None = None,
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
        limits=limits or Limits(),
    )


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a time limit for request lines and headers: a
    client that keeps a connection open without completing its headers is cut off after
    ``Limits.header_timeout`` seconds (a slow-header client cannot tie up connections)."""

    _header_timer: asyncio.TimerHandle | None = None

    def header_limit(self) -> float:
        """Seconds for the request line and headers (see :func:`guarded_protocol`)."""
        return Limits().header_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_limit(), self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state in (h11.IDLE, h11.DONE) and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state not in (h11.IDLE, h11.DONE):
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


def guarded_protocol(limits: Limits) -> type[GuardedH11Protocol]:
    """The protocol class for uvicorn (``http=``) with ``limits.header_timeout``."""
    seconds = limits.header_timeout

    class Guarded(GuardedH11Protocol):
        def header_limit(self) -> float:
            return seconds

    return Guarded
