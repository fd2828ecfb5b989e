"""Load the program behind the log-in window in the background, once.

The log-in window needs none of the storage stack or the main window; a counsellor needs
seconds to type her password. So the log-in window starts :class:`Preloader` as soon as
it is shown, and the sign-in waits for the same load instead of starting it
(docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

#: whether a load has frozen the objects it made (gc.freeze), done once per process
_frozen = False


class Preloader:
    """Runs ``load`` in one background thread, at most once per preloader.

    :meth:`start` may be called any number of times from any thread; :meth:`join` starts
    the load if nobody has, waits for it and raises what it raised, so a failed load
    fails the sign-in that needs it, as a failed import there would.

    The load makes the program's long-lived objects (modules, classes, functions): the
    cyclic garbage collector pauses while it runs (it would scan them again and again,
    about 0.1 s in all), and the first load of the process then freezes what exists
    (``gc.freeze``), so that no later collection scans them either (a full one took
    75 ms at the first sign-in).
    """

    def __init__(self, load: Callable[[], None], *, name: str = "intake-load") -> None:
        self._load = load
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        """Whether the load has been started (it may still be running)."""
        return self._thread is not None

    def start(self) -> None:
        """Start the load in its thread unless it has been started already."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        global _frozen
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load()
        except BaseException as exc:  # kept for join(), which raises it where it matters
            self._error = exc
        finally:
            if not _frozen:
                _frozen = True
                gc.freeze()
            if collecting:
                gc.enable()

    def wait(self) -> None:
        """Wait for the load, starting it if nobody has."""
        self.start()
        thread = self._thread
        assert thread is not None
        thread.join()

    def join(self) -> None:
        """Wait for the load (starting it if needed); raise what it raised."""
        self.wait()
        if self._error is not None:
            raise self._error


def load_storage() -> None:
    """Load what a sign-in needs beyond the vault: the storage stack (SQLAlchemy, the form
    engine, the records), the vault's file lock, and the list of shipped migrations; and
    do SQLAlchemy's own once-per-process work: its SQLite dialect (imported when the first
    engine is made) and the set-up of the mapped classes (done at the first query)."""
    # Deferred: all of it loads behind the log-in window, not before it is shown
    # (docs/architecture.md, "Start-up").
    import filelock  # noqa: F401  # the vault's lock, made at sign-in
    import sqlalchemy.dialects.sqlite  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    import intake_app.app  # noqa: F401
    from intake_app.storage.migrate import read_shipped_revisions

    read_shipped_revisions()
    configure_mappers()
