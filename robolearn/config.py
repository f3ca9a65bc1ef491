"""One validated Settings object, read from the environment at startup.

A bad value fails fast with :class:`ConfigError` naming the variable, so a typo in a deployment
shows up at boot rather than at the first request.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar, cast
from urllib.parse import urlsplit

import attrs
import platformdirs

__all__ = ["ConfigError", "Settings"]

_T = TypeVar("_T")

AuthMode = Literal["jwt", "dev"]
LogFormat = Literal["json", "text"]
ModelChoice = Literal["auto", "local", "scripted", "openai"]
OpenAIApi = Literal["auto", "chat_completions", "responses"]
DisconnectPolicy = Literal["cancel", "finish"]
HistoryAttachments = Literal["reference", "inline"]
TitlePolicy = Literal["model", "first_words"]
LimitsScope = Literal["shared", "local"]


class ConfigError(ValueError):
    """A configuration variable has a value the server cannot use."""


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("robolearn")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the server can be told from outside. Build it with :meth:`from_env`."""

    database_url: str | None = None
    data_dir: Path = attrs.field(factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    auth: AuthMode = "jwt"
    # Dev auth trusts a header: it may only listen on loopback unless explicitly allowed.
    auth_dev_anywhere: bool = False
    jwt_secret: str | None = attrs.field(default=None, repr=False)
    jwks_url: str | None = None
    jwks_file: Path | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # Other origins whose pages may call the API (the widget on the textbook's site); empty:
    # the same origin only. ``("*",)``: any origin, without cookies.
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 60
    max_streams_per_user: int = 3
    max_streams: int = 500
    # Per-user limits (rate, streams, previews) counted in PostgreSQL for every process on
    # the database, or by each process alone.
    limits: LimitsScope = "shared"
    max_message_chars: int = 8000
    # Per-user quotas: threads kept (threads.create is refused beyond), and a title's length.
    max_threads_per_user: int = 1000
    max_title_chars: int = 500
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_timeout: float = 3.0
    log_level: str = "INFO"
    log_format: LogFormat = "json"
    model: ModelChoice = "auto"
    openai_api_key: str | None = attrs.field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = "gpt-4.1-mini"
    # Which provider API: auto = Chat Completions with OPENAI_BASE_URL, else Responses.
    openai_api: OpenAIApi = "auto"
    # Seconds without a byte from the provider before its answer is given up; and how many
    # times a request that failed before its answer started is sent again.
    model_timeout: float = 60.0
    model_retries: int = 2
    # Dictation (input.transcribe) through the provider; off (501) when unset.
    transcription_model: str | None = None
    # A new thread's title: written by the provider's model, or its first message's words.
    titles: TitlePolicy = "model"
    # A client that closes a streaming answer (Stop, a reload) cancels the model run, or not.
    on_disconnect: DisconnectPolicy = "cancel"
    # Attachments of earlier messages: a one-line reference for the model (the default), or
    # their bytes again on every turn that has them in its history (more tokens and memory).
    history_attachments: HistoryAttachments = "reference"
    scripted_tokens: int = 50
    scripted_delay_ms: float = 5.0
    # Tests: the scripted answer says how many history items the model was given.
    scripted_echo_history: bool = False
    max_body_bytes: int = 1 << 20
    max_attachment_bytes: int = 10 << 20
    # Bytes of one user's attachments, uploaded or announced; a name's length; how long an
    # announced upload slot waits for its bytes, and one upload for the rest of its body.
    max_attachment_bytes_per_user: int = 256 << 20
    max_attachment_name_chars: int = 255
    upload_slot_ttl: float = 3600.0
    upload_timeout: float = 120.0
    # Upload and preview links are built on this (None: relative paths), never on Host.
    public_url: str | None = None
    # Image previews are signed links (an <img> sends no auth headers) that expire; the key
    # is generated per process when unset, so previews then end with the process.
    preview_key: str | None = attrs.field(default=None, repr=False)
    preview_ttl: int = 3600
    preview_rate_per_minute: int = 120
    # Deadlines on every connection (robolearn/http/_listener.py and _bodies.py): a request
    # head must arrive within header_timeout seconds; a body at min_body_rate bytes a second
    # on average, after body_timeout seconds of grace; a kept-alive connection with no request
    # closes after keep_alive_timeout seconds.
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    min_body_rate: int = 1024
    keep_alive_timeout: float = 75.0
    mailbox_capacity: int = 16
    actor_idle_timeout: float = 300.0
    # Deltas arriving within this window of the last write go out together (see ChatTurns).
    stream_flush_ms: float = 20.0
    shutdown_grace: float = 10.0
    # One writer per thread across processes (robolearn.store._thread_locks): on, and how
    # often a waiter tries again when no release notice comes (a holder killed outright).
    thread_locks: bool = True
    thread_lock_retry: float = 1.0
    # The textbook (robolearn.rag): lesson URLs are built on site_url at ingest.
    site_url: str = "https://robolearn.github.io"
    rag_refresh_seconds: float = 10.0
    # Vector search (pgvector + an OpenAI-compatible embeddings API): off when unset.
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    # Test-only admin hook (robolearn.http._admin): off unless a token is set.
    admin_token: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            database_url=reader.text("DATABASE_URL"),
            data_dir=reader.parse("ROBOLEARN_DATA_DIR", _path, _default_data_dir()),
            host=reader.text("ROBOLEARN_HOST") or "127.0.0.1",
            port=reader.parse("ROBOLEARN_PORT", _int_in(1, 65535), 8000),
            auth=cast(AuthMode, reader.parse("ROBOLEARN_AUTH", _choice("jwt", "dev"), "jwt")),
            auth_dev_anywhere=reader.parse("ROBOLEARN_AUTH_DEV_ANYWHERE", _flag, False),
            jwt_secret=reader.text("ROBOLEARN_JWT_SECRET"),
            jwks_url=reader.text("ROBOLEARN_JWKS_URL"),
            jwks_file=reader.parse("ROBOLEARN_JWKS_FILE", _path, None),
            jwt_audience=reader.text("ROBOLEARN_JWT_AUDIENCE"),
            jwt_issuer=reader.text("ROBOLEARN_JWT_ISSUER"),
            cors_origins=reader.parse("ROBOLEARN_CORS_ORIGINS", _origins, ()),
            rate_limit_per_minute=reader.parse(
                "ROBOLEARN_RATE_LIMIT_PER_MINUTE", _int_in(0, 1_000_000), 60
            ),
            max_streams_per_user=reader.parse(
                "ROBOLEARN_MAX_STREAMS_PER_USER", _int_in(1, 10_000), 3
            ),
            max_streams=reader.parse("ROBOLEARN_MAX_STREAMS", _int_in(1, 1_000_000), 500),
            limits=cast(
                LimitsScope,
                reader.parse("ROBOLEARN_LIMITS", _choice("shared", "local"), "shared"),
            ),
            max_message_chars=reader.parse(
                "ROBOLEARN_MAX_MESSAGE_CHARS", _int_in(1, 10_000_000), 8000
            ),
            max_threads_per_user=reader.parse(
                "ROBOLEARN_MAX_THREADS_PER_USER", _int_in(1, 10_000_000), 1000
            ),
            max_title_chars=reader.parse("ROBOLEARN_MAX_TITLE_CHARS", _int_in(1, 100_000), 500),
            db_pool_min=reader.parse("ROBOLEARN_DB_POOL_MIN", _int_in(0, 1000), 2),
            db_pool_max=reader.parse("ROBOLEARN_DB_POOL_MAX", _int_in(1, 1000), 10),
            db_timeout=reader.parse("ROBOLEARN_DB_TIMEOUT", _float_in(0.1, 300.0), 3.0),
            log_level=reader.parse(
                "ROBOLEARN_LOG_LEVEL", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
            ),
            log_format=cast(
                LogFormat, reader.parse("ROBOLEARN_LOG_FORMAT", _choice("json", "text"), "json")
            ),
            model=cast(
                ModelChoice,
                reader.parse(
                    "ROBOLEARN_MODEL", _choice("auto", "local", "scripted", "openai"), "auto"
                ),
            ),
            openai_api_key=reader.text("OPENAI_API_KEY"),
            openai_base_url=reader.text("OPENAI_BASE_URL"),
            openai_model=reader.text("ROBOLEARN_OPENAI_MODEL") or "gpt-4.1-mini",
            openai_api=cast(
                OpenAIApi,
                reader.parse(
                    "ROBOLEARN_OPENAI_API",
                    _choice("auto", "chat_completions", "responses"),
                    "auto",
                ),
            ),
            model_timeout=reader.parse("ROBOLEARN_MODEL_TIMEOUT", _float_in(0.1, 3_600.0), 60.0),
            model_retries=reader.parse("ROBOLEARN_MODEL_RETRIES", _int_in(0, 10), 2),
            transcription_model=reader.text("ROBOLEARN_TRANSCRIPTION_MODEL"),
            titles=cast(
                TitlePolicy,
                reader.parse("ROBOLEARN_TITLES", _choice("model", "first_words"), "model"),
            ),
            on_disconnect=cast(
                DisconnectPolicy,
                reader.parse("ROBOLEARN_ON_DISCONNECT", _choice("cancel", "finish"), "cancel"),
            ),
            history_attachments=cast(
                HistoryAttachments,
                reader.parse(
                    "ROBOLEARN_HISTORY_ATTACHMENTS", _choice("reference", "inline"), "reference"
                ),
            ),
            scripted_tokens=reader.parse("ROBOLEARN_SCRIPTED_TOKENS", _int_in(1, 100_000), 50),
            scripted_delay_ms=reader.parse(
                "ROBOLEARN_SCRIPTED_DELAY_MS", _float_in(0.0, 60_000.0), 5.0
            ),
            scripted_echo_history=reader.parse("ROBOLEARN_SCRIPTED_ECHO_HISTORY", _flag, False),
            max_body_bytes=reader.parse(
                "ROBOLEARN_MAX_BODY_BYTES", _int_in(1024, 1 << 30), 1 << 20
            ),
            max_attachment_bytes=reader.parse(
                "ROBOLEARN_MAX_ATTACHMENT_BYTES", _int_in(1, 1 << 31), 10 << 20
            ),
            max_attachment_bytes_per_user=reader.parse(
                "ROBOLEARN_MAX_ATTACHMENT_BYTES_PER_USER", _int_in(1, 1 << 40), 256 << 20
            ),
            max_attachment_name_chars=reader.parse(
                "ROBOLEARN_MAX_ATTACHMENT_NAME_CHARS", _int_in(1, 100_000), 255
            ),
            upload_slot_ttl=reader.parse(
                "ROBOLEARN_UPLOAD_SLOT_TTL", _float_in(1.0, 30 * 86_400.0), 3600.0
            ),
            upload_timeout=reader.parse("ROBOLEARN_UPLOAD_TIMEOUT", _float_in(0.1, 3_600.0), 120.0),
            public_url=reader.parse("ROBOLEARN_PUBLIC_URL", _public_url, None),
            preview_key=reader.text("ROBOLEARN_PREVIEW_KEY"),
            preview_ttl=reader.parse("ROBOLEARN_PREVIEW_TTL", _int_in(10, 7 * 86_400), 3600),
            preview_rate_per_minute=reader.parse(
                "ROBOLEARN_PREVIEW_RATE_PER_MINUTE", _int_in(0, 1_000_000), 120
            ),
            header_timeout=reader.parse("ROBOLEARN_HEADER_TIMEOUT", _float_in(0.1, 3_600.0), 30.0),
            body_timeout=reader.parse("ROBOLEARN_BODY_TIMEOUT", _float_in(0.1, 3_600.0), 30.0),
            min_body_rate=reader.parse("ROBOLEARN_MIN_BODY_RATE", _int_in(1, 1 << 30), 1024),
            keep_alive_timeout=reader.parse(
                "ROBOLEARN_KEEP_ALIVE_TIMEOUT", _float_in(0.1, 3_600.0), 75.0
            ),
            mailbox_capacity=reader.parse("ROBOLEARN_MAILBOX_CAPACITY", _int_in(1, 100_000), 16),
            actor_idle_timeout=reader.parse(
                "ROBOLEARN_ACTOR_IDLE_TIMEOUT", _float_in(0.01, 86_400.0), 300.0
            ),
            stream_flush_ms=reader.parse(
                "ROBOLEARN_STREAM_FLUSH_MS", _float_in(0.0, 1_000.0), 20.0
            ),
            shutdown_grace=reader.parse("ROBOLEARN_SHUTDOWN_GRACE", _float_in(0.0, 3_600.0), 10.0),
            thread_locks=reader.parse("ROBOLEARN_THREAD_LOCKS", _flag, True),
            thread_lock_retry=reader.parse(
                "ROBOLEARN_THREAD_LOCK_RETRY", _float_in(0.05, 60.0), 1.0
            ),
            site_url=reader.parse("ROBOLEARN_SITE_URL", _site_url, "https://robolearn.github.io"),
            rag_refresh_seconds=reader.parse(
                "ROBOLEARN_RAG_REFRESH_SECONDS", _float_in(0.1, 86_400.0), 10.0
            ),
            embedding_model=reader.text("ROBOLEARN_EMBEDDING_MODEL"),
            embedding_base_url=(
                reader.text("ROBOLEARN_EMBEDDING_BASE_URL") or reader.text("OPENAI_BASE_URL")
            ),
            admin_token=reader.text("ROBOLEARN_ADMIN_TOKEN"),
        )
        if settings.jwt_secret is not None and len(settings.jwt_secret) < 32:
            raise ConfigError("ROBOLEARN_JWT_SECRET must be at least 32 characters")
        if settings.preview_key is not None and len(settings.preview_key) < 32:
            raise ConfigError("ROBOLEARN_PREVIEW_KEY must be at least 32 characters")
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
        shown = {field.name: str(getattr(self, field.name)) for field in attrs.fields(Settings)}
        if self.database_url:
            shown["database_url"] = _mask_url(self.database_url)
        for secret in ("openai_api_key", "jwt_secret", "admin_token", "preview_key"):
            if getattr(self, secret):
                shown[secret] = "***"
        return shown


@attrs.frozen
class _Reader:
    env: Mapping[str, str]

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def parse(self, name: str, parser: Callable[[str], _T], default: _T) -> _T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parser(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is invalid: {exc}") from None


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may well resolve to a public address


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


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


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        for choice in choices:
            if raw.lower() == choice.lower():
                return choice
        raise ValueError(f"expected one of {', '.join(choices)}")

    return parse


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


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
