"""One validated Settings object, read from the environment at startup.

Each setting is declared once, as a field of :class:`Settings` made by :func:`setting`: its
environment variable, how its text is parsed, its default and what it means. Reading
(:meth:`Settings.from_env`), the boot log (:meth:`Settings.describe`) and the README's
configuration table (:func:`settings_markdown`, ``python -m robolearn.config``) all come from
those declarations.

A bad value fails fast with :class:`ConfigError` naming the variable, so a typo in a deployment
shows up at boot rather than at the first request.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import attrs
import platformdirs

__all__ = ["ConfigError", "Setting", "Settings", "declared_settings", "settings_markdown"]

_T = TypeVar("_T")
_S = TypeVar("_S", bound=str)

AuthMode = Literal["jwt", "dev"]
LogFormat = Literal["json", "text"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
ModelChoice = Literal["auto", "local", "scripted", "openai"]
OpenAIApi = Literal["auto", "chat_completions", "responses"]
DisconnectPolicy = Literal["cancel", "finish"]
HistoryAttachments = Literal["reference", "inline"]
TitlePolicy = Literal["model", "first_words"]
LimitsScope = Literal["shared", "local"]


class ConfigError(ValueError):
    """A configuration variable has a value the server cannot use."""


@attrs.frozen
class Setting:
    """How one field of :class:`Settings` is read from the environment, and documented."""

    env: str
    """The environment variable. Blank counts as unset."""
    parse: Callable[[str], Any]
    """Text (stripped) to value; a ``ValueError`` says what was expected."""
    doc: str
    """What it means, as markdown: the README table's third column."""
    group: str
    """The README table it is listed in."""
    shown_default: str | None = None
    """The default as the docs show it, when the value itself would not say it."""
    secret: bool = False
    """Masked in the boot log and in ``repr``; its value never goes into an error message."""
    fallback: str | None = None
    """Another variable read when ``env`` is unset."""

    def read(self, env: Mapping[str, str]) -> Any:
        """The value ``env`` gives, or ``attrs.NOTHING`` when it gives none."""
        name, raw = self.env, _stripped(env.get(self.env, ""))
        if raw is None and self.fallback is not None:
            name, raw = self.fallback, _stripped(env.get(self.fallback, ""))
        if raw is None:
            return attrs.NOTHING
        try:
            return self.parse(raw)
        except ValueError as exc:
            if self.secret:
                raise ConfigError(f"{name} {exc}") from None
            raise ConfigError(f"{name}={raw!r} is invalid: {exc}") from None


def setting(
    env: str,
    parse: Callable[[str], _T],
    default: _T,
    doc: str,
    *,
    group: str,
    shown_default: str | None = None,
    secret: bool = False,
    fallback: str | None = None,
) -> _T:
    """A field of :class:`Settings` read from ``env`` (see :class:`Setting`).

    ``default`` may be an ``attrs.Factory``. Typed as the value, as ``attrs.field`` is.
    """
    declared = Setting(env, parse, doc, group, shown_default, secret, fallback)
    field: _T = attrs.field(default=default, repr=not secret, metadata={_SETTING: declared})
    return field


_SETTING = "robolearn.setting"

# The README's configuration tables, in this order.
_LISTEN = "Listening and auth"
_DATABASE = "Database"
_LIMITS = "Limits and quotas"
_ATTACHMENTS = "Attachments"
_CONNECTIONS = "Connections and shutdown"
_TURNS = "Threads and answers"
_MODEL = "Model and textbook"
_LOGS = "Logs"
_PATCHES = "Library patches"
_TESTING = "Tests and benchmarks"


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("robolearn")


def _stripped(value: str) -> str | None:
    return value.strip() or None


def _as_text(raw: str) -> str:
    return raw


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _question_bank(raw: str) -> Path | None:
    from robolearn.rag._asked import load_asked

    if raw.strip().lower() == "off":
        return None
    path = _path(raw)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder (give a folder of *.jsonl question sets, or off)")
    load_asked(path)  # a row that is not a question says where it is now, not at the first search
    return path


def _shipped_question_bank() -> Path | None:
    from robolearn.rag._asked import ASKED_DIR

    return ASKED_DIR


def _int_in(low: int, high: int) -> Callable[[str], int]:
    return _number_in(int, "an integer", low, high)


