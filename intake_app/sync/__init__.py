"""The wire protocol: the batch format (seal + sign), keys, signed documents, receipts,
enrolment, HTTP and folder transports.

Pure Python without Qt; it imports nothing of the device (``storage``, ``device_sync``) or
of the office (``central``): everything takes and returns bytes, dicts and dataclasses, so
the device side (:mod:`intake_app.device_sync`) and the central office both build on it
(docs/architecture.md). The format is specified in ``docs/batch-format.md``.

What the device side calls:

* enrolment: :func:`.enrolment.read_enrolment`, :func:`.enrolment.create_identity`,
  :func:`.enrolment.build_registration`; online :func:`.transport_http.register_online`
  or the returned bytes as an offline registration file; keep
  :meth:`.identity.DeviceIdentity.to_json` in the encrypted profile.
* batches: :func:`.batch.build_batches` (split by the size cap) or
  :func:`.batch.build_batch`; :meth:`.batch.BuiltBatch.from_bytes` to resend stored bytes.
* HTTP: :class:`.transport_http.SyncClient` (``send_batches`` with progress and a cancel
  event, ``fetch_office_keys``, ``fetch_forms``, ``fetch_receipts``).
* folder: :func:`.transport_folder.write_batches`, :func:`.transport_folder.read_receipts`,
  :func:`.transport_folder.remove_answered_batches`.
* receipts: :func:`.receipt.verify_receipt`, ``Receipt.delivered_records``,
  ``Receipt.confirmed_erasures``.
* forms: :func:`.published_forms.verify_published_form`.
"""
