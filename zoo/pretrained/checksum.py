"""SHA-256 checks of weight files: a file whose size or digest differs is never loaded."""
from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A weights file is truncated, padded or altered: its size or SHA-256 is not as expected."""


def sha256_of(path: str | os.PathLike) -> str:
    """The hex SHA-256 digest of the file at `path`, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | os.PathLike, sha256: str, size: int | None = None) -> None:
    """Raises `ChecksumError` unless the file has `size` bytes (when given) and digest `sha256`."""
    actual_size = os.path.getsize(path)
    if size is not None and actual_size != int(size):
        raise ChecksumError(
            f"{os.fspath(path)}: {actual_size} bytes, expected {int(size)} (a truncated or "
            "partial file?); refusing to load it. Delete it to fetch or rebuild it again.")
    actual = sha256_of(path)
    if actual != sha256:
        raise ChecksumError(
            f"{os.fspath(path)}: sha256 {actual} does not match the expected {sha256}; "
            "refusing to load it. Delete it to fetch or rebuild it again.")
