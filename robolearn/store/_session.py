"""One PostgreSQL session driven from trio through libpq's non-blocking API, without threads.

For work that lives in a session rather than in a statement (advisory locks held between
queries, ``LISTEN``): the owner sends a query and waits on the socket for its results, or
waits on the same socket for notifications while idle. The pooled store cannot serve this: a
pooled connection is anyone's, and a worker thread blocked on it cannot also wait for
notifications.
"""

from __future__ import annotations

import logging

import attrs
import psycopg
import trio
from psycopg import pq
from psycopg.conninfo import make_conninfo

__all__ = ["Notification", "PgSession", "SessionLost"]

_log = logging.getLogger("robolearn.store")


class SessionLost(Exception):
    """The session's connection is gone (database restart, terminated backend, network)."""


@attrs.frozen
class Notification:
    channel: str
    payload: str
    # The backend process that sent it: ours for our own NOTIFYs.
    sender_pid: int


# The server's side of the keepalives, for sessions that hold advisory locks: without them
# PostgreSQL notices a client host that vanished (no FIN, no RST) only after the kernel's
# keepalive time, two hours by default on Linux, and the locks stay taken that long. With
# them it ends the session, freeing its locks, about 11 s after the last packet. Ignored on
# Unix sockets, where the kernel tells at once.
SERVER_KEEPALIVES_SQL = (
    "SELECT set_config('tcp_keepalives_idle', '5', false),"
    " set_config('tcp_keepalives_interval', '2', false),"
    " set_config('tcp_keepalives_count', '3', false)"
)


@attrs.define(eq=False)
class PgSession:
    """A connection owned by one trio task; open it with `connect`, end it with `close`.

    Not safe for concurrent use: one `query` or `wait` at a time.
    """

    _pgconn: pq.abc.PGconn
    backend_pid: int
    _notifications: list[Notification] = attrs.field(factory=list)

    @classmethod
    async def connect(cls, conninfo: str, *, connect_timeout: float) -> PgSession:
        """Connect (in a worker thread: libpq's connect blocks) or raise `SessionLost`."""
        # Keepalives: a peer that vanished without closing the TCP connection is noticed in
        # seconds, not hours (ignored on Unix sockets, where the kernel tells at once).
        info = make_conninfo(
            conninfo,
            connect_timeout=max(1, round(connect_timeout)),
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            application_name="robolearn thread locks",
        )
        pgconn = await trio.to_thread.run_sync(
            pq.PGconn.connect, info.encode(), abandon_on_cancel=True
        )
        if pgconn.status != pq.ConnStatus.OK:
            message = pgconn.get_error_message()
            pgconn.finish()
            raise SessionLost(f"cannot connect: {message.strip()}")
        pgconn.nonblocking = 1
        # The server's NOTICEs (e.g. unlocking a lock not held) go to the log, not stderr.
        pgconn.notice_handler = _log_notice
        session = cls(pgconn, pgconn.backend_pid)
        try:
            await session.query(SERVER_KEEPALIVES_SQL)
        except BaseException:
            session.close()
            raise
        return session

    def literal(self, text: str) -> str:
        """``text`` as an SQL string literal, escaped for this connection."""
        return pq.Escaping(self._pgconn).escape_literal(text.encode()).decode()

    async def query(self, sql: str) -> list[pq.abc.PGresult]:
        """Send ``sql`` (one or more statements, simple protocol: one round trip) and return
        one result per statement run; a failed statement ends the list with its error."""
        conn = self._pgconn
        try:
            conn.send_query(sql.encode())
            while conn.flush():
                await trio.lowlevel.wait_writable(conn.socket)
            results = []
            while True:
                while conn.is_busy():
                    await trio.lowlevel.wait_readable(conn.socket)
                    conn.consume_input()
                result = conn.get_result()
                if result is None:
                    break
                results.append(result)
        except psycopg.Error as exc:
            raise SessionLost(str(exc).strip()) from None
        self._collect()
        if conn.status != pq.ConnStatus.OK:
            raise SessionLost(conn.get_error_message().strip() or "connection closed")
        return results

    async def wait(self) -> None:
        """Wait until the server sends something (a notification, or the connection's end)."""
        conn = self._pgconn
        try:
            await trio.lowlevel.wait_readable(conn.socket)
            conn.consume_input()
        except psycopg.Error as exc:
            raise SessionLost(str(exc).strip()) from None
        self._collect()
        if conn.status != pq.ConnStatus.OK:
            raise SessionLost("connection closed")

    def notifications(self) -> list[Notification]:
        """The notifications received so far, oldest first; each is returned once."""
        received, self._notifications = self._notifications, []
        return received

    def close(self) -> None:
        """End the session: the server frees its advisory locks and LISTENs at once."""
        self._pgconn.finish()

    def _collect(self) -> None:
        while (notify := self._pgconn.notifies()) is not None:
            self._notifications.append(
                Notification(notify.relname.decode(), notify.extra.decode(), notify.be_pid)
            )


def _log_notice(result: pq.abc.PGresult) -> None:
    message = result.error_message
    _log.debug("thread lock session: %s", message.decode(errors="replace").strip())
