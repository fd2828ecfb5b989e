"""The device side of sending: the outbox, the sync run and the forms installed on a device.

It sits on top of the wire protocol (:mod:`intake_app.sync`) and of the device database
(:mod:`intake_app.storage`); the central office never imports it (docs/architecture.md).
"""
