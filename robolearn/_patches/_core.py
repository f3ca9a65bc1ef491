"""What the patch modules share: which patches a process runs with, the versions each was
verified for, and the error that stops startup when a library is not what they were written
against."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from typing import Any

import attrs

from robolearn.config import ConfigError

__all__ = [
    "ESCAPE_HATCH",
    "Library",
    "PatchError",
    "Patches",
    "installed_version",
    "set_in_init",
    "stock",
    "swap",
]

ESCAPE_HATCH = "ROBOLEARN_UNPATCHED"


class PatchError(ConfigError):
    """A patched library is not a version (or lacks an internal) the patch was verified for.

    A :class:`~robolearn.config.ConfigError`, so ``robolearn serve`` reports it as one and
    exits with status 2 before it serves anything.
    """


@attrs.frozen
class Patches:
    """The patches one process runs with, by name (the names ``ROBOLEARN_UNPATCHED`` takes)."""

    names: frozenset[str]

    def __contains__(self, name: object) -> bool:
        return name in self.names


def installed_version(package: str) -> str:
    """The installed version of distribution ``package`` (tests replace this lookup)."""
    return importlib.metadata.version(package)


@attrs.frozen
class Library:
    """A patched library: its distribution, the patches made to it and the versions those
    were verified on (``lowest`` <= version < ``below``, compared on the release numbers)."""

    package: str
    patches: tuple[str, ...]
    lowest: tuple[int, ...]
    below: tuple[int, ...]

    @property
    def verified(self) -> str:
        return f">={_dotted(self.lowest)},<{_dotted(self.below)}"

    def check_version(self) -> str:
        """The installed version; :class:`PatchError` unless it is in the verified range."""
        try:
            version = installed_version(self.package)
        except importlib.metadata.PackageNotFoundError:
            version = "(no distribution metadata)"
        if not self.lowest <= _release(version) < self.below:
            raise PatchError(
                f"{self.package} {version} is installed, but robolearn's patches to it "
                f"({', '.join(self.patches)}) were verified for {self.package}"
                f"{self.verified} only. {self._hatch()}"
            )
        return version

    def require(self, version: str, absent: list[str]) -> None:
        """:class:`PatchError` naming the first of the internals in ``absent``, if any."""
        if absent:
            raise self.missing(version, absent[0])

    def missing(self, version: str, what: str) -> PatchError:
        """The error for an internal (``what``) the patches need and this version lacks."""
        return PatchError(
            f"{self.package} {version} has no {what}, which robolearn's patches to it "
            f"({', '.join(self.patches)}) rely on: its internals changed. {self._hatch()}"
        )

    def _hatch(self) -> str:
        return (
            f"Install {self.package}{self.verified}, or run with {self.package}'s stock "
            f"behaviour: {ESCAPE_HATCH}={','.join(self.patches)} (or {ESCAPE_HATCH}=1 for "
            "every library) leaves these patches out, unchecked."
        )


def set_in_init(cls: type) -> frozenset[str]:
    """The attribute names that ``__init__`` of ``cls`` or of a base class mentions: where a
    library sets the instance attributes a patch uses."""
    code = (getattr(vars(klass).get("__init__"), "__code__", None) for klass in cls.__mro__)
    return frozenset(name for each in code if each is not None for name in each.co_names)


def _release(version: str) -> tuple[int, ...]:
    # "0.18.0", "1.6.5.post1", "0.17rc1": the leading release numbers are what ranges compare.
    match = re.match(r"\d+(?:\.\d+)*", version)
    if match is None:
        return ()
    return tuple(int(part) for part in match.group().split("."))


def _dotted(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


_STOCK = "__robolearn_stock__"


def swap(owner: object, name: str, replacement: Callable[..., Any] | None) -> None:
    """Point ``owner.name`` at ``replacement``, or back at the library's own with ``None``.

    The library's own stays on the replacement (``__robolearn_stock__``), so swapping again
    (another ``install``) replaces the replacement instead of wrapping it.
    """
    library_own = stock(owner, name)
    if replacement is None:
        setattr(owner, name, library_own)
        return
    setattr(replacement, _STOCK, library_own)
    setattr(owner, name, replacement)


def stock(owner: object, name: str) -> Any:
    """The library's own ``owner.name``, whether or not a patch replaced it."""
    current = getattr(owner, name)
    return getattr(current, _STOCK, current)
