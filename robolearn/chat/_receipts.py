"""What a streaming turn has written that its client has not been told of yet.

chatkit writes the new thread, then the user's message, and only then yields the event that
reports each write. A turn interrupted in between (its actor cancelled, the database gone
mid-turn) has stored the message, yet its client saw no event for it: answered with a bare
"interrupted, retry", the client would send it again and the thread would hold it twice.
So each such write is noted before it starts, struck off once its event reached the
client, and whatever is left is reported when the turn ends early (see `ChatTurns`).
"""

from __future__ import annotations

import attrs
from chatkit.types import ThreadMetadata, UserMessageItem

__all__ = ["Receipts"]


@attrs.define(eq=False)
class Receipts:
    """One streaming turn's creating writes whose events have not been delivered yet.

    ``owed`` is in write order: the new thread (``threads.create``), then user messages.
    """

    owed: list[ThreadMetadata | UserMessageItem] = attrs.Factory(list)
    _noted: set[str] = attrs.Factory(set)

    def writing(self, record: ThreadMetadata | UserMessageItem) -> None:
        """``record`` is about to be written (its outcome may stay unknown)."""
        # chatkit saves a thread again whenever it changes; only its first save creates it.
        if record.id not in self._noted:
            self._noted.add(record.id)
            self.owed.append(record)

    def delivered(self, chunk: bytes) -> None:
        """``chunk`` (SSE bytes) reached the client's reply channel."""
        # Ids are random and first appear in the event that reports their own write (a
        # thread's id is in its messages' events too, but those come after its own).
        if self.owed:
            self.owed = [record for record in self.owed if record.id.encode() not in chunk]
