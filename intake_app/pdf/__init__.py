"""What every printout of both programs is made with (docs/architecture.md, layers): the
embedded fonts with Arabic and right-to-left text (``fonts``) and PDF/A-2b (``pdfa``)."""
