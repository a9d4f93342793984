"""Settings: defaults < smsanalytics.toml < environment < CLI, validated at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsanalytics.settings import Settings, SettingsError, load_settings


def test_defaults_are_valid():
    s = Settings().validate()
    assert (s.default_region, s.default_timezone, s.currency) == ("FR", "Europe/Paris", "EUR")
    assert s.price_for("FR") == 0.045 and s.price_for("ZZ") == s.price_per_segment["default"]


def test_precedence_file_env_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smsanalytics.toml").write_text(
        '[smsanalytics]\ndefault_region = "US"\ncurrency = "USD"\n'
        '[smsanalytics.price_per_segment]\nUS = 0.0079\n'
    )
    s = load_settings(environ={})
    assert (s.default_region, s.currency, s.price_for("US"), s.price_for("FR")) == ("US", "USD", 0.0079, 0.045)
    s = load_settings(environ={"SMSANALYTICS_DEFAULT_REGION": "GB"})
    assert s.default_region == "GB"
    s = load_settings(environ={"SMSANALYTICS_DEFAULT_REGION": "GB"}, default_region="CA")
    assert s.default_region == "CA"
    assert s.warehouse_path == tmp_path / "data/demo/warehouse.duckdb"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMSANALYTICS_DEFAULT_REGION": "XX"}, "default_region.*from env"),
        ({"SMSANALYTICS_DEFAULT_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"SMSANALYTICS_CURRENCY": "EURO"}, "ISO 4217"),
        ({"SMSANALYTICS_PRICE_PER_SEGMENT": "FR=-1"}, "between 0 and 10"),
        ({"SMSANALYTICS_PRICE_PER_SEGMENT": "FR=abc"}, "cannot read"),
        ({"SMSANALYTICS_PRICE_PER_SEGMENT": "ZZ=0.1"}, "ZZ"),
        ({"SMSANALYTICS_WAREHOUSE_PATH": "w.sqlite"}, "DuckDB file"),
        ({"SMSANALYTICS_COMPLIANCE_RULES": "/nonexistent/rules.toml"}, "does not exist"),
    ],
)
def test_invalid_setting_is_a_clear_error(tmp_path, monkeypatch, env, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env)


def test_unknown_key_in_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smsanalytics.toml").write_text('[smsanalytics]\ndefault_regoin = "US"\n')
    with pytest.raises(SettingsError, match="default_regoin"):
        load_settings(environ={})


def test_broken_toml_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smsanalytics.toml").write_text("[smsanalytics\n")
    with pytest.raises(SettingsError, match="smsanalytics.toml: not valid TOML"):
        load_settings(environ={})


def test_explicit_missing_config_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(Path(tmp_path / "nope.toml"), environ={})


def test_project_settings_file_is_valid():
    root = Path(__file__).resolve().parents[2]
    s = load_settings(root / "smsanalytics.toml", environ={})
    assert s.default_region == "FR"
