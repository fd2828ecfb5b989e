"""HTTP(S) transport: send batches to the central receiver, fetch keys, forms and receipts.

One :class:`SyncClient` per sync run. Every request has connect/read/write timeouts;
network errors and 5xx answers are retried with exponential back-off and jitter
(``tenacity``), 4xx answers are not. Uploads report progress per chunk and stop as soon
as the cancel :class:`threading.Event` is set (also during a back-off pause). A batch
counts as delivered only when the answer is a receipt signed by a trusted office key that
names this device, this batch id and these exact bytes; an upload cut off halfway leaves
nothing at the office (it stores only complete, verified batches) and the caller's outbox
as it was, so sending the same bytes again is always safe.

Every failure leaves as :class:`~intake_app.errors.SyncError` with a ``kind`` the UI can
react to.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from intake_app.errors import SyncError, SyncErrorKind
from intake_app.i18n import _
from intake_app.sync import device_auth
from intake_app.sync.batch import BuiltBatch
from intake_app.sync.enrolment import verify_confirmation
from intake_app.sync.errors import EnrolmentError, ReceiptError, SignatureError
from intake_app.sync.identity import DeviceIdentity, verify_key_set_document
from intake_app.sync.published_forms import (
    PublishedForm,
    verify_form_index,
    verify_published_form,
)
from intake_app.sync.receipt import Receipt, verify_receipt
from intake_app.sync.signed import strict_json_loads

log = logging.getLogger("intake.sync")

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent so far, bytes to send in total)."""

BATCH_CONTENT_TYPE = "application/vnd.intake.batch"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Timeouts (seconds), retry policy and TLS verification for one client."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    write_timeout: float = 60.0
    pool_timeout: float = 10.0
    attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    chunk_size: int = 64 * 1024
    verify: bool | str = True


class _Cancelled(Exception):
    """The user pressed cancel."""


