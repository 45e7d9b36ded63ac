"""Reading an add-on's run-config entry: off, on with its defaults, or a diff over them."""
from __future__ import annotations

from typing import Any, Mapping

from zoo.config import merge


def enabled(value: Any) -> bool:
    """Whether a run-config entry turns its add-on on (None and False leave it off)."""
    return value is not None and value is not False


def resolve(value: Any, defaults: Mapping[str, Any], what: str) -> dict:
    """The add-on's options: `defaults` for True, else `value` (a dict) merged over them;
    unknown keys or any other value raise a ValueError naming it."""
    if value is True:
        return dict(defaults)
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be true or a dict of options {sorted(defaults)}, "
                         f"got {value!r}")
    return merge(defaults, value, what)
