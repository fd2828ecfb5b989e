"""Several receiver processes on one listening socket (``serve --workers N``).

The parent unlocks the receipt key and builds the app once, binds the socket, then forks
the workers: each inherits the unlocked key in memory (no secret passes through the
environment or the arguments) and opens its own database connections. The kernel hands
each new connection to one of them. When the parent is asked to stop (SIGTERM, SIGINT) it
stops the workers; when a worker dies, the parent stops the others and exits with 1, so
that the service manager restarts the whole receiver (docs/central-office.md, "Workers").
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from types import FrameType

import uvicorn
from sqlalchemy.engine import Engine

log = logging.getLogger("intake.central")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(config: uvicorn.Config, sock: socket.socket, engine: Engine) -> None:
    # The parent's pooled connections must not be shared with a child (SQLAlchemy,
    # "Using Connection Pools with Multiprocessing"): the worker opens its own.
    engine.dispose(close=False)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(config: uvicorn.Config, *, workers: int, engine: Engine) -> int:
    """Serve ``config`` from ``workers`` forked processes until stopped; the exit code."""
    sock = _listen(config.host, config.port)
    children: list[int] = []
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 0
                try:
                    _worker(config, sock, engine)
                except BaseException:
                    log.exception("receiver worker failed")
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        sock.close()
        code = 0
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait
                continue
            if pid in children:
                children.remove(pid)
            if not stopping:
                log.error("a receiver worker ended (status %d); stopping the others", status)
                code = 1
                stop(signal.SIGTERM, None)
        deadline = time.monotonic() + 30
        while children and time.monotonic() < deadline:
            pid, _status = os.waitpid(-1, os.WNOHANG)
            if pid:
                children.remove(pid)
            else:
                time.sleep(0.1)
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
