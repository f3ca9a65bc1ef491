"""The context of one turn of a thread's actor: the request, plus what the turn itself keeps.

A `RequestContext` says who is asking and what they are reading; it is made by the HTTP
front and means the same wherever it goes. A turn has state of its own that chatkit must
carry to our store while it runs the request: the actor's memo of the thread, the turn's
receipts, the id chosen for a new thread. chatkit hands the one ``context`` object it was
given to every store call and to ``respond()``, so the turn gives chatkit a `TurnContext`:
a `RequestContext` (every layer reads it as one) that also carries that state.

Made by the turn layer only (`ChatTurns`), read by the store chatkit is given
(`MemoStore`), which tells a turn's calls from any other request's by type. Requests that
bypass the actors carry a plain `RequestContext`, so nothing of a turn can leak into them.
"""

from __future__ import annotations

import attrs

from ._context import RequestContext
from ._memo import ThreadMemo
from ._receipts import Receipts

__all__ = ["TurnContext"]

_REQUEST_FIELDS = attrs.fields(RequestContext)


@attrs.frozen(kw_only=True)
class TurnContext(RequestContext):
    """``request``'s context, as chatkit gets it for one turn of a thread's actor.

    ``memo``: the actor's memo of its thread. ``receipts``: for a streaming turn, what it
    writes before its client is told (see `Receipts`). ``new_thread_id``: for
    ``threads.create``, the id chosen before the request reached an actor (the actor's key),
    which chatkit must give the new thread.
    """

    memo: ThreadMemo | None = attrs.field(default=None, eq=False, repr=False)
    receipts: Receipts | None = attrs.field(default=None, eq=False, repr=False)
    new_thread_id: str | None = None

    @classmethod
    def of(
        cls,
        request: RequestContext,
        *,
        memo: ThreadMemo | None = None,
        receipts: Receipts | None = None,
        new_thread_id: str | None = None,
    ) -> TurnContext:
        """``request``'s context with a turn's state."""
        # Only the request's own fields: ``request`` may be another turn's context.
        fields = {field.name: getattr(request, field.name) for field in _REQUEST_FIELDS}
        return cls(
            **fields,
            memo=memo,
            receipts=receipts,
            new_thread_id=new_thread_id,
        )
