"""Decrypt every page of a SQLCipher 4 database file (and its WAL) with the raw key.

A plaintext scan of an encrypted file proves nothing about what the database still holds
inside (free pages, old WAL frames, search-index segments). These helpers decrypt each
page as SQLCipher 4 does (AES-256-CBC, the IV stored in the page's reserved tail) so a
test can scan the plaintext of the whole file, including pages no table uses any more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE_SIZE = 4096
RESERVE = 16 + 64  # IV + HMAC-SHA512
SALT = 16
WAL_HEADER = 32
FRAME_HEADER = 24


def _decrypt_page(page: bytes, key: bytes, *, first: bool) -> bytes:
    offset = SALT if first else 0
    body = page[offset : PAGE_SIZE - RESERVE]
    iv = page[PAGE_SIZE - RESERVE : PAGE_SIZE - RESERVE + 16]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(body) + decryptor.finalize()


def database_pages(path: Path, key: bytes) -> Iterator[bytes]:
    """The decrypted pages of the main database file."""
    data = path.read_bytes()
    for number in range(len(data) // PAGE_SIZE):
        page = data[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]
        yield _decrypt_page(page, key, first=number == 0)


def wal_pages(path: Path, key: bytes) -> Iterator[bytes]:
    """The decrypted pages of every frame in a WAL file (also frames already copied back)."""
    if not path.exists():
        return
    data = path.read_bytes()
    position = WAL_HEADER
    while position + FRAME_HEADER + PAGE_SIZE <= len(data):
        number = int.from_bytes(data[position : position + 4], "big")
        page = data[position + FRAME_HEADER : position + FRAME_HEADER + PAGE_SIZE]
        yield _decrypt_page(page, key, first=number == 1)
        position += FRAME_HEADER + PAGE_SIZE


def first_page_is_valid(path: Path, key: bytes) -> bool:
    """True when the key decrypts page 1 to a SQLite header (page size 4096)."""
    page = next(database_pages(path, key))
    # after the salt, the header continues at byte 16: the page size (big-endian)
    return page[0:2] == PAGE_SIZE.to_bytes(2, "big")


def plaintext_contains(db_path: Path, key: bytes, needles: list[bytes]) -> list[str]:
    """Which needles appear in any decrypted page of the database or its WAL."""
    found = []
    wal = db_path.with_name(db_path.name + "-wal")
    for label, pages in (("db", database_pages(db_path, key)), ("wal", wal_pages(wal, key))):
        for index, page in enumerate(pages):
            for needle in needles:
                if needle in page:
                    found.append(f"{label} page {index}: {needle!r}")
    return found