def _float_in(low: float, high: float) -> Callable[[str], float]:
    return _number_in(float, "a number", low, high)


_N = TypeVar("_N", int, float)


def _number_in(kind: Callable[[str], _N], noun: str, low: _N, high: _N) -> Callable[[str], _N]:
    def parse(raw: str) -> _N:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(f"expected {noun} from {low} to {high}")
        return value

    return parse


def _choice(*choices: _S) -> Callable[[str], _S]:
    def parse(raw: str) -> _S:
        for choice in choices:
            if raw.lower() == choice.lower():
                return choice
        raise ValueError(f"expected one of {', '.join(choices)}")

    return parse


def _key(raw: str) -> str:
    # A secret: the message is about it, never quotes it (see Setting.read).
    if len(raw) < 32:
        raise ValueError("must be at least 32 characters")
    return raw


def _site_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s) URL such as https://robolearn.github.io")
    return raw.rstrip("/")


def _public_url(raw: str) -> str:
    parts = urlsplit(raw)
    parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            "expected the http(s) URL clients reach this server at, with no query, such as"
            " https://chat.example.org or https://example.org/robolearn"
        )
    return raw.rstrip("/")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origins(raw: str) -> tuple[str, ...]:
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if not entries:
        raise ValueError("expected a comma-separated list of origins, or *")
    if "*" in entries and len(entries) > 1:
        raise ValueError("* (any origin) stands alone, not in a list")
    return tuple(dict.fromkeys(entry if entry == "*" else _origin(entry) for entry in entries))


def _names(raw: str) -> frozenset[str]:
    names = frozenset(entry.strip().lower() for entry in raw.split(",") if entry.strip())
    if not names:
        raise ValueError("expected 1, all, or a comma-separated list of names")
    return frozenset() if names == {"0"} else names