class _ServerError(Exception):
    """A 5xx answer: the office is there but cannot take the request right now."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _ServerError | httpx.TransportError)


def _refusal_reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return "unknown"
    reason = data.get("error") if isinstance(data, dict) else None
    return reason if isinstance(reason, str) else "unknown"


# Refusals that concern one batch only (not the device, not the connection).
BATCH_REFUSALS = frozenset({"too_large", "batch_id_conflict", "malformed"})


def _refused(response: httpx.Response) -> SyncError:
    """Map a 4xx answer to a SyncError kind and a plain sentence."""
    reason = _refusal_reason(response)
    status = response.status_code
    if status == 401:
        return SyncError(
            _("Die Zentrale erkennt die Signatur dieses Geräts nicht an ({reason}).").format(
                reason=reason
            ),
            kind=SyncErrorKind.AUTH,
        )
    if status in (403, 410) or reason in ("unknown_device", "revoked", "not_registered"):
        return SyncError(
            _("Dieses Gerät ist bei der Zentrale nicht (mehr) registriert ({reason}).").format(
                reason=reason
            ),
            kind=SyncErrorKind.NOT_ENROLLED,
        )
    return SyncError(
        _("Die Zentrale hat die Sendung abgelehnt ({reason}).").format(reason=reason),
        kind=SyncErrorKind.REJECTED,
        refusal=reason,
    )


class SyncClient:
    """HTTP client for one device and one sync run.

    Args:
        identity: the enrolled device (server URL, keys).
        settings: timeouts and retry policy.
        cancel: set it from another thread to stop at the next chunk or pause.
        transport: an httpx transport (tests use it to reach an in-process server).
    """

    def __init__(
        self,
        identity: DeviceIdentity,
        *,
        settings: HttpSettings | None = None,
        cancel: threading.Event | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.identity = identity
        self.settings = settings or HttpSettings()
        self.cancel = cancel or threading.Event()
        timeout = httpx.Timeout(
            connect=self.settings.connect_timeout,
            read=self.settings.read_timeout,
            write=self.settings.write_timeout,
            pool=self.settings.pool_timeout,
        )
        self._client = httpx.Client(
            base_url=identity.server_url,
            timeout=timeout,
            verify=self.settings.verify,
            transport=transport,
            headers={"User-Agent": "intake-sync/1"},
            follow_redirects=False,
        )

    def _auth_header(self, method: str, path: str, body: bytes) -> str:
        """The signed request header for exactly ``body``, with a fresh nonce: one
        signature serves one request (docs/security.md, "Central office", signed
        requests)."""
        return device_auth.make_header(self.identity, method=method, path=path, body=body)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise _Cancelled()

    def _log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "sync request failed (%s), attempt %d, retrying",
            type(error).__name__ if error else "?",
            state.attempt_number,
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Callable[[], Iterator[bytes]] | None = None,
        headers: dict[str, str] | None = None,
        device_signed: bool = False,
        signed_body: bytes = b"",
    ) -> httpx.Response:
        """One request with retries; returns any non-5xx answer; raises SyncError.

        ``device_signed`` adds the device-auth header over ``signed_body`` (the bytes
        ``body`` yields), signed anew for every attempt.
        """

        def once() -> httpx.Response:
            if self.cancel.is_set():
                raise _Cancelled()
            request_headers = dict(headers or {})
            if device_signed:
                request_headers[device_auth.HEADER] = self._auth_header(method, path, signed_body)
            response = self._client.request(
                method, path, content=body() if body else None, headers=request_headers
            )
            if response.status_code >= 500 or response.status_code == 429:
                # 429: this device sent too much too fast; back off like for a busy office
                raise _ServerError(response.status_code)
            return response

        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.settings.attempts)),
            wait=wait_exponential(
                multiplier=self.settings.backoff_initial, max=self.settings.backoff_max
            )
            + wait_random(0, self.settings.backoff_initial),
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(once)
        except _Cancelled:
            raise SyncError(
                _("Die Übertragung wurde abgebrochen."), kind=SyncErrorKind.CANCELLED
            ) from None
        except _ServerError as exc:
            log.warning("central office answered %d after all retries", exc.status)
            raise SyncError(
                _(
                    "Die Zentrale ist vorübergehend nicht erreichbar. "
                    "Bitte versuchen Sie es später erneut."
                ),
                kind=SyncErrorKind.NETWORK,
            ) from None
        except httpx.TransportError as exc:
            log.warning("network error after all retries: %s", type(exc).__name__)
            raise SyncError(
                _("Keine Verbindung zur Zentrale. Die Daten bleiben im Postausgang."),
                kind=SyncErrorKind.NETWORK,
            ) from None

    def _upload(
        self, data: bytes, *, offset: int, total: int, progress: ProgressCallback | None
    ) -> Callable[[], Iterator[bytes]]:
        chunk = self.settings.chunk_size

        def body() -> Iterator[bytes]:
            for start in range(0, len(data), chunk):
                if self.cancel.is_set():
                    raise _Cancelled()
                piece = data[start : start + chunk]
                yield piece
                if progress is not None:
                    progress(offset + start + len(piece), total)

        return body

    # -- batches ---------------------------------------------------------------------------

    def send_batch(
        self,
        batch: BuiltBatch,
        *,
        progress: ProgressCallback | None = None,
        offset: int = 0,
        total: int | None = None,
    ) -> Receipt:
        """POST one batch; return the verified ``stored`` receipt.

        Sending the same batch again returns the same receipt (the office keeps it).

        Raises:
            SyncError: NETWORK, AUTH, NOT_ENROLLED, REJECTED or CANCELLED.
        """
        total = total if total is not None else len(batch.data)
        response = self._request(
            "POST",
            "/v1/batches",
            body=self._upload(batch.data, offset=offset, total=total, progress=progress),
            headers={
                "Content-Type": BATCH_CONTENT_TYPE,
                "Content-Length": str(len(batch.data)),
            },
            device_signed=True,
            signed_body=batch.data,
        )
        if response.status_code != 200:
            raise _refused(response)
        try:
            receipt = verify_receipt(
                response.content,
                trusted=self.identity.office_signing_keys,
                importer_keys=self.identity.office_importer_keys,
                device_id=self.identity.device_id,
                batch_id=batch.batch_id,
                batch_sha384=batch.sha384,
            )
        except ReceiptError as exc:
            log.error("receipt for a batch did not verify: %s", exc.reason)
            raise SyncError(
                _("Die Quittung der Zentrale ist ungültig ({reason}).").format(reason=exc.reason),
                kind=SyncErrorKind.AUTH,
            ) from None
        log.info("batch delivered: %d record(s)", len(receipt.delivered_records))
        return receipt

    def send_batches(
        self,
        batches: Sequence[BuiltBatch],
        *,
        progress: ProgressCallback | None = None,
        on_receipt: Callable[[BuiltBatch, Receipt], None] | None = None,
        on_refused: Callable[[BuiltBatch, SyncError], None] | None = None,
    ) -> list[Receipt]:
        """Send several batches in order with one overall progress.

        ``on_receipt`` is called after each verified receipt, so the caller can mark those
        records delivered at once; if a later batch fails, earlier ones stay delivered.
        ``on_refused`` (when given) takes a batch the office refused for itself (too large,
        its id taken) and the sending goes on with the next one, so that one batch never
        blocks the others; without it, or for any other failure, the error is raised.
        """
        total = sum(len(b.data) for b in batches)
        done = 0
        receipts = []
        for batch in batches:
            try:
                receipt = self.send_batch(batch, progress=progress, offset=done, total=total)
            except SyncError as exc:
                if on_refused is None or exc.refusal not in BATCH_REFUSALS:
                    raise
                log.warning("batch refused by the office: %s", exc.refusal)
                on_refused(batch, exc)
                done += len(batch.data)
                continue
            done += len(batch.data)
            receipts.append(receipt)
            if on_receipt is not None:
                on_receipt(batch, receipt)
        return receipts

    def fetch_receipts(self) -> list[Receipt]:
        """The office's import receipts (``imported`` / ``rejected``) for this device.

        Receipts that do not verify are dropped (and logged), never trusted.
        """
        response = self._request("GET", "/v1/receipts", device_signed=True)
        if response.status_code != 200:
            raise _refused(response)
        receipts = []
        for blob in self._json_list(response, "receipts"):
            try:
                receipts.append(
                    verify_receipt(
                        blob,
                        trusted=self.identity.office_signing_keys,
                        importer_keys=self.identity.office_importer_keys,
                        device_id=self.identity.device_id,
                    )
                )
            except ReceiptError as exc:
                log.error("an import receipt did not verify: %s", exc.reason)
        return receipts

    def fetch_handovers(self) -> list[bytes]:
        """The hand-overs the office sealed for this device, as signed documents (the
        caller verifies and opens each, :func:`intake_app.sync.handover.open_handover`)."""
        response = self._request("GET", "/v1/handovers", device_signed=True)
        if response.status_code != 200:
            raise _refused(response)
        return self._json_list(response, "handovers")

    # -- keys and forms --------------------------------------------------------------------

    def key_set_documents(self) -> list[bytes]:
        """The key-set documents the office offers (``GET /v1/keys``), not checked yet."""
        response = self._request("GET", "/v1/keys")
        if response.status_code != 200:
            raise _refused(response)
        return self._json_list(response, "documents")

    def fetch_office_keys(self) -> DeviceIdentity:
        """The identity updated with the office's current key set (after a rotation).

        The key set must be signed by the root key pinned at enrolment, and must not be
        older than the one the device holds (docs/security.md, "Central office: keys,
        receiver and importer"); a receiver cannot hand out keys of its own.

        Raises:
            SyncError: ``AUTH`` when no key set verifies or the office offers an older one.
        """
        root = self.identity.root_public_key
        if root is None:
            log.warning("identity without a root key: office keys are not refreshed")
            return self.identity
        older = False
        for blob in self.key_set_documents():
            try:
                key_set = verify_key_set_document(
                    blob, root=root, min_serial=self.identity.key_set_serial
                )
            except SignatureError as exc:
                older = older or exc.reason == "older"
                log.error("office key set refused: %s", exc.reason)
                continue
            return self.identity.with_key_set(key_set, blob)
        if older:
            raise SyncError(
                _(
                    "Die Zentrale bietet einen älteren Schlüsselsatz an, als dieses Gerät "
                    "schon hat. Es wurde nichts gesendet. Bitte melden Sie das der Zentrale."
                ),
                kind=SyncErrorKind.AUTH,
            )
        raise SyncError(
            _("Die Schlüssel der Zentrale konnten nicht bestätigt werden."),
            kind=SyncErrorKind.AUTH,
        )

    def fetch_forms(self, known: Iterable[tuple[str, str]] = ()) -> list[PublishedForm]:
        """Download and verify the published form versions the device does not have yet.

        Args:
            known: (form id, version) pairs the device already holds.
        """
        response = self._request("GET", "/v1/forms")
        if response.status_code != 200:
            raise _refused(response)
        trusted = self.identity.office_signing_keys
        try:
            index = verify_form_index(response.content, trusted=trusted)
        except SignatureError as exc:
            raise SyncError(
                _("Die Formularliste der Zentrale ist nicht gültig signiert ({reason}).").format(
                    reason=exc.reason
                ),
                kind=SyncErrorKind.AUTH,
            ) from None
        have = set(known)
        forms = []
        for entry in index:
            if (entry.form_id, entry.version) in have:
                continue
            reply = self._request("GET", f"/v1/forms/{entry.form_id}/{entry.version}")
            if reply.status_code != 200:
                raise _refused(reply)
            try:
                # A form is signed by the root (publishing is an offline step); the index
                # only lists them and is signed by a receipt key.
                form = verify_published_form(
                    reply.content,
                    trusted=self.identity.root_keys(),
                    form_id=entry.form_id,
                    version=entry.version,
                )
            except SignatureError as exc:
                raise SyncError(
                    _("Ein Formular der Zentrale ist nicht gültig signiert ({reason}).").format(
                        reason=exc.reason
                    ),
                    kind=SyncErrorKind.AUTH,
                ) from None
            if form.sha384 != entry.sha384:
                raise SyncError(
                    _("Ein Formular der Zentrale passt nicht zur Formularliste."),
                    kind=SyncErrorKind.AUTH,
                )
            forms.append(form)
        return forms

    def health(self) -> dict[str, Any]:
        """The receiver's health answer (``{"status": "ok", ...}``)."""
        response = self._request("GET", "/v1/health")
        if response.status_code != 200:
            raise _refused(response)
        data = response.json()
        return data if isinstance(data, dict) else {}

    # -- enrolment -------------------------------------------------------------------------

    def register(self, registration: bytes) -> None:
        """Register this device's public key online and check the office's confirmation.

        Raises:
            SyncError: NOT_ENROLLED for an unknown, used or expired token (``reason`` in the
                message), NETWORK, AUTH when the confirmation does not verify.
        """
        response = self._request(
            "POST",
            "/v1/register",
            body=lambda: iter([registration]),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise _refused(response)
        try:
            verify_confirmation(response.content, self.identity)
        except EnrolmentError as exc:
            raise SyncError(
                _("Die Bestätigung der Zentrale ist ungültig ({reason}).").format(
                    reason=exc.reason
                ),
                kind=SyncErrorKind.AUTH,
            ) from None

    @staticmethod
    def _json_list(response: httpx.Response, name: str) -> list[bytes]:
        """A list of base64 blobs from a JSON answer (``{name: [...]}``)."""
        try:
            data = strict_json_loads(response.content)
            items = data[name]
            return [base64.b64decode(item, validate=True) for item in items]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise SyncError(
                _("Die Antwort der Zentrale ist unverständlich."), kind=SyncErrorKind.REJECTED
            ) from None


def register_online(
    registration: bytes,
    *,
    identity: DeviceIdentity,
    settings: HttpSettings | None = None,
    cancel: threading.Event | None = None,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Register a freshly enrolled device with the office over HTTP(S)."""
    with SyncClient(identity, settings=settings, cancel=cancel, transport=transport) as client:
        client.register(registration)


def encode_blobs(name: str, blobs: Iterable[bytes]) -> bytes:
    """The office side of :meth:`SyncClient._json_list`: ``{name: [base64, ...]}``."""
    return json.dumps({name: [base64.b64encode(b).decode("ascii") for b in blobs]}).encode()
