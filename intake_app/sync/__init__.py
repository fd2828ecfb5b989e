"""Sync: the batch format (seal + sign), receipts, enrolment, HTTP and folder transports.

Pure Python without Qt and without access to the device database: everything takes and
returns bytes, dicts and dataclasses, so the device side (outbox, sync window), the command
line and the central office share it. The format is specified in ``docs/batch-format.md``.
"""