def _origin(raw: str) -> str:
    """``raw`` as a browser writes it in ``Origin``: lower case, no default port."""
    wanted = "expected scheme://host[:port] with no path, such as https://robolearn.github.io"
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{raw!r}: {exc}") from None
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{raw!r} is not an origin: {wanted}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the server can be told from outside. Build it with :meth:`from_env`."""

    # Listening and auth.
    host: str = setting(
        "ROBOLEARN_HOST",
        _as_text,
        "127.0.0.1",
        "interface to listen on (`robolearn serve --host` or `--bind` wins)",
        group=_LISTEN,
    )
    port: int = setting(
        "ROBOLEARN_PORT",
        _int_in(1, 65535),
        8000,
        "port to listen on (`robolearn serve --port` or `--bind` wins; they also take `0`)",
        group=_LISTEN,
    )
    auth: AuthMode = setting(
        "ROBOLEARN_AUTH",
        _choice("jwt", "dev"),
        "jwt",
        "`jwt`: bearer tokens; `dev` trusts an `X-User-ID` header instead of a token: "
        "development only, and only on a loopback address",
        group=_LISTEN,
    )
    # Dev auth trusts a header: it may only listen on loopback unless explicitly allowed.
    auth_dev_anywhere: bool = setting(
        "ROBOLEARN_AUTH_DEV_ANYWHERE",
        _flag,
        False,
        "`1` lets dev auth listen beyond loopback (a network you trust completely)",
        group=_LISTEN,
    )
    jwt_secret: str | None = setting(
        "ROBOLEARN_JWT_SECRET",
        _key,
        None,
        "HS256 key (at least 32 characters) for bearer tokens",
        group=_LISTEN,
        secret=True,
    )
    jwks_url: str | None = setting(
        "ROBOLEARN_JWKS_URL",
        _as_text,
        None,
        "URL of the public keys (JWKS) for RS256/ES256 tokens",
        group=_LISTEN,
    )
    jwks_file: Path | None = setting(
        "ROBOLEARN_JWKS_FILE",
        _path,
        None,
        "file holding the public keys (JWKS) for RS256/ES256 tokens",
        group=_LISTEN,
    )
    jwt_audience: str | None = setting(
        "ROBOLEARN_JWT_AUDIENCE",
        _as_text,
        None,
        "required `aud` of tokens, when set",
        group=_LISTEN,
    )
    jwt_issuer: str | None = setting(
        "ROBOLEARN_JWT_ISSUER", _as_text, None, "required `iss` of tokens, when set", group=_LISTEN
    )
    # Other origins whose pages may call the API (the widget on the textbook's site); empty:
    # the same origin only. ``("*",)``: any origin, without cookies.
    cors_origins: tuple[str, ...] = setting(
        "ROBOLEARN_CORS_ORIGINS",
        _origins,
        (),
        "comma-separated origins (`scheme://host[:port]`, no path) whose pages may call the "
        "server, e.g. the textbook site's for its widget; `*` allows any origin, never with "
        "cookies",
        group=_LISTEN,
        shown_default="unset (same origin only)",
    )

    # Database.
    database_url: str | None = setting(
        "DATABASE_URL",
        _as_text,
        None,
        "PostgreSQL URL (`postgresql://user:pass@host/db`). Unset: embedded PostgreSQL",
        group=_DATABASE,
    )
    data_dir: Path = setting(
        "ROBOLEARN_DATA_DIR",
        _path,
        attrs.Factory(_default_data_dir),
        "where the embedded PostgreSQL keeps its data (`pgdata/`)",
        group=_DATABASE,
        shown_default="`~/.local/share/robolearn` (the platform's user data directory)",
    )
    db_pool_min: int = setting(
        "ROBOLEARN_DB_POOL_MIN",
        _int_in(0, 1000),
        2,
        "connections the pool keeps open",
        group=_DATABASE,
    )
    db_pool_max: int = setting(
        "ROBOLEARN_DB_POOL_MAX",
        _int_in(1, 1000),
        10,
        "connections the pool may open (with `--workers N`, see [docs/scaling.md]"
        "(docs/scaling.md#connections-each-process-needs) for the total)",
        group=_DATABASE,
    )
    db_timeout: float = setting(
        "ROBOLEARN_DB_TIMEOUT",
        _float_in(0.1, 300.0),
        3.0,
        'seconds to wait for a database connection before answering "unavailable" (once an '
        "outage is known, requests do not wait: see "
        "[When the database is down](#when-the-database-is-down))",
        group=_DATABASE,
    )
    # One writer per thread across processes (robolearn.store._thread_locks): on, and how
    # often a waiter tries again when no release notice comes (a holder killed outright).
    thread_locks: bool = setting(
        "ROBOLEARN_THREAD_LOCKS",
        _flag,
        True,
        "one writer per thread across processes on one database (a PostgreSQL advisory lock "
        "per busy thread, see [docs/scaling.md](docs/scaling.md)); `0` only for a lone process",
        group=_DATABASE,
    )
    thread_lock_retry: float = setting(
        "ROBOLEARN_THREAD_LOCK_RETRY",
        _float_in(0.05, 60.0),
        1.0,
        "seconds after which a process waiting for a thread's lock tries again without news "
        "(a holder killed outright sends none)",
        group=_DATABASE,
    )

    # Limits and quotas.
    rate_limit_per_minute: int = setting(
        "ROBOLEARN_RATE_LIMIT_PER_MINUTE",
        _int_in(0, 1_000_000),
        60,
        "requests per user per minute (token bucket; `0` turns it off)",
        group=_LIMITS,
    )
    max_streams_per_user: int = setting(
        "ROBOLEARN_MAX_STREAMS_PER_USER",
        _int_in(1, 10_000),
        3,
        "answers streaming at once for one user, across every process",
        group=_LIMITS,
    )
    max_streams: int = setting(
        "ROBOLEARN_MAX_STREAMS",
        _int_in(1, 1_000_000),
        500,
        "answers streaming at once in one process",
        group=_LIMITS,
    )
    # Per-user limits (rate, streams, previews) counted in PostgreSQL for every process on
    # the database, or by each process alone.
    limits: LimitsScope = setting(
        "ROBOLEARN_LIMITS",
        _choice("shared", "local"),
        "shared",
        "`shared`: the per-user limits (requests, streams, preview loads) hold for every "
        "process on the database, counted in PostgreSQL; `local`: each process counts alone "
        "(one process only; saves a database round trip a request)",
        group=_LIMITS,
    )
    max_body_bytes: int = setting(
        "ROBOLEARN_MAX_BODY_BYTES",
        _int_in(1024, 1 << 30),
        1 << 20,
        "largest `/chatkit` request body",
        group=_LIMITS,
    )
    max_message_chars: int = setting(
        "ROBOLEARN_MAX_MESSAGE_CHARS",
        _int_in(1, 10_000_000),
        8000,
        "longest user message",
        group=_LIMITS,
    )
    max_threads_per_user: int = setting(
        "ROBOLEARN_MAX_THREADS_PER_USER",
        _int_in(1, 10_000_000),
        1000,
        "threads a user may keep; `threads.create` is refused beyond (413)",
        group=_LIMITS,
    )
    max_title_chars: int = setting(
        "ROBOLEARN_MAX_TITLE_CHARS",
        _int_in(1, 100_000),
        500,
        "longest thread title (`threads.update`; generated titles are cut to it)",
        group=_LIMITS,
    )

    # Attachments and their links.
    max_attachment_bytes: int = setting(
        "ROBOLEARN_MAX_ATTACHMENT_BYTES",
        _int_in(1, 1 << 31),
        10 << 20,
        "largest attachment (4 per message)",
        group=_ATTACHMENTS,
    )
    max_attachment_bytes_per_user: int = setting(
        "ROBOLEARN_MAX_ATTACHMENT_BYTES_PER_USER",
        _int_in(1, 1 << 40),
        256 << 20,
        "bytes of one user's attachments, uploaded or announced (413 beyond)",
        group=_ATTACHMENTS,
    )
    max_attachment_name_chars: int = setting(
        "ROBOLEARN_MAX_ATTACHMENT_NAME_CHARS",
        _int_in(1, 100_000),
        255,
        "longest attachment name",
        group=_ATTACHMENTS,
    )
    upload_slot_ttl: float = setting(
        "ROBOLEARN_UPLOAD_SLOT_TTL",
        _float_in(1.0, 30 * 86_400.0),
        3600.0,
        "seconds an announced upload waits for its bytes before it expires and is deleted",
        group=_ATTACHMENTS,
    )
    upload_timeout: float = setting(
        "ROBOLEARN_UPLOAD_TIMEOUT",
        _float_in(0.1, 3_600.0),
        120.0,
        "seconds an upload's body may take to arrive (408 after)",
        group=_ATTACHMENTS,
    )
    # Upload and preview links are built on this (None: relative paths), never on Host.
    public_url: str | None = setting(
        "ROBOLEARN_PUBLIC_URL",
        _public_url,
        None,
        "`http(s)://host[/prefix]` clients reach the server at: upload and preview links are "
        "built on it",
        group=_ATTACHMENTS,
        shown_default="unset (relative links)",
    )
    # Image previews are signed links (an <img> sends no auth headers) that expire; the key
    # is generated per process when unset, so previews then end with the process.
    preview_key: str | None = setting(
        "ROBOLEARN_PREVIEW_KEY",
        _key,
        None,
        "HMAC key (at least 32 characters) signing preview links; set one shared key for "
        "several servers, or previews end with the process that signed them (the workers of "
        "one `--workers` supervisor share one it makes)",
        group=_ATTACHMENTS,
        shown_default="unset (a key per process)",
        secret=True,
    )
    preview_ttl: int = setting(
        "ROBOLEARN_PREVIEW_TTL",
        _int_in(10, 7 * 86_400),
        3600,
        "seconds a preview link is valid (at least three quarters of it; links are re-signed "
        "whenever sent)",
        group=_ATTACHMENTS,
    )
    preview_rate_per_minute: int = setting(
        "ROBOLEARN_PREVIEW_RATE_PER_MINUTE",
        _int_in(0, 1_000_000),
        120,
        "loads of one attachment's preview per minute (`0` turns it off)",
        group=_ATTACHMENTS,
    )

    # Deadlines on every connection (_patches/_hypercorn.py, http/_bodies.py), and the end.
    header_timeout: float = setting(
        "ROBOLEARN_HEADER_TIMEOUT",
        _float_in(0.1, 3_600.0),
        30.0,
        "seconds a connection has to send a request's head (its headers), counted from its "
        "accept or, on a kept-alive connection, from the next request's first byte; then it "
        "is closed",
        group=_CONNECTIONS,
    )
    body_timeout: float = setting(
        "ROBOLEARN_BODY_TIMEOUT",
        _float_in(0.1, 3_600.0),
        30.0,
        "a request body must keep arriving: n bytes get `ROBOLEARN_BODY_TIMEOUT` + n / "
        "`ROBOLEARN_MIN_BODY_RATE` seconds, so a 10 MB image may take over 2½ hours; a body "
        "that falls behind gets 408 `request_timeout` and the connection is closed",
        group=_CONNECTIONS,
    )
    min_body_rate: int = setting(
        "ROBOLEARN_MIN_BODY_RATE",
        _int_in(1, 1 << 30),
        1024,
        "bytes a second a request body must average after its grace period (see "
        "`ROBOLEARN_BODY_TIMEOUT`)",
        group=_CONNECTIONS,
    )
    keep_alive_timeout: float = setting(
        "ROBOLEARN_KEEP_ALIVE_TIMEOUT",
        _float_in(0.1, 3_600.0),
        75.0,
        "seconds a kept-alive connection may wait for its next request, after any route",
        group=_CONNECTIONS,
    )
    shutdown_grace: float = setting(
        "ROBOLEARN_SHUTDOWN_GRACE",
        _float_in(0.0, 3_600.0),
        10.0,
        "seconds in-flight answers get after SIGTERM",
        group=_CONNECTIONS,
    )

    # Threads and answers.
    mailbox_capacity: int = setting(
        "ROBOLEARN_MAILBOX_CAPACITY",
        _int_in(1, 100_000),
        16,
        "requests that may queue for one thread before 429",
        group=_TURNS,
    )
    actor_idle_timeout: float = setting(
        "ROBOLEARN_ACTOR_IDLE_TIMEOUT",
        _float_in(0.01, 86_400.0),
        300.0,
        "seconds before an idle thread's actor stops",
        group=_TURNS,
    )
    # Deltas arriving within this window of the last write go out together (see ChatTurns).
    stream_flush_ms: float = setting(
        "ROBOLEARN_STREAM_FLUSH_MS",
        _float_in(0.0, 1_000.0),
        20.0,
        "what an answer makes within this many ms of its last write goes out as one write, "
        "its text deltas merged (the first event never waits; `0` writes whatever is ready "
        "at once)",
        group=_TURNS,
    )
    on_disconnect: DisconnectPolicy = setting(
        "ROBOLEARN_ON_DISCONNECT",
        _choice("cancel", "finish"),
        "cancel",
        "`cancel`: a client that closes a streaming answer (Stop, reload) stops it; "
        "`finish`: the answer is finished and saved anyway, and Stop is not offered",
        group=_TURNS,
    )
    # Attachments of earlier messages: a one-line reference for the model (the default), or
    # their bytes again on every turn that has them in its history (more tokens and memory).
    history_attachments: HistoryAttachments = setting(
        "ROBOLEARN_HISTORY_ATTACHMENTS",
        _choice("reference", "inline"),
        "reference",
        "attachments of earlier messages: `reference`, a one-line note naming them (each file "
        "reaches the model whole only with its own message); `inline`, their bytes again on "
        "every turn that has them in its last 10 items (more tokens and memory)",
        group=_TURNS,
    )
    titles: TitlePolicy = setting(
        "ROBOLEARN_TITLES",
        _choice("model", "first_words"),
        "model",
        "`model`: with a provider, the model titles new threads; `first_words`: the first "
        "message's words only (no extra model call)",
        group=_TURNS,
    )

    # Model and textbook.
    model: ModelChoice = setting(
        "ROBOLEARN_MODEL",
        _choice("auto", "local", "scripted", "openai"),
        "auto",
        "`auto` (the provider when one is configured, else the offline tutor), `openai`, "
        "`local` (offline tutor) or `scripted` (load tests)",
        group=_MODEL,
    )
    openai_api_key: str | None = setting(
        "OPENAI_API_KEY",
        _as_text,
        None,
        "the model provider's key: OpenAI, or any OpenAI-compatible server",
        group=_MODEL,
        secret=True,
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL",
        _as_text,
        None,
        "an OpenAI-compatible server (vLLM, Ollama, LiteLLM...) to use instead of OpenAI",
        group=_MODEL,
    )
    openai_model: str = setting(
        "ROBOLEARN_OPENAI_MODEL",
        _as_text,
        "gpt-4.1-mini",
        "the provider's model name",
        group=_MODEL,
    )
    openai_api: OpenAIApi = setting(
        "ROBOLEARN_OPENAI_API",
        _choice("auto", "chat_completions", "responses"),
        "auto",
        "`chat_completions`, `responses`, or `auto` (Chat Completions with a base URL, else "
        "Responses)",
        group=_MODEL,
    )
    model_timeout: float = setting(
        "ROBOLEARN_MODEL_TIMEOUT",
        _float_in(0.1, 3_600.0),
        60.0,
        "seconds without a byte from the provider before an answer is given up",
        group=_MODEL,
    )
    model_retries: int = setting(
        "ROBOLEARN_MODEL_RETRIES",
        _int_in(0, 10),
        2,
        "retries (with backoff, honouring `Retry-After`) of a provider request that failed "
        "before its answer began",
        group=_MODEL,
    )
    transcription_model: str | None = setting(
        "ROBOLEARN_TRANSCRIPTION_MODEL",
        _as_text,
        None,
        "dictation (`input.transcribe`) through the provider's transcription endpoint, e.g. "
        "`gpt-4o-mini-transcribe`; unset: 501",
        group=_MODEL,
        shown_default="unset (off)",
    )
    # The textbook (robolearn.rag): lesson URLs are built on site_url at ingest.
    site_url: str = setting(
        "ROBOLEARN_SITE_URL",
        _site_url,
        "https://robolearn.github.io",
        "base URL of the published book; lesson URLs are `{site}/docs/...`",
        group=_MODEL,
    )
    asked_dir: Path | None = setting(
        "ROBOLEARN_ASKED_DIR",
        _question_bank,
        attrs.Factory(_shipped_question_bank),
        "folder of question sets (`*.jsonl`, each question with the lessons that answer it) "
        "the search learns from; `off`: none",
        group=_MODEL,
        shown_default="the RoboLearn book's question bank, shipped in the package "
        "(used only when its lessons are the stored book's)",
    )
    rag_refresh_seconds: float = setting(
        "ROBOLEARN_RAG_REFRESH_SECONDS",
        _float_in(0.1, 86_400.0),
        10.0,
        "how often a server checks the stored book for a new version",
        group=_MODEL,
    )
    # Vector search (pgvector + an OpenAI-compatible embeddings API): off when unset.
    embedding_model: str | None = setting(
        "ROBOLEARN_EMBEDDING_MODEL",
        _as_text,
        None,
        "embeddings model, e.g. `text-embedding-3-small`, for vector search (needs "
        "`OPENAI_API_KEY`)",
        group=_MODEL,
        shown_default="unset (off)",
    )
    embedding_base_url: str | None = setting(
        "ROBOLEARN_EMBEDDING_BASE_URL",
        _as_text,
        None,
        "OpenAI-compatible server for embeddings",
        group=_MODEL,
        shown_default="`OPENAI_BASE_URL`",
        fallback="OPENAI_BASE_URL",
    )

    # Logs.
    log_level: str = setting(
        "ROBOLEARN_LOG_LEVEL",
        _choice("DEBUG", "INFO", "WARNING", "ERROR"),
        "INFO",
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`",
        group=_LOGS,
    )
    log_format: LogFormat = setting(
        "ROBOLEARN_LOG_FORMAT",
        _choice("json", "text"),
        "json",
        "`json` (one object per line) or `text`",
        group=_LOGS,
    )

    # Library patches (robolearn/_patches/): which to leave out, checked when they install.
    unpatched: frozenset[str] = setting(
        "ROBOLEARN_UNPATCHED",
        _names,
        frozenset(),
        "library patches to leave out, running that library's stock behaviour unchecked: `1` "
        "or `all` for every one, or a list of `scheduler`, `call-soon` (trio-asyncio), "
        "`merge` (chatkit), `worker` (hypercorn; without it "
        "`ROBOLEARN_HEADER_TIMEOUT` is not enforced); for a library outside the versions its "
        "patches were verified on, which otherwise fails startup, and for A/B runs",
        group=_PATCHES,
        shown_default="unset (every patch)",
    )

    # Tests and benchmarks.
    scripted_tokens: int = setting(
        "ROBOLEARN_SCRIPTED_TOKENS",
        _int_in(1, 100_000),
        50,
        "tokens of each answer of the scripted model (`ROBOLEARN_MODEL=scripted`)",
        group=_TESTING,
    )
    scripted_delay_ms: float = setting(
        "ROBOLEARN_SCRIPTED_DELAY_MS",
        _float_in(0.0, 60_000.0),
        5.0,
        "ms between the scripted model's tokens, kept however busy the server is",
        group=_TESTING,
    )
    scripted_echo_history: bool = setting(
        "ROBOLEARN_SCRIPTED_ECHO_HISTORY",
        _flag,
        False,
        "`1`: the scripted model's answer ends with `[history N]`, the history items it was given",
        group=_TESTING,
    )
    # Test-only admin hook (robolearn.http._admin): off unless a token is set.
    admin_token: str | None = setting(
        "ROBOLEARN_ADMIN_TOKEN",
        _as_text,
        None,
        "enables `/admin/*` (actor cancellation and statistics for the chaos tests), each call "
        "sending it in `X-Admin-Token`: never in production",
        group=_TESTING,
        secret=True,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment).

        A variable unset or blank keeps its default; a bad value raises :class:`ConfigError`.
        """
        env = os.environ if env is None else env
        given: dict[str, Any] = {}
        for field, declared in declared_settings():
            value = declared.read(env)
            if value is not attrs.NOTHING:
                given[field.name] = value
        settings = cls(**given)
        if settings.model == "openai" and not settings.uses_provider:
            raise ConfigError("ROBOLEARN_MODEL=openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
        if settings.embedding_model and not settings.openai_api_key:
            raise ConfigError(
                "ROBOLEARN_EMBEDDING_MODEL needs OPENAI_API_KEY (any value for a server "
                "that takes none)"
            )
        if settings.db_pool_min > settings.db_pool_max:
            raise ConfigError(
                f"ROBOLEARN_DB_POOL_MIN ({settings.db_pool_min}) must not exceed "
                f"ROBOLEARN_DB_POOL_MAX ({settings.db_pool_max})"
            )
        return settings

    def check_bind(self) -> None:
        """Refuse to serve dev auth (a trusted user header) beyond this machine.

        Raises :class:`ConfigError` when ``auth`` is ``dev``, ``host`` is not a loopback
        address and ``ROBOLEARN_AUTH_DEV_ANYWHERE`` is not set.
        """
        if self.auth == "dev" and not self.auth_dev_anywhere and not _is_loopback(self.host):
            raise ConfigError(
                f"ROBOLEARN_AUTH=dev trusts the X-User-ID header, so it only listens on "
                f"loopback; {self.host!r} is not (bind 127.0.0.1, or set "
                f"ROBOLEARN_AUTH_DEV_ANYWHERE=1 on a network you trust)"
            )

    @property
    def uses_provider(self) -> bool:
        """True when a model provider is configured: OpenAI (a key) or a compatible server."""
        return bool(self.openai_api_key or self.openai_base_url)

    def describe(self) -> dict[str, str]:
        """The settings as text for the boot log, with secrets masked."""
        shown: dict[str, str] = {}
        for field, declared in declared_settings():
            value = getattr(self, field.name)
            shown[field.name] = "***" if declared.secret and value else str(value)
        if self.database_url:
            shown["database_url"] = _mask_url(self.database_url)
        return shown


def declared_settings() -> list[tuple[attrs.Attribute[Any], Setting]]:
    """Every field of :class:`Settings` with its declaration, in declaration order."""
    return [(field, field.metadata[_SETTING]) for field in attrs.fields(Settings)]


def settings_markdown() -> str:
    """The README's configuration tables: one per group, a row per variable."""
    groups: dict[str, list[str]] = {}
    for field, declared in declared_settings():
        default = declared.shown_default or _shown(field.default)
        row = f"| `{declared.env}` | {default} | {declared.doc} |"
        groups.setdefault(declared.group, []).append(row)
    tables = [
        f"### {group}\n\n| variable | default | meaning |\n| --- | --- | --- |\n" + "\n".join(rows)
        for group, rows in groups.items()
    ]
    return "\n\n".join(tables) + "\n"


def _shown(default: object) -> str:
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return "`1`" if default else "`0`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may well resolve to a public address


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


if __name__ == "__main__":
    print(settings_markdown(), end="")
