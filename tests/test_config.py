from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from robolearn.__main__ import main
from robolearn.config import ConfigError, Settings, declared_settings
from robolearn.rag import ASKED_DIR


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.port == 8000
    assert settings.auth == "jwt"
    assert settings.data_dir.name == "robolearn"


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:hunter2@db:5432/robolearn",
            "ROBOLEARN_DATA_DIR": "~/rl",
            "ROBOLEARN_PORT": "9000",
            "ROBOLEARN_AUTH": "DEV",
            "ROBOLEARN_DB_TIMEOUT": "0.5",
        }
    )
    assert settings.port == 9000
    assert settings.auth == "dev"
    assert settings.db_timeout == 0.5
    assert settings.data_dir == Path("~/rl").expanduser()
    shown = settings.describe()
    assert "hunter2" not in shown["database_url"]
    assert shown["database_url"] == "postgresql://app:***@db:5432/robolearn"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROBOLEARN_PORT", "eighty"),
        ("ROBOLEARN_PORT", "70000"),
        ("ROBOLEARN_AUTH", "none"),
        ("ROBOLEARN_DB_TIMEOUT", "-1"),
        ("ROBOLEARN_DB_POOL_MAX", "0"),
        ("ROBOLEARN_LOG_LEVEL", "LOUD"),
        ("ROBOLEARN_MAX_THREADS_PER_USER", "0"),
        ("ROBOLEARN_MAX_TITLE_CHARS", "many"),
        ("ROBOLEARN_MAX_ATTACHMENT_NAME_CHARS", "0"),
        ("ROBOLEARN_MAX_ATTACHMENT_BYTES_PER_USER", "-5"),
        ("ROBOLEARN_UPLOAD_SLOT_TTL", "0"),
        ("ROBOLEARN_UPLOAD_TIMEOUT", "forever"),
        ("ROBOLEARN_PREVIEW_TTL", "5"),
        ("ROBOLEARN_PREVIEW_RATE_PER_MINUTE", "-1"),
        ("ROBOLEARN_PREVIEW_KEY", "short"),
        ("ROBOLEARN_PUBLIC_URL", "chat.example.org"),
        ("ROBOLEARN_PUBLIC_URL", "ftp://chat.example.org"),
        ("ROBOLEARN_PUBLIC_URL", "https://chat.example.org/?x=1"),
        ("ROBOLEARN_PUBLIC_URL", "https://user@chat.example.org"),
        ("ROBOLEARN_PUBLIC_URL", "https://chat.example.org:port"),
        ("ROBOLEARN_ASKED_DIR", "/no/such/folder"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_the_question_bank_is_the_shipped_one_another_folder_or_none(tmp_path: Path) -> None:
    shipped = Settings.from_env({}).asked_dir
    assert shipped == ASKED_DIR and any(shipped.glob("*.jsonl"))
    assert Settings.from_env({"ROBOLEARN_ASKED_DIR": str(tmp_path)}).asked_dir == tmp_path
    assert Settings.from_env({"ROBOLEARN_ASKED_DIR": "OFF"}).asked_dir is None
    (tmp_path / "broken.jsonl").write_text('{"question": "ok?", "expected": []}\n{"q": 1}\n')
    with pytest.raises(ConfigError, match=r"ROBOLEARN_ASKED_DIR.*broken\.jsonl:2: not a question"):
        Settings.from_env({"ROBOLEARN_ASKED_DIR": str(tmp_path)})


def test_attachment_settings_are_read() -> None:
    key = "k" * 32
    settings = Settings.from_env(
        {
            "ROBOLEARN_PUBLIC_URL": "https://chat.example.org/tutor/",
            "ROBOLEARN_PREVIEW_KEY": key,
            "ROBOLEARN_PREVIEW_TTL": "600",
            "ROBOLEARN_MAX_ATTACHMENT_BYTES_PER_USER": "1000",
            "ROBOLEARN_UPLOAD_SLOT_TTL": "60",
        }
    )
    assert settings.public_url == "https://chat.example.org/tutor"
    assert (settings.preview_ttl, settings.max_attachment_bytes_per_user) == (600, 1000)
    assert settings.upload_slot_ttl == 60
    assert settings.describe()["preview_key"] == "***"
    assert key not in repr(settings)
    assert Settings.from_env({}).public_url is None


def test_pool_bounds_are_consistent() -> None:
    with pytest.raises(ConfigError, match="ROBOLEARN_DB_POOL_MIN"):
        Settings.from_env({"ROBOLEARN_DB_POOL_MIN": "20", "ROBOLEARN_DB_POOL_MAX": "5"})


def test_embeddings_are_off_unless_a_model_is_named() -> None:
    assert Settings.from_env({"OPENAI_API_KEY": "sk-test"}).embedding_model is None
    key = {"OPENAI_API_KEY": "sk-test", "ROBOLEARN_EMBEDDING_MODEL": "text-embedding-3-small"}
    settings = Settings.from_env({**key, "OPENAI_BASE_URL": "http://llm:8080/v1"})
    assert settings.embedding_model == "text-embedding-3-small"
    assert settings.embedding_base_url == "http://llm:8080/v1"
    own = {**key, "OPENAI_BASE_URL": "http://llm/v1", "ROBOLEARN_EMBEDDING_BASE_URL": "http://e/v1"}
    assert Settings.from_env(own).embedding_base_url == "http://e/v1"
    with pytest.raises(ConfigError, match="ROBOLEARN_EMBEDDING_MODEL needs OPENAI_API_KEY"):
        Settings.from_env({"ROBOLEARN_EMBEDDING_MODEL": "text-embedding-3-small"})


def test_cors_origins_are_read_as_the_browser_writes_them() -> None:
    assert Settings.from_env({}).cors_origins == ()
    env = {"ROBOLEARN_CORS_ORIGINS": "https://Book.Example.org:443, http://127.0.0.1:3000,"}
    assert Settings.from_env(env).cors_origins == (
        "https://book.example.org",
        "http://127.0.0.1:3000",
    )
    assert Settings.from_env({"ROBOLEARN_CORS_ORIGINS": " * "}).cors_origins == ("*",)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://book.example.org/", "not an origin"),
        ("https://book.example.org/docs", "not an origin"),
        ("book.example.org", "not an origin"),
        ("ftp://book.example.org", "not an origin"),
        ("null", "not an origin"),
        ("https://user@book.example.org", "not an origin"),
        ("https://book.example.org:99999", "out of range"),
        ("https://a.example.org,*", "stands alone"),
        (",", "list of origins"),
    ],
)
def test_bad_cors_origins_name_the_variable(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"^ROBOLEARN_CORS_ORIGINS=.*{problem}"):
        Settings.from_env({"ROBOLEARN_CORS_ORIGINS": value})


