"""Package data: the shipped interview definitions and their reference lists."""
