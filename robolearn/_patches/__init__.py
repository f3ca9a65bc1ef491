"""Every change robolearn makes to another library's behaviour, in one place.

One private module per patched library says why each patch exists, what it gained when it
was measured, which versions it was verified on and which internals it replaces; the report
to send upstream is drafted in ``docs/upstream.md``:

- ``_trio_asyncio``: ``scheduler`` (asyncio callbacks run in batches, one trio yield per
  loop iteration) and ``call-soon`` (no coroutine check per callback outside debug mode).
- ``_chatkit``: ``merge`` (the agent's and the tools' events merged with one task per
  source, not one per event); also the private chatkit methods the server's subclasses use.
- ``_hypercorn``: ``worker`` (hypercorn's trio worker, copied, with deadlines that hold on
  every route).

Importing this package patches nothing (the benchmark's baseline must stay stock).
:func:`install`, called once as a server process starts (`robolearn.serve.serve`, which
every worker of ``serve --workers`` runs too), installs them all after checking each
library's version; a library outside the verified range fails startup with
:class:`PatchError`. ``ROBOLEARN_UNPATCHED=1`` runs every library's stock behaviour, and
``ROBOLEARN_UNPATCHED=scheduler,merge`` leaves out just the patches it names (for A/B runs).
"""

from ._core import PatchError, Patches
from ._hypercorn import serve_app
from ._install import PATCH_NAMES, install

__all__ = ["PATCH_NAMES", "PatchError", "Patches", "install", "serve_app"]