def test_cli_reports_config_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROBOLEARN_PORT", "nope")
    assert main(["migrate"]) == 2
    assert "ROBOLEARN_PORT" in capsys.readouterr().err


def test_cli_rejects_bad_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--bind", "localhost"])
    assert exc.value.code == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "robolearn.example"])
def test_dev_auth_refuses_to_listen_beyond_loopback(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROBOLEARN_AUTH", "dev")
    assert main(["serve", "--host", host, "--port", "0"]) == 2
    assert "ROBOLEARN_AUTH_DEV_ANYWHERE" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_dev_auth_listens_on_loopback(host: str) -> None:
    Settings(auth="dev", host=host).check_bind()


def test_dev_auth_anywhere_must_be_asked_for() -> None:
    settings = Settings.from_env(
        {"ROBOLEARN_AUTH": "dev", "ROBOLEARN_HOST": "0.0.0.0", "ROBOLEARN_AUTH_DEV_ANYWHERE": "1"}
    )
    settings.check_bind()
    Settings(auth="jwt", host="0.0.0.0").check_bind()
    with pytest.raises(ConfigError, match="ROBOLEARN_AUTH_DEV_ANYWHERE"):
        Settings.from_env({"ROBOLEARN_AUTH_DEV_ANYWHERE": "maybe"})


def test_cli_migrate(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_connection_deadlines_are_read() -> None:
    defaults = Settings.from_env({})
    assert (defaults.header_timeout, defaults.body_timeout) == (30, 30)
    assert (defaults.min_body_rate, defaults.keep_alive_timeout) == (1024, 75)
    settings = Settings.from_env(
        {
            "ROBOLEARN_HEADER_TIMEOUT": "5",
            "ROBOLEARN_BODY_TIMEOUT": "2.5",
            "ROBOLEARN_MIN_BODY_RATE": "100",
            "ROBOLEARN_KEEP_ALIVE_TIMEOUT": "0.5",
        }
    )
    assert (settings.header_timeout, settings.body_timeout) == (5, 2.5)
    assert (settings.min_body_rate, settings.keep_alive_timeout) == (100, 0.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROBOLEARN_HEADER_TIMEOUT", "0"),
        ("ROBOLEARN_HEADER_TIMEOUT", "soon"),
        ("ROBOLEARN_BODY_TIMEOUT", "-1"),
        ("ROBOLEARN_MIN_BODY_RATE", "0"),
        ("ROBOLEARN_MIN_BODY_RATE", "1.5"),
        ("ROBOLEARN_KEEP_ALIVE_TIMEOUT", "forever"),
    ],
)
def test_bad_deadlines_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_thread_lock_settings_are_read() -> None:
    defaults = Settings.from_env({})
    assert (defaults.thread_locks, defaults.thread_lock_retry) == (True, 1.0)
    assert defaults.scripted_echo_history is False
    settings = Settings.from_env(
        {
            "ROBOLEARN_THREAD_LOCKS": "0",
            "ROBOLEARN_THREAD_LOCK_RETRY": "0.25",
            "ROBOLEARN_SCRIPTED_ECHO_HISTORY": "1",
        }
    )
    assert (settings.thread_locks, settings.thread_lock_retry) == (False, 0.25)
    assert settings.scripted_echo_history is True
    with pytest.raises(ConfigError, match="ROBOLEARN_THREAD_LOCK_RETRY"):
        Settings.from_env({"ROBOLEARN_THREAD_LOCK_RETRY": "0"})


def test_each_setting_is_declared_once_with_its_own_variable() -> None:
    declared = declared_settings()
    assert len(declared) == len(attrs.fields(Settings))
    names = [setting.env for _, setting in declared]
    assert len(names) == len(set(names))
    assert all(setting.doc and setting.group for _, setting in declared)


def test_unset_or_blank_variables_keep_the_declared_defaults() -> None:
    blank = {setting.env: "  " for _, setting in declared_settings()}
    assert Settings.from_env(blank) == Settings.from_env({}) == Settings()


@pytest.mark.parametrize("name", ["ROBOLEARN_JWT_SECRET", "ROBOLEARN_PREVIEW_KEY"])
def test_a_bad_secret_is_named_but_never_shown(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be at least 32 characters$") as exc:
        Settings.from_env({name: "hunter2-hunter2"})
    assert "hunter2" not in str(exc.value)


def test_the_boot_log_masks_every_secret() -> None:
    secrets = {setting.env: "s" * 40 for _, setting in declared_settings() if setting.secret}
    assert set(secrets) >= {"OPENAI_API_KEY", "ROBOLEARN_ADMIN_TOKEN"}
    settings = Settings.from_env(secrets)
    assert "s" * 40 not in repr(settings)
    assert "s" * 40 not in str(settings.describe())
