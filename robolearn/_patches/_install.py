"""The one call that installs every patch a process runs with: `install`."""

from __future__ import annotations

import logging

from robolearn.config import Settings

from . import _chatkit, _hypercorn, _trio_asyncio
from ._core import ESCAPE_HATCH, PatchError, Patches

__all__ = ["PATCH_NAMES", "install"]

_log = logging.getLogger("robolearn.patches")

# In the order they are installed; each library module checks its own versions.
_LIBRARIES = (_trio_asyncio, _chatkit, _hypercorn)

PATCH_NAMES: tuple[str, ...] = tuple(
    name for library in _LIBRARIES for name in library.LIBRARY.patches
)
"""Every patch, by the name ``ROBOLEARN_UNPATCHED`` takes."""

_EVERY_PATCH = ("1", "all")


def install(settings: Settings) -> Patches:
    """Install the patches ``settings.unpatched`` does not leave out, put the library's own
    behaviour back for those it does, and return the ones installed.

    Each library a patch is installed in is checked first: its installed version must be in
    the range the patch was verified for, and the internals it replaces must be there, or
    :class:`PatchError` stops startup. Idempotent; importing this package patches nothing.
    """
    patches = _chosen(settings.unpatched)
    for library in _LIBRARIES:
        library.install(patches)
    left_out = [name for name in PATCH_NAMES if name not in patches]
    if left_out:
        _log.warning(
            "library patches left out (%s): %s; stock behaviour there",
            ESCAPE_HATCH,
            ", ".join(left_out),
        )
    _log.info("library patches installed: %s", ", ".join(sorted(patches.names)) or "none")
    return patches


def _chosen(unpatched: frozenset[str]) -> Patches:
    if unpatched & set(_EVERY_PATCH):
        return Patches(frozenset())
    unknown = sorted(unpatched - set(PATCH_NAMES))
    if unknown:
        raise PatchError(
            f"{ESCAPE_HATCH} names no patch {', '.join(map(repr, unknown))}: expected 1 or all "
            f"(every patch), or a comma-separated list of {', '.join(PATCH_NAMES)}"
        )
    return Patches(frozenset(PATCH_NAMES) - unpatched)
