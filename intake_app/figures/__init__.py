"""The programme's outcome figures, shared by the office and the device (docs/architecture.md,
layers): one computation (``outcomes``), one way of hiding small cells (``disclosure``), one
sheet layout (``summary``; its PDF in ``sheet``)."""
