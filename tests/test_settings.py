"""Settings: defaults < config file < environment < explicit values; placeholders refused in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopflow.errors import InvalidInput
from sopflow.settings import SETTINGS_HELP, Settings, load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path)
    assert settings.env == "development"
    assert (settings.host, settings.port) == ("127.0.0.1", 8765)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'app.db'}"


def test_precedence_file_then_environment_then_explicit(tmp_path: Path) -> None:
    (tmp_path / "sopflow.toml").write_text('port = 9000\nmax_batch_events = 50\ntimezone = "UTC"\n')
    env = {"SOPFLOW_HOME": str(tmp_path), "SOPFLOW_PORT": "9100", "SOPFLOW_MAX_BATCH_EVENTS": "70"}
    settings = load_settings(environ=env, port=9200)
    assert settings.port == 9200
    assert settings.max_batch_events == 70
    assert settings.timezone == "UTC"
    assert settings.workspace.root == tmp_path.resolve()


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('database_url = "postgresql+psycopg://u:strongpw@db/sopflow"\n')
    settings = load_settings(environ={"SOPFLOW_CONFIG": str(config)}, home=tmp_path)
    assert settings.effective_database_url == "postgresql+psycopg://u:strongpw@db/sopflow"


def test_unknown_key_in_config_file_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "sopflow.toml"
    config.write_text("max_batch = 5\n")
    with pytest.raises(InvalidInput, match=r"sopflow\.toml: unknown setting 'max_batch'"):
        load_settings(environ={}, config_file=config)


def test_invalid_toml_is_a_clean_error(tmp_path: Path) -> None:
    config = tmp_path / "sopflow.toml"
    config.write_text("port = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_settings(environ={}, config_file=config)


def test_invalid_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="SOPFLOW_PORT"):
        load_settings(environ={"SOPFLOW_PORT": "http"}, home=tmp_path)
    with pytest.raises(InvalidInput, match="unknown timezone 'Mars/Base'"):
        load_settings(environ={"SOPFLOW_TIMEZONE": "Mars/Base"}, home=tmp_path)


def test_production_refuses_placeholder_secrets(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="SOPFLOW_SECRET_KEY is a placeholder") as info:
        load_settings(environ={"SOPFLOW_ENV": "production"}, home=tmp_path)
    assert info.value.code == "placeholder_secret"
    env = {
        "SOPFLOW_ENV": "production",
        "SOPFLOW_SECRET_KEY": "x" * 40,
        "SOPFLOW_DATABASE_URL": "postgresql://sopflow:changethis@db/sopflow",
    }
    with pytest.raises(InvalidInput, match="database password"):
        load_settings(environ=env, home=tmp_path)
    env["SOPFLOW_DATABASE_URL"] = "postgresql://sopflow:s3cr3t-long@db/sopflow"
    assert load_settings(environ=env, home=tmp_path).env == "production"


def test_development_accepts_the_placeholder(tmp_path: Path) -> None:
    assert load_settings(environ={}, home=tmp_path).secret_key.get_secret_value() == "changethis"


def test_every_setting_is_documented() -> None:
    assert set(SETTINGS_HELP) == set(Settings.model_fields)
    for name, text in SETTINGS_HELP.items():
        assert len(text) > 15, f"setting {name} needs a help text"
