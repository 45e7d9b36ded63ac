"""Where an entry's weights file is: shipped with the package, cached, or fetched from its URL.

`resolve(entry)` looks, in order, at
  1. zoo/pretrained/WEIGHTS (shipped with the package),
  2. CACHE/WEIGHTS, CACHE = `cache_dir` or $GAN_ZOO_CACHE or ~/.cache/gan-zoo,
  3. the entry's `url`, downloaded into CACHE/WEIGHTS.
Every file is checked against the entry's size and sha256 before its path is returned; a
mismatch raises `ChecksumError` and nothing is loaded. A download goes to a temporary file in
CACHE and is renamed into place only once its checksum verified, so an interrupted or corrupt
download never becomes the cached file.
"""
from __future__ import annotations

import logging
import os
import tempfile
import urllib.parse
import urllib.request

from zoo.pretrained.checksum import ChecksumError, verify
from zoo.pretrained.manifest import DIRECTORY, Entry

logger = logging.getLogger(__name__)

CACHE_ENV = "GAN_ZOO_CACHE"
DEFAULT_CACHE = os.path.join("~", ".cache", "gan-zoo")
TIMEOUT_S = 60
_CHUNK = 1 << 20


def cache_dir() -> str:
    """$GAN_ZOO_CACHE, else ~/.cache/gan-zoo."""
    return os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def download(url: str, destination: str, sha256: str, size: int | None,
             timeout: float = TIMEOUT_S) -> str:
    """Fetches `url` (http, https or file) to `destination` once its size and sha256 verify."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https", "file"):
        raise ValueError(f"weights URL must be http(s):// or file://, got {url!r}")
    directory = os.path.dirname(os.path.abspath(destination))
    os.makedirs(directory, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".download-", delete=False)
    try:
        with handle, urllib.request.urlopen(url, timeout=timeout) as response:
            written = 0
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                written += len(chunk)
                if size is not None and written > int(size):
                    raise ChecksumError(f"{url}: more than the expected {int(size)} bytes; "
                                        "refusing it")
                handle.write(chunk)
        verify(handle.name, sha256, size)
        os.replace(handle.name, destination)
    finally:
        if os.path.exists(handle.name):
            os.remove(handle.name)
    logger.info("fetched %s to %s", url, destination)
    return destination


def resolve(entry: Entry, cache: str | None = None) -> str:
    """The verified local path of `entry`'s weights (module docstring)."""
    if not entry.built:
        raise FileNotFoundError(
            f"pretrained model {entry.name!r} has no weights yet; build them with "
            f"`python -m zoo.pretrained build {entry.name}`")
    shipped = os.path.join(DIRECTORY, entry.weights)
    cached = os.path.join(cache or cache_dir(), entry.weights)
    for path in (shipped, cached):
        if os.path.exists(path):
            verify(path, entry.sha256, entry.size)
            return path
    if not entry.url:
        raise FileNotFoundError(
            f"the weights of {entry.name!r} ({entry.weights}) are neither shipped in "
            f"{DIRECTORY} nor cached in {os.path.dirname(cached)}, and the entry has no url; "
            f"rebuild them with `python -m zoo.pretrained build {entry.name}`")
    return download(entry.url, cached, entry.sha256, entry.size)
