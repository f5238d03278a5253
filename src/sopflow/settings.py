"""One validated ``Settings`` object, read from the environment and an optional TOML config file.

Precedence, highest first: values given in code (CLI options), ``SOPFLOW_<NAME>`` environment variables,
the config file, the defaults below. The config file is ``--config FILE``, else ``$SOPFLOW_CONFIG``, else
``<workspace>/sopflow.toml`` when it exists; its keys are the field names below (``max_batch_events = 500``).

Every field carries its help text (``description``); ``SETTINGS_HELP`` lists them for the docs, and a test
checks that none is missing. Outside development (``SOPFLOW_ENV=production``) placeholder secrets are refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.workspace import Workspace

ENV_PREFIX = "SOPFLOW_"
CONFIG_FILE_NAME = "sopflow.toml"
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "changeme", "change-me", "secret", "password"})
MiB = 1024 * 1024


class Settings(BaseModel):
    """Everything configurable about a sopflow installation (server, database, ingest limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: Literal["development", "production"] = Field(
        "development", description="development or production; production refuses placeholder secrets"
    )
    home: Path | None = Field(None, description="Workspace folder (like --workspace); default ./sopflow-data")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the app database; default SQLite at <workspace>/app.db "
        "(e.g. postgresql+psycopg://user:pass@host/sopflow)",
    )
    secret_key: SecretStr = Field(
        SecretStr("changethis"),
        description="Secret for signing console sessions; set a random value in production",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Timezone in which naive timestamps of ingested events are read"
    )
    host: str = Field("127.0.0.1", description="Address `sopflow serve` listens on")
    port: int = Field(8765, ge=1, le=65535, description="Port `sopflow serve` listens on")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `sopflow serve` runs; parsing and checking events is CPU work, so up to one "
        "per core speeds up ingest",
    )
    max_body_bytes: int = Field(
        20 * MiB, ge=1024, description="Largest accepted request body, as sent (compressed or not), in bytes"
    )
    max_decompressed_bytes: int = Field(
        64 * MiB, ge=1024, description="Largest request body after gzip/base64 decoding, in bytes"
    )
    max_batch_events: int = Field(10_000, ge=1, description="Most events accepted in one request")
    compact_after_events: int = Field(
        1_000_000,
        ge=0,
        description="The server seals its event log into the columnar store in the background once the log "
        "holds this many events, so analytics stay fast (0: never; `sopflow events compact` does it by hand)",
    )
    api_key_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long the server trusts a verified API key before checking the database again "
        "(a revoked key stops working within this time)",
    )
    spark_master: str = Field(
        "local[2]",
        description="Spark master URL for --engine spark: local[N] runs in this process on N cores; a cluster "
        "(spark://host:7077, yarn) needs sopflow installed on its workers",
    )
    spark_driver_memory: str = Field(
        "2g",
        pattern=r"^[0-9]+[kmgtKMGT]?$",
        description="Memory of the Spark driver JVM, e.g. 2g (in local mode it also runs the tasks)",
    )
    spark_java_options: str = Field(
        "",
        description="Extra JVM options for the Spark driver, e.g. -XX:TieredStopAtLevel=1 (starts about twice "
        "as fast, for small data; large jobs run slower)",
    )
    spark_shuffle_partitions: int = Field(
        8,
        ge=1,
        description="Partitions Spark spreads persons over; each is read whole into one Python worker, so "
        "raise it when a worker runs out of memory on a large dataset",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(_("unknown timezone {value!r}", value=value)) from None
        return value

    @property
    def workspace(self) -> Workspace:
        return Workspace.resolve(self.home)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.workspace.app_db}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


SETTINGS_HELP: dict[str, str] = {
    name: field.description or "" for name, field in Settings.model_fields.items()
}


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if environ.get(key):
            values[name] = environ[key]
    return values


def _config_path(
    config_file: Path | None, home: Path | str | None, environ: Mapping[str, str]
) -> Path | None:
    if config_file is not None:
        return config_file
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    candidate = Workspace.resolve(home).root / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InvalidInput(
            _("{file}: cannot read the config file: {reason}", file=path, reason=exc.strerror)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(_("{file}: not valid TOML: {reason}", file=path, reason=str(exc))) from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise InvalidInput(
            _(
                "{file}: unknown setting {name!r}; known settings: {known}",
                file=path,
                name=unknown[0],
                known=", ".join(Settings.model_fields),
            ),
            code="unknown_setting",
        )
    return data


def _refuse_placeholders(settings: Settings) -> None:
    if settings.env == "development":
        return
    if settings.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
        raise InvalidInput(
            _(
                "SOPFLOW_SECRET_KEY is a placeholder; set a long random value before running in {env}",
                env=settings.env,
            ),
            code="placeholder_secret",
        )
    password = urlsplit(settings.effective_database_url).password
    if password is not None and password in PLACEHOLDER_SECRETS:
        raise InvalidInput(
            _(
                "the database password in SOPFLOW_DATABASE_URL is a placeholder; change it before running in {env}",
                env=settings.env,
            ),
            code="placeholder_secret",
        )


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from defaults < config file < environment < ``overrides`` (``None`` values are ignored)."""
    env = os.environ if environ is None else environ
    given = {name: value for name, value in overrides.items() if value is not None}
    from_env = _from_environment(env)
    home = given.get("home", from_env.get("home"))
    path = _config_path(config_file, home, env)
    from_file = _read_config(path) if path is not None else {}
    try:
        settings = Settings.model_validate({**from_file, **from_env, **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        source = (
            path
            if name in from_file and name not in from_env and name not in given
            else ENV_PREFIX + name.upper()
        )
        raise InvalidInput(
            _("setting {name} ({source}): {reason}", name=name, source=source, reason=error["msg"]),
            code="invalid_setting",
        ) from None
    _refuse_placeholders(settings)
    return settings
