"""Typed settings: defaults < ``smsanalytics.toml`` < environment variables < CLI options.

The settings file is looked up at the project root (the first folder upward from the current
directory that holds ``smsanalytics.toml`` or ``pyproject.toml``), or given explicitly with
``SMSANALYTICS_CONFIG``. Keys live under a ``[smsanalytics]`` table; prices under
``[smsanalytics.price_per_segment]``. Environment variables are the upper-case key prefixed with
``SMSANALYTICS_`` (``SMSANALYTICS_DEFAULT_REGION=US``); ``SMSANALYTICS_PRICE_PER_SEGMENT`` takes
``FR=0.045,US=0.0079,default=0.05``.

Every value is validated when the settings are loaded, so a bad value stops the program at
start-up with a message naming the setting, where it came from, and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

__all__ = ["Settings", "SettingsError", "load_settings", "project_root", "DEFAULT_PRICES"]

ENV_PREFIX = "SMSANALYTICS_"
CONFIG_FILE = "smsanalytics.toml"
#: Values of the ``engine`` setting (as :data:`smsanalytics.engines.ENGINES`, which imports more).
ENGINES = ("duckdb", "spark")

#: Example prices per SMS segment in the settings' currency (EUR), by ISO country, for cost
#: estimates only; set your provider's prices in ``smsanalytics.toml``.
DEFAULT_PRICES: dict[str, float] = {
    "FR": 0.045,
    "BE": 0.06,
    "CH": 0.05,
    "GB": 0.035,
    "DE": 0.075,
    "ES": 0.05,
    "US": 0.0083,
    "CA": 0.0083,
    "default": 0.05,
}

_ISO_CURRENCIES = frozenset(
    "EUR USD GBP CHF CAD AUD JPY SEK NOK DKK PLN CZK HUF RON BGN BRL MXN INR CNY ZAR NZD SGD HKD".split()
)


class SettingsError(ValueError):
    """An invalid setting; the message names the setting, its source and the fix."""


@dataclass(frozen=True)
class Settings:
    """All the knobs of smsanalytics, with documented defaults.

    Parameters
    ----------
    warehouse_path
        DuckDB file of the warehouse. Default ``data/demo/warehouse.duckdb`` (relative to the
        project root).
    default_region
        ISO 3166-1 alpha-2 region used to read phone numbers written without ``+country``
        (``06 12 34 56 78`` → ``+33 6 12 34 56 78`` with ``FR``). Default ``FR``.
    default_timezone
        IANA zone given to contacts whose zone is neither in the file nor inferable from the
        number (recorded as ``timezone_source = 'default'``). Default ``Europe/Paris``.
    currency
        ISO 4217 currency of prices, costs and revenue. Default ``EUR``.
    price_per_segment
        Price of one SMS segment by ISO country, with a ``default`` entry for the others.
    compliance_rules
        Optional path to a compliance rules file (quiet hours, caps) overriding the shipped one.
    engine
        What runs the SQL relations of the verbs that build features and segments: ``duckdb``
        (the warehouse file, default) or ``spark`` (``docs/scale-out.md``).
    parquet_dir
        With ``engine = "spark"``: folder or URI (``s3a://…``) holding ``<table>.parquet`` for
        each canonical table. Default: none, the warehouse's tables are exported next to it.
    """

    warehouse_path: Path = Path("data/demo/warehouse.duckdb")
    default_region: str = "FR"
    default_timezone: str = "Europe/Paris"
    currency: str = "EUR"
    price_per_segment: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    compliance_rules: Path | None = None
    engine: str = "duckdb"
    parquet_dir: str | None = None
    #: Where each value came from (``default``, the file path, ``env``, ``cli``), for messages.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def price_for(self, country: str | None) -> float:
        """Price of one segment to ``country`` (the ``default`` entry when not listed)."""
        return float(self.price_per_segment.get(country or "", self.price_per_segment["default"]))

    def validate(self) -> Settings:
        """Check every value; raise :class:`SettingsError` naming the first bad one."""

        def bad(name: str, message: str) -> SettingsError:
            source = self.sources.get(name, "default")
            return SettingsError(f"setting {name!r} (from {source}): {message}")

        if self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise bad(
                "default_region",
                f"{self.default_region!r} is not an ISO 3166-1 alpha-2 region known to "
                "phonenumbers; use e.g. 'FR', 'US', 'GB'",
            )
        try:
            zoneinfo.ZoneInfo(self.default_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad(
                "default_timezone",
                f"{self.default_timezone!r} is not an IANA time zone; use e.g. 'Europe/Paris'",
            ) from None
        if self.currency not in _ISO_CURRENCIES:
            raise bad(
                "currency",
                f"{self.currency!r} is not a supported ISO 4217 code; use one of "
                f"{sorted(_ISO_CURRENCIES)}",
            )
        if "default" not in self.price_per_segment:
            raise bad("price_per_segment", "needs a 'default' entry for unlisted countries")
        for country, price in self.price_per_segment.items():
            if country != "default" and country not in phonenumbers.SUPPORTED_REGIONS:
                raise bad("price_per_segment", f"{country!r} is not an ISO 3166-1 alpha-2 region")
            if not isinstance(price, int | float) or isinstance(price, bool) or not (0 <= price < 10):
                raise bad(
                    "price_per_segment",
                    f"price for {country!r} must be a number between 0 and 10, got {price!r}",
                )
        if self.compliance_rules is not None and not Path(self.compliance_rules).is_file():
            raise bad("compliance_rules", f"file {str(self.compliance_rules)!r} does not exist")
        if self.engine not in ENGINES:
            raise bad("engine", f"{self.engine!r} is not an engine; use one of {list(ENGINES)}")
        if self.warehouse_path.suffix not in {".duckdb", ".db"}:
            raise bad(
                "warehouse_path",
                f"{str(self.warehouse_path)!r} should be a DuckDB file ending in .duckdb",
            )
        return self

    def with_overrides(self, source: str = "cli", **values: Any) -> Settings:
        """A copy with ``values`` (``None`` values ignored) applied, validated."""
        given = {k: v for k, v in values.items() if v is not None}
        return _build(self, given, source)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "sources"}


def _coerce(name: str, value: Any, source: str) -> Any:
    try:
        if name in {"warehouse_path", "compliance_rules"}:
            return Path(value) if value not in (None, "") else None
        if name == "price_per_segment":
            if isinstance(value, str):
                pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
                value = {k.strip(): float(v) for k, v in pairs}
            if not isinstance(value, Mapping):
                raise TypeError("expected a table of country = price")
            return {str(k): float(v) for k, v in value.items()}
        if name in {"default_region", "currency"}:
            return str(value).strip().upper()
        if name == "engine":
            return str(value).strip().lower()
        if name == "parquet_dir":  # a local folder or a URI (kept as text: s3a://… is no Path)
            return os.fspath(value).strip() or None
        return str(value).strip()
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r} (from {source}): cannot read {value!r}: {exc}") from None


def _build(base: Settings, values: Mapping[str, Any], source: str) -> Settings:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise SettingsError(
            f"unknown setting(s) {unknown} (from {source}); known settings: {sorted(_FIELDS)}"
        )
    coerced = {k: _coerce(k, v, source) for k, v in values.items()}
    if "price_per_segment" in coerced:  # a partial table extends the current one
        coerced["price_per_segment"] = {**base.price_per_segment, **coerced["price_per_segment"]}
    sources = {**base.sources, **dict.fromkeys(coerced, source)}
    return dataclasses.replace(base, **coerced, sources=sources).validate()


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``smsanalytics.toml`` or ``pyproject.toml``.

    Falls back to ``start`` (the current directory) when there is none.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / "pyproject.toml").is_file():
            return folder
    return here


def load_settings(
    config: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read the settings: defaults, then the TOML file, then environment, then ``overrides``.

    Parameters
    ----------
    config
        Settings file; default ``$SMSANALYTICS_CONFIG`` or ``smsanalytics.toml`` at the project root.
    environ
        Environment to read (default ``os.environ``).
    **overrides
        Values given on the command line (``None`` = not given).

    Returns
    -------
    Settings
        Validated; relative paths are resolved against the project root.

    Raises
    ------
    SettingsError
        When the file cannot be parsed or a value is invalid.
    """
    env = os.environ if environ is None else environ
    root = project_root()
    path = config or (Path(env[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in env else None)
    explicit = path is not None
    path = path or root / CONFIG_FILE
    settings = Settings()
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        section = data.get("smsanalytics", {})
        if not isinstance(section, dict):
            raise SettingsError(f"{path}: [smsanalytics] must be a table")
        settings = _build(settings, section, str(path))
    elif explicit:
        raise SettingsError(f"settings file {str(path)!r} does not exist")
    from_env = {
        name: env[ENV_PREFIX + name.upper()] for name in _FIELDS if ENV_PREFIX + name.upper() in env
    }
    if from_env:
        settings = _build(settings, from_env, "env")
    settings = settings.with_overrides("cli", **overrides).validate()
    if not settings.warehouse_path.is_absolute():
        settings = dataclasses.replace(settings, warehouse_path=root / settings.warehouse_path)
    folder = settings.parquet_dir
    if folder is not None and "://" not in folder and not Path(folder).is_absolute():
        settings = dataclasses.replace(settings, parquet_dir=str(root / folder))
    return settings
