"""Package data: icons, fonts embedded in PDFs, translations and configuration defaults."""
