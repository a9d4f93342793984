"""Compliance rules, enforced in one place: consent, opt-out, quiet hours, frequency caps.

Everything a send plan must respect is computed here, on whole polars frames:

- :func:`load_rules` reads the editable rules file (``smsanalytics/rules/compliance.toml`` or
  the ``compliance_rules`` setting) into :class:`ComplianceRules`;
- :func:`screen_contacts` gives each contact the first reason it cannot be messaged (opted out,
  no consent, invalid, landline or non-mobile number, unknown time zone), never guessing;
- :func:`assign_jurisdictions` names the rules each contact is subject to (country, and US state
  from its ``region`` column and its area code);
- :func:`allowed_intervals` turns the rules into the UTC instants at which a message may go out,
  per (time zone, jurisdiction) and local day, exactly across DST changes;
- :func:`fit_windows` clips a requested window to the allowed time, or moves it to the next
  allowed time; :func:`apply_caps` applies frequency caps against messages already sent and
  planned; :func:`check_plan` re-checks a finished plan.

Time-zone arithmetic is vectorised with per-zone UTC-offset tables (:func:`utc_offset_segments`,
from :func:`smsanalytics.zones.offset_transitions`, then as-of joins), never with a ``zoneinfo``
call per row.

DST policy
----------
The allowed set is *the set of UTC instants whose local wall-clock time lies in
[start, end) on an allowed local day*. It is computed piece by piece over the spans of constant
UTC offset, so:

- a local bound that does not exist (spring-forward gap) starts or ends the allowed time at the
  transition instant (08:00 that does not exist → allowed from the first instant after the gap);
- local times that occur twice (fall-back fold) are allowed in both occurrences when they are in
  range, and a bound in the fold is applied to each occurrence: nothing is sent at an instant
  whose local reading is outside the allowed hours, whichever occurrence it is.

Caps
----
``per = "local_day"`` counts messages whose send time falls on the same calendar day in the
contact's zone; ``per = "<N>h"`` is a rolling window: a message planned in ``[s, e)`` counts
every other message (sent at a point, or planned in a window) that could fall less than N hours
from it, i.e. that intersects ``(s - N h, e + N h)``. That is conservative: whatever instants
the gateway picks inside the windows, no N-hour period holds more than the cap.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import holidays as holidays_lib
import phonenumbers
import polars as pl

from smsanalytics.rules import SHIPPED_RULES, rules_path, rules_sha256
from smsanalytics.zones import offset_transitions, valid_zones

__all__ = [
    "EXCLUSION_REASONS",
    "ComplianceError",
    "RulesError",
    "Cap",
    "Rule",
    "ComplianceRules",
    "load_rules",
    "US_AREA_CODES",
    "area_code_regions",
    "assign_jurisdictions",
    "screen_contacts",
    "opted_out_contacts",
    "utc_offset_segments",
    "to_local",
    "allowed_intervals",
    "fit_windows",
    "apply_caps",
    "check_plan",
]

UTC = dt.UTC
_TS = pl.Datetime("us", "UTC")
#: US area code → state table (see :func:`area_code_regions`).
US_AREA_CODES = SHIPPED_RULES.with_name("us_area_codes.csv")
_ONE_US = dt.timedelta(microseconds=1)

#: Every reason a contact can be left out of a plan, with its meaning (the ``reason`` column of
#: a plan's exclusions). ``holdout`` is not a compliance exclusion: it is the control group.
EXCLUSION_REASONS: dict[str, str] = {
    "unknown_contact": "the audience names a contact_id that is not in contacts",
    "opted_out": "opted out (opted_out_at, or a STOP reply not followed by START) at planning time",
    "no_consent": "no marketing consent recorded (consent_at is empty or later than planning time)",
    "invalid_phone": "phone number missing, not E.164, or not a valid number",
    "landline": "the number is a fixed line (cannot receive SMS)",
    "not_mobile": "the number type cannot receive marketing SMS (toll-free, premium, pager ...)",
    "unknown_timezone": "no known IANA zone (missing, invalid, or only the configured default)",
    "no_window": "the windows given hold no window for the contact",
    "quiet_hours": "no allowed local time in the contact's window before its deadline",
    "frequency_cap": "one more message would exceed a frequency cap (sent and planned counted)",
    "holdout": "kept out as the experiment's random control group (not a compliance exclusion)",
}

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CAP_PER = re.compile(r"^(?:local_day|([1-9][0-9]{0,3})h)$")
_E164 = r"^\+[1-9][0-9]{6,14}$"
_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
}


class ComplianceError(ValueError):
    """Input that the compliance rules cannot be applied to; the message names the fix."""


class RulesError(ComplianceError):
    """An invalid compliance rules file; the message names the file, the rule and the key."""


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cap:
    """A frequency cap: at most ``messages`` per local calendar day or per rolling window.

    Attributes
    ----------
    messages
        Maximum number of messages (0 forbids every message).
    per
        ``"local_day"`` or ``"<N>h"`` (a rolling window of N hours).
    """

    messages: int
    per: str

    @property
    def hours(self) -> int | None:
        """Length of the rolling window in hours (``None`` for ``local_day``)."""
        return None if self.per == "local_day" else int(self.per[:-1])

    @property
    def label(self) -> str:
        """``"3/24h"``, ``"1/local_day"``: how a violated cap is reported."""
        return f"{self.messages}/{self.per}"


@dataclass(frozen=True)
class Rule:
    """Quiet hours and caps of one jurisdiction (or of several combined).

    Attributes
    ----------
    id
        ``"US-FL"``; combined rules join their ids with ``+`` (``"US+US-FL"``).
    description
        Where the rule comes from.
    countries, regions
        ISO 3166-1 alpha-2 countries the rule applies to; regions (US state codes) narrowing it.
    start_minute, end_minute
        Allowed local time as minutes after midnight, ``[start, end)``; ``end`` may be 1440.
    days
        Allowed weekdays (0 = Monday).
    holidays
        Countries whose public holidays (``holidays`` package) are not allowed days.
    caps
        Frequency caps.
    """

    id: str
    description: str
    countries: tuple[str, ...]
    regions: tuple[str, ...]
    start_minute: int
    end_minute: int
    days: frozenset[int]
    holidays: tuple[str, ...]
    caps: tuple[Cap, ...]

    def matches(self, country: str | None, regions: Iterable[str]) -> bool:
        """Whether a contact of ``country`` in ``regions`` is subject to this rule."""
        if country is None or country not in self.countries:
            return False
        return not self.regions or bool(set(self.regions) & set(regions))


def _combine(rules: Sequence[Rule], extra_caps: Sequence[Cap]) -> Rule:
    caps: list[Cap] = []
    for cap in [c for r in rules for c in r.caps] + list(extra_caps):
        if cap not in caps:
            caps.append(cap)
    return Rule(
        id="+".join(r.id for r in rules),
        description=" | ".join(r.description for r in rules),
        countries=tuple(sorted({c for r in rules for c in r.countries})),
        regions=tuple(sorted({c for r in rules for c in r.regions})),
        start_minute=max(r.start_minute for r in rules),
        end_minute=min(r.end_minute for r in rules),
        days=frozenset.intersection(*(r.days for r in rules)),
        holidays=tuple(sorted({h for r in rules for h in r.holidays})),
        caps=tuple(caps),
    )


@dataclass(frozen=True)
class ComplianceRules:
    """The rules of a rules file (see ``smsanalytics/rules/compliance.toml``).

    Attributes
    ----------
    rules
        Jurisdiction rules in file order.
    default
        Rule for contacts no jurisdiction rule matches.
    global_caps
        Caps applied to every contact (``[all]``).
    opt_out_keywords, opt_in_keywords
        Upper-case reply keywords that opt out and back in.
    allowed_phone_types
        ``phone_type`` values that may receive SMS.
    accepted_timezone_sources
        ``timezone_source`` values whose zone is trusted.
    source, sha256
        The file read and the SHA-256 of its bytes (recorded in every plan's manifest).
    """

    rules: tuple[Rule, ...]
    default: Rule
    global_caps: tuple[Cap, ...]
    opt_out_keywords: frozenset[str]
    opt_in_keywords: frozenset[str]
    allowed_phone_types: frozenset[str]
    accepted_timezone_sources: frozenset[str]
    source: str
    sha256: str
    _effective: dict[str, Rule] = field(default_factory=dict, compare=False, repr=False)

    @property
    def regional_countries(self) -> frozenset[str]:
        """Countries that have rules narrowed by region (the US in the shipped file)."""
        return frozenset(c for r in self.rules if r.regions for c in r.countries)

    def jurisdiction(self, country: str | None, regions: Iterable[str] = ()) -> str:
        """Id of the jurisdiction a contact is subject to: matching rule ids joined by ``+``."""
        regions = tuple(regions)
        ids = [r.id for r in self.rules if r.matches(country, regions)]
        return "+".join(ids) if ids else self.default.id

    def effective(self, jurisdiction: str) -> Rule:
        """The combined rule of a jurisdiction id (with the global caps).

        Raises
        ------
        KeyError
            When an id in ``jurisdiction`` is not a rule of this file.
        """
        if jurisdiction not in self._effective:
            by_id = {r.id: r for r in (*self.rules, self.default)}
            parts = jurisdiction.split("+")
            unknown = [p for p in parts if p not in by_id]
            if unknown:
                raise KeyError(
                    f"rule(s) {unknown} are not in {self.source}; rules: {sorted(by_id)}"
                )
            self._effective[jurisdiction] = _combine([by_id[p] for p in parts], self.global_caps)
        return self._effective[jurisdiction]

    def max_cap_hours(self) -> int:
        """The longest rolling cap window in hours (24 when there is only ``local_day``)."""
        caps = [c for r in (*self.rules, self.default) for c in r.caps] + list(self.global_caps)
        return max([c.hours or 24 for c in caps] + [24])


def _minutes(value: Any, where: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise RulesError(f"{where}: times are 'HH:MM' strings, got {value!r}")
    h, m = int(value[:2]), int(value[3:])
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise RulesError(f"{where}: {value!r} is not a time between 00:00 and 24:00")
    return h * 60 + m


def _caps(items: Any, where: str) -> tuple[Cap, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise RulesError(f"{where}: caps is a list of {{ messages = N, per = 'local_day' | 'Nh' }}")
    caps = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"messages", "per"}:
            raise RulesError(f"{where}: each cap needs exactly 'messages' and 'per', got {item!r}")
        n, per = item["messages"], item["per"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise RulesError(f"{where}: cap messages must be an integer >= 0, got {n!r}")
        if not isinstance(per, str) or not _CAP_PER.match(per):
            raise RulesError(
                f"{where}: cap per must be 'local_day' or '<hours>h' (e.g. '24h'), got {per!r}"
            )
        caps.append(Cap(n, per))
    return tuple(caps)


def _rule(data: Any, where: str, *, default: bool = False) -> Rule:
    if not isinstance(data, dict):
        raise RulesError(f"{where}: must be a table")
    known = {"id", "description", "countries", "regions", "hours", "days", "holidays", "caps"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", rule_id):
        raise RulesError(f"{where}: 'id' must be letters, digits, '-' or '_', got {rule_id!r}")
    where = f"{where} (id {rule_id!r})"
    countries = data.get("countries", [])
    if default:
        if countries or data.get("regions"):
            raise RulesError(f"{where}: the default rule has no countries or regions")
    elif not countries or not all(
        isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c) for c in countries
    ):
        raise RulesError(f"{where}: 'countries' must list ISO 3166-1 alpha-2 codes such as 'US'")
    regions = data.get("regions", [])
    if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        raise RulesError(f"{where}: 'regions' must list region codes such as 'FL'")
    hours = data.get("hours")
    if not isinstance(hours, list) or len(hours) != 2:
        raise RulesError(f"{where}: 'hours' must be [start, end], e.g. ['08:00', '21:00']")
    start, end = _minutes(hours[0], where), _minutes(hours[1], where)
    if start >= end:
        raise RulesError(
            f"{where}: hours start {hours[0]} must be before end {hours[1]} (same day)"
        )
    days = data.get("days", list(_DAYS))
    if not isinstance(days, list) or not days or not all(d in _DAYS for d in days):
        raise RulesError(f"{where}: 'days' must list some of {list(_DAYS)}")
    hol = data.get("holidays", [])
    hol = [hol] if isinstance(hol, str) else hol
    for code in hol:
        try:
            holidays_lib.country_holidays(code, years=2026)
        except (NotImplementedError, KeyError, TypeError):
            raise RulesError(
                f"{where}: no holiday calendar for {code!r} in the holidays package"
            ) from None
    return Rule(
        id=rule_id,
        description=str(data.get("description", "")),
        countries=tuple(countries),
        regions=tuple(r.upper() for r in regions),
        start_minute=start,
        end_minute=end,
        days=frozenset(_DAYS[d] for d in days),
        holidays=tuple(hol),
        caps=_caps(data.get("caps"), where),
    )


def load_rules(path: str | Path | None = None) -> ComplianceRules:
    """Read a compliance rules file.

    Parameters
    ----------
    path
        The rules file (normally the ``compliance_rules`` setting); ``None`` reads the shipped
        ``smsanalytics/rules/compliance.toml``.

    Returns
    -------
    ComplianceRules

    Raises
    ------
    RulesError
        Naming the file, the rule and the key at fault.

    Examples
    --------
    >>> rules = load_rules()
    >>> rules.jurisdiction("US", ["FL"])
    'US+US-FL'
    >>> fl = rules.effective("US+US-FL")
    >>> (fl.start_minute // 60, fl.end_minute // 60, [c.label for c in fl.caps])
    (8, 20, ['3/24h', '1/local_day'])
    """
    file = rules_path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"compliance rules file {str(file)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{file}: not valid TOML: {exc}") from None
    if data.get("format_version") != 1:
        raise RulesError(f"{file}: format_version = 1 is required")
    default = _rule(data.get("default"), f"{file} [default]", default=True)
    rules = tuple(_rule(r, f"{file} [[rule]] #{i + 1}") for i, r in enumerate(data.get("rule", [])))
    ids = [r.id for r in (*rules, default)]
    if len(set(ids)) != len(ids):
        raise RulesError(f"{file}: rule ids must be unique, got {ids}")
    consent = data.get("consent", {})
    phone = data.get("phone", {})
    tz = data.get("timezone", {})
    return ComplianceRules(
        rules=rules,
        default=default,
        global_caps=_caps(data.get("all", {}).get("caps"), f"{file} [all]"),
        opt_out_keywords=frozenset(k.upper() for k in consent.get("opt_out_keywords", ["STOP"])),
        opt_in_keywords=frozenset(k.upper() for k in consent.get("opt_in_keywords", ["START"])),
        allowed_phone_types=frozenset(
            phone.get("allowed_types", ["mobile", "fixed_line_or_mobile", "voip"])
        ),
        accepted_timezone_sources=frozenset(tz.get("accepted_sources", ["explicit", "number"])),
        source=str(file),
        sha256=rules_sha256(file),
    )


# --------------------------------------------------------------------------------------------
# Contacts: jurisdiction and eligibility
# --------------------------------------------------------------------------------------------


@cache
def area_code_regions() -> pl.DataFrame:
    """US area codes (NPA) and their state, from ``smsanalytics/rules/us_area_codes.csv``.

    The file was generated from the ``phonenumbers`` geocoder data (importing the geocoder takes
    seconds, so the table is shipped as data); non-geographic codes (800, 900 …) are absent.

    Returns
    -------
    polars.DataFrame
        ``npa`` (String, 3 digits), ``region`` (String, USPS state code such as ``FL``).
    """
    return pl.read_csv(
        US_AREA_CODES, comment_prefix="#", schema={"npa": pl.String, "region": pl.String}
    )


def assign_jurisdictions(contacts: pl.DataFrame, rules: ComplianceRules) -> pl.DataFrame:
    """Add the ``jurisdiction`` (rule ids joined by ``+``) each contact is subject to.

    Parameters
    ----------
    contacts
        ``country`` (String, ISO alpha-2; null → the default rule), ``phone_e164`` (String),
        and optionally ``region`` (String, e.g. ``FL`` or ``US-FL``): a contact is subject to the
        rules of its explicit region *and* of its number's area code.
    rules
        The rules in force.

    Returns
    -------
    polars.DataFrame
        ``contacts`` with ``number_region`` and ``jurisdiction`` (String) added.
    """
    country = (
        pl.col("country").cast(pl.String).str.to_uppercase()
        if "country" in contacts.columns
        else pl.lit(None, pl.String)
    )
    region = (
        pl.col("region").cast(pl.String).str.to_uppercase().str.replace(r"^[A-Z]{2}-", "")
        if "region" in contacts.columns
        else pl.lit(None, pl.String)
    )
    frame = contacts.with_columns(
        country.alias("_country"),
        region.alias("_region"),
        pl.when(pl.col("phone_e164").str.starts_with("+1"))
        .then(pl.col("phone_e164").str.slice(2, 3))
        .alias("_npa"),
    )
    if "US" in rules.regional_countries:
        frame = frame.join(
            area_code_regions().rename({"npa": "_npa", "region": "number_region"}),
            on="_npa",
            how="left",
            maintain_order="left",
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("number_region"))
    combos = frame.select("_country", "number_region", "_region").unique()
    ids = [rules.jurisdiction(c, [r for r in (nr, rr) if r]) for c, nr, rr in combos.iter_rows()]
    combos = combos.with_columns(pl.Series("jurisdiction", ids, dtype=pl.String))
    return frame.join(
        combos,
        on=["_country", "number_region", "_region"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).drop("_country", "_region", "_npa")


def _keyword_flags(inbound: pl.DataFrame, rules: ComplianceRules) -> pl.DataFrame:
    word = pl.coalesce(
        pl.col("keyword").cast(pl.String).str.strip_chars().str.to_uppercase()
        if "keyword" in inbound.columns
        else pl.lit(None, pl.String),
        pl.lit(None, pl.String),
    )
    body = (
        pl.col("body").cast(pl.String).str.strip_chars().str.strip_chars(".!").str.to_uppercase()
        if "body" in inbound.columns
        else pl.lit(None, pl.String)
    )
    out_words = sorted(rules.opt_out_keywords)
    in_words = sorted(rules.opt_in_keywords)
    return inbound.select(
        pl.col("contact_id").cast(pl.Int64),
        pl.col("received_at").cast(_TS),
        (word.is_in(out_words).fill_null(False) | body.is_in(out_words).fill_null(False)).alias(
            "is_stop"
        ),
        (word.is_in(in_words).fill_null(False) | body.is_in(in_words).fill_null(False)).alias(
            "is_start"
        ),
    )


def opted_out_contacts(
    contacts: pl.DataFrame,
    rules: ComplianceRules,
    *,
    at: dt.datetime,
    inbound: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Whether each contact is opted out at instant ``at``.

    A contact is opted out when its latest opt-out (``opted_out_at``, or an inbound reply whose
    keyword or whole body is an opt-out keyword) at or before ``at`` is not followed by an
    opt-in reply (``START``) at or before ``at``.

    Parameters
    ----------
    contacts
        ``contact_id`` (Int64) and optionally ``opted_out_at`` (Datetime UTC).
    rules
        Supplies the keywords.
    at
        The instant of the decision (planning or sending time), timezone-aware.
    inbound
        Replies: ``contact_id``, ``received_at``, ``keyword`` and/or ``body``.

    Returns
    -------
    polars.DataFrame
        ``contact_id``, ``is_opted_out`` (Boolean), ``opted_out_at`` (the opt-out in force).
    """
    at = _utc(at, "at")
    base = contacts.select(
        pl.col("contact_id").cast(pl.Int64),
        (
            pl.col("opted_out_at").cast(_TS)
            if "opted_out_at" in contacts.columns
            else pl.lit(None, _TS)
        ).alias("_declared"),
    ).with_columns(pl.when(pl.col("_declared") <= at).then(pl.col("_declared")).alias("_declared"))
    if inbound is not None and inbound.height:
        flags = _keyword_flags(inbound, rules).filter(pl.col("received_at") <= at)
        last = flags.group_by("contact_id").agg(
            pl.col("received_at").filter(pl.col("is_stop")).max().alias("_stop"),
            pl.col("received_at").filter(pl.col("is_start")).max().alias("_start"),
        )
        base = base.join(last, on="contact_id", how="left", maintain_order="left")
    else:
        base = base.with_columns(
            pl.lit(None, _TS).alias("_stop"), pl.lit(None, _TS).alias("_start")
        )
    out = pl.max_horizontal("_declared", "_stop")
    return base.select(
        "contact_id",
        (out.is_not_null() & (pl.col("_start").is_null() | (pl.col("_start") < out))).alias(
            "is_opted_out"
        ),
        out.alias("opted_out_at"),
    )


def _phone_types(numbers: list[str]) -> dict[str, str]:
    types: dict[str, str] = {}
    for number in numbers:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            types[number] = "invalid"
            continue
        if not phonenumbers.is_valid_number(parsed):
            types[number] = "invalid"
        else:
            types[number] = _PHONE_TYPES.get(phonenumbers.number_type(parsed), "unknown")
    return types


def screen_contacts(
    contacts: pl.DataFrame,
    rules: ComplianceRules,
    *,
    at: dt.datetime,
    inbound: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Give every contact the first reason it cannot be messaged (null when it can).

    Reasons, in order of precedence: ``opted_out``, ``no_consent``, ``invalid_phone``,
    ``landline``, ``not_mobile``, ``unknown_timezone`` (see :data:`EXCLUSION_REASONS`). Nothing
    is guessed: a number whose type is unknown is classified with ``phonenumbers``, a zone that
    came from the configured default is not a known zone.

    Parameters
    ----------
    contacts
        ``contact_id`` (Int64), ``phone_e164`` (String), ``timezone`` (String, IANA),
        ``consent_at`` and ``opted_out_at`` (Datetime UTC); optional ``phone_type`` and
        ``timezone_source`` (String, as in the ``contacts`` table).
    rules
        The rules in force.
    at
        Planning (or sending) instant: consent must be given and opt-outs are counted by then.
    inbound
        Replies (``contact_id``, ``received_at``, ``keyword``/``body``) for STOP/START.

    Returns
    -------
    polars.DataFrame
        ``contacts`` with ``reason`` and ``detail`` (String, null for an eligible contact).

    Raises
    ------
    ComplianceError
        When a required column is missing.
    """
    at = _utc(at, "at")
    missing = [
        c
        for c in ("contact_id", "phone_e164", "timezone", "consent_at")
        if c not in contacts.columns
    ]
    if missing:
        raise ComplianceError(
            f"contacts lack column(s) {missing} needed to check consent, number and time zone; "
            "pass rows of the warehouse contacts table"
        )
    opted = opted_out_contacts(contacts, rules, at=at, inbound=inbound)
    phone = pl.col("phone_e164").cast(pl.String)
    ptype = (
        pl.col("phone_type").cast(pl.String).str.to_lowercase()
        if "phone_type" in contacts.columns
        else pl.lit(None, pl.String)
    )
    frame = contacts.with_columns(
        opted.get_column("is_opted_out").alias("_opted_out"),
        phone.str.contains(_E164).fill_null(False).alias("_e164"),
        ptype.alias("_ptype"),
    )
    unknown_type = (
        frame.filter(
            pl.col("_e164") & (pl.col("_ptype").is_null() | pl.col("_ptype").is_in(["unknown", ""]))
        )
        .get_column("phone_e164")
        .unique()
        .to_list()
    )
    if unknown_type:
        looked_up = _phone_types(unknown_type)
        lookup = pl.DataFrame(
            {"phone_e164": list(looked_up), "_looked_up": list(looked_up.values())},
            schema={"phone_e164": pl.String, "_looked_up": pl.String},
        )
        frame = (
            frame.join(lookup, on="phone_e164", how="left", maintain_order="left")
            .with_columns(pl.coalesce(pl.col("_looked_up"), pl.col("_ptype")).alias("_ptype"))
            .drop("_looked_up")
        )
    zones = frame.get_column("timezone").cast(pl.String).drop_nulls().unique().to_list()
    known = set(valid_zones(zones))
    bad_zones = [z for z in zones if z not in known]
    tz_ok = pl.col("timezone").is_not_null() & ~pl.col("timezone").is_in(bad_zones)
    if "timezone_source" in frame.columns:
        tz_ok = tz_ok & pl.col("timezone_source").is_in(
            sorted(rules.accepted_timezone_sources)
        ).fill_null(False)
    consent = pl.col("consent_at").cast(_TS)
    allowed = sorted(rules.allowed_phone_types)
    reason = (
        pl.when(pl.col("_opted_out"))
        .then(pl.lit("opted_out"))
        .when(consent.is_null() | (consent > at))
        .then(pl.lit("no_consent"))
        .when(~pl.col("_e164") | (pl.col("_ptype") == "invalid"))
        .then(pl.lit("invalid_phone"))
        .when(pl.col("_ptype") == "fixed_line")
        .then(pl.lit("landline"))
        .when(~pl.col("_ptype").is_in(allowed).fill_null(False))
        .then(pl.lit("not_mobile"))
        .when(~tz_ok)
        .then(pl.lit("unknown_timezone"))
    )
    detail = (
        pl.when(pl.col("reason") == "not_mobile")
        .then(pl.lit("phone_type ") + pl.col("_ptype").fill_null("unknown"))
        .when(pl.col("reason") == "unknown_timezone")
        .then(
            pl.lit("timezone ")
            + pl.col("timezone").cast(pl.String).fill_null("null")
            + (
                pl.lit(" (source ")
                + pl.col("timezone_source").cast(pl.String).fill_null("null")
                + pl.lit(")")
                if "timezone_source" in frame.columns
                else pl.lit("")
            )
        )
    )
    screened = frame.with_columns(reason.alias("reason"))
    # the detail is built for the rows that have one (~1 % of a base): the string concatenations
    # evaluated over every row took longer than the rest of the screen
    explained = screened.select(
        pl.arg_where(pl.col("reason").is_in(["not_mobile", "unknown_timezone"]))
    ).to_series()
    details = pl.repeat(None, screened.height, dtype=pl.String, eager=True).scatter(
        explained, screened[explained].select(detail).to_series()
    )
    return screened.with_columns(details.alias("detail")).drop("_opted_out", "_e164", "_ptype")


# --------------------------------------------------------------------------------------------
# Time: offsets, allowed intervals, windows, caps
# --------------------------------------------------------------------------------------------


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ComplianceError(f"{name} must be a timezone-aware datetime (UTC), got {value!r}")
    return value.astimezone(UTC)


@cache
def _zone_segments(
    name: str, start: dt.datetime, end: dt.datetime
) -> tuple[tuple[dt.datetime, int], ...]:
    """Spans of constant UTC offset of zone ``name`` covering ``[start, end]``: (from, offset).

    From :func:`smsanalytics.zones.offset_transitions` (``zoneinfo``'s offsets, exact to the
    second).
    """
    at, offsets = offset_transitions(name, start, end)
    changes = [dt.datetime.fromtimestamp(t, UTC) for t in at.tolist()]
    return tuple(zip([start, *changes], offsets.tolist(), strict=True))


def _horizon(start_at: dt.datetime, end_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    # whole UTC days with two days of margin either side: every local day touching the range
    # is covered, and the cache sees few distinct keys
    s = _utc(start_at, "start_at").replace(
        hour=0, minute=0, second=0, microsecond=0
    ) - dt.timedelta(days=2)
    e = _utc(end_at, "end_at").replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=3
    )
    return s, e


def utc_offset_segments(
    zones: Iterable[str], start_at: dt.datetime, end_at: dt.datetime
) -> pl.DataFrame:
    """Per-zone table of UTC offsets in force, for as-of joins.

    Parameters
    ----------
    zones
        IANA zone names.
    start_at, end_at
        The instants to cover (two days of margin are added).

    Returns
    -------
    polars.DataFrame
        ``timezone`` (String), ``valid_from_at`` (Datetime UTC), ``offset_seconds`` (Int64):
        the offset in force from ``valid_from_at`` until the next row of the zone.
    """
    h0, h1 = _horizon(start_at, end_at)
    tz_col, from_col, off_col = [], [], []
    for zone in sorted(set(zones)):
        for at, offset in _zone_segments(zone, h0, h1):
            tz_col.append(zone)
            from_col.append(at)
            off_col.append(offset)
    return pl.DataFrame(
        {"timezone": tz_col, "valid_from_at": from_col, "offset_seconds": off_col},
        schema={"timezone": pl.String, "valid_from_at": _TS, "offset_seconds": pl.Int64},
    )


def to_local(
    frame: pl.DataFrame,
    at_column: str,
    offsets: pl.DataFrame,
    *,
    name: str | None = None,
    keep_order: bool = True,
) -> pl.DataFrame:
    """Add the local wall-clock time of ``at_column`` in each row's ``timezone``.

    Parameters
    ----------
    frame
        Has ``timezone`` (String) and ``at_column`` (Datetime UTC).
    offsets
        From :func:`utc_offset_segments`, covering the instants of ``frame``.
    name
        Output column (default ``<at_column>`` with ``_at`` replaced by ``_local``): a naive
        Datetime holding the local wall-clock reading.
    keep_order
        Return the rows in their input order (else sorted by ``at_column``, which is cheaper).

    Returns
    -------
    polars.DataFrame
        ``frame`` with the local time column.
    """
    name = name or at_column.removesuffix("_at") + "_local"
    indexed = (frame.with_row_index("_row") if keep_order else frame).sort(at_column)
    joined = indexed.join_asof(
        offsets.sort("valid_from_at"),
        left_on=at_column,
        right_on="valid_from_at",
        by="timezone",
        strategy="backward",
        check_sortedness=False,
    )
    out = joined.with_columns(
        (
            pl.col(at_column).dt.replace_time_zone(None)
            + pl.duration(seconds=pl.col("offset_seconds"))
        ).alias(name)
    ).drop("valid_from_at", "offset_seconds")
    return out.sort("_row").drop("_row") if keep_order else out


@cache
def _holidays(codes: tuple[str, ...], years: tuple[int, ...]) -> frozenset[dt.date]:
    days: set[dt.date] = set()
    for code in codes:
        days.update(holidays_lib.country_holidays(code, years=list(years)).keys())
    return frozenset(days)


def allowed_intervals(
    pairs: pl.DataFrame,
    start_at: dt.datetime,
    end_at: dt.datetime,
    rules: ComplianceRules,
) -> pl.DataFrame:
    """The UTC intervals in which a message may go out, per (time zone, jurisdiction, local day).

    Parameters
    ----------
    pairs
        Distinct ``timezone`` (String, valid IANA) and ``jurisdiction`` (String) combinations.
    start_at, end_at
        Instants to cover (local days touching them are all included).
    rules
        The rules in force.

    Returns
    -------
    polars.DataFrame
        ``timezone``, ``jurisdiction``, ``local_date`` (Date), ``allowed_start_at``,
        ``allowed_end_at`` (Datetime UTC, end exclusive). An interval never spans two local
        days; a day split by a DST change may hold two intervals. See the module's DST policy.
    """
    h0, h1 = _horizon(start_at, end_at)
    years = tuple(range(h0.year, h1.year + 1))
    cols: dict[str, list[Any]] = {
        k: [] for k in ("timezone", "jurisdiction", "local_date", "s", "e")
    }
    by_zone: dict[str, list[str]] = {}
    for zone, jurisdiction in pairs.select("timezone", "jurisdiction").unique().iter_rows():
        by_zone.setdefault(zone, []).append(jurisdiction)
    for zone, jurisdictions in sorted(by_zone.items()):
        segments = _zone_segments(zone, h0, h1)
        bounds = [
            (s, segments[i + 1][0] if i + 1 < len(segments) else h1, o)
            for i, (s, o) in enumerate(segments)
        ]
        first_day = (h0 + dt.timedelta(seconds=min(o for _, o in segments))).date()
        last_day = (h1 + dt.timedelta(seconds=max(o for _, o in segments))).date()
        days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
        for jurisdiction in sorted(set(jurisdictions)):
            rule = rules.effective(jurisdiction)
            if rule.start_minute >= rule.end_minute or not rule.days:
                continue
            off_days = _holidays(rule.holidays, years) if rule.holidays else frozenset()
            for day in days:
                if day.weekday() not in rule.days or day in off_days:
                    continue
                midnight = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
                lo = midnight + dt.timedelta(minutes=rule.start_minute)
                hi = midnight + dt.timedelta(minutes=rule.end_minute)
                pieces: list[list[dt.datetime]] = []
                for seg_start, seg_end, offset in bounds:
                    s = max(lo - dt.timedelta(seconds=offset), seg_start)
                    e = min(hi - dt.timedelta(seconds=offset), seg_end)
                    if s < e:
                        if pieces and pieces[-1][1] >= s:
                            pieces[-1][1] = max(pieces[-1][1], e)
                        else:
                            pieces.append([s, e])
                for s, e in pieces:
                    cols["timezone"].append(zone)
                    cols["jurisdiction"].append(jurisdiction)
                    cols["local_date"].append(day)
                    cols["s"].append(s)
                    cols["e"].append(e)
    return pl.DataFrame(
        {
            "timezone": cols["timezone"],
            "jurisdiction": cols["jurisdiction"],
            "local_date": cols["local_date"],
            "allowed_start_at": cols["s"],
            "allowed_end_at": cols["e"],
        },
        schema={
            "timezone": pl.String,
            "jurisdiction": pl.String,
            "local_date": pl.Date,
            "allowed_start_at": _TS,
            "allowed_end_at": _TS,
        },
    )


def fit_windows(
    requests: pl.DataFrame, intervals: pl.DataFrame, *, keep_order: bool = True
) -> pl.DataFrame:
    """Clip each requested window to allowed time, or move it to the next allowed time.

    The first allowed interval (of the row's time zone and jurisdiction) that ends after the
    window starts is used: if it overlaps the window, the window is clipped to the overlap
    (``[max(start, allowed_start), min(end, allowed_end))``); if it lies after the window, the
    window is moved to start there, keeping its length (clipped to the interval's end), provided
    it starts before the row's ``latest_start_at``. Otherwise the row gets ``reason =
    "quiet_hours"``.

    Parameters
    ----------
    requests
        ``timezone``, ``jurisdiction`` (String), ``window_start_at``, ``window_end_at``,
        ``latest_start_at`` (Datetime UTC) and any other columns (kept).
    intervals
        From :func:`allowed_intervals`, covering the requests.
    keep_order
        Return the rows in their input order (else sorted by window start, which is cheaper).

    Returns
    -------
    polars.DataFrame
        ``requests`` with ``start_at``, ``end_at`` (Datetime UTC, null when excluded),
        ``local_date`` (Date), ``is_moved`` (Boolean) and ``fit_reason`` (String).
    """
    left = (requests.with_row_index("_row") if keep_order else requests).sort("window_start_at")
    right = intervals.sort("allowed_end_at")
    j = left.join_asof(
        right,
        left_on="window_start_at",
        right_on="allowed_end_at",
        by=["timezone", "jurisdiction"],
        strategy="forward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    ws, we = pl.col("window_start_at"), pl.col("window_end_at")
    a0, a1 = pl.col("allowed_start_at"), pl.col("allowed_end_at")
    overlaps = a0.is_not_null() & (a0 < we)
    movable = a0.is_not_null() & (a0 >= we) & (a0 < pl.col("latest_start_at"))
    start = pl.when(overlaps).then(pl.max_horizontal(ws, a0)).when(movable).then(a0)
    end = (
        pl.when(overlaps)
        .then(pl.min_horizontal(we, a1))
        .when(movable)
        .then(pl.min_horizontal(a0 + (we - ws), a1))
    )
    out = j.with_columns(
        start.alias("start_at"),
        end.alias("end_at"),
        pl.when(overlaps | movable).then(pl.col("local_date")).alias("local_date"),
        movable.fill_null(False).alias("is_moved"),
        pl.when(~(overlaps | movable).fill_null(False))
        .then(pl.lit("quiet_hours"))
        .alias("fit_reason"),
    ).drop("allowed_start_at", "allowed_end_at")
    return out.sort("_row").drop("_row") if keep_order else out


def _cap_table(jurisdictions: Iterable[str], rules: ComplianceRules) -> pl.DataFrame:
    rows = [
        (j, cap.messages, cap.per, cap.hours, cap.label)
        for j in sorted(set(jurisdictions))
        for cap in rules.effective(j).caps
    ]
    return pl.DataFrame(
        rows,
        schema={
            "jurisdiction": pl.String,
            "cap_messages": pl.Int64,
            "cap_per": pl.String,
            "cap_hours": pl.Int64,
            "cap_label": pl.String,
        },
        orient="row",
    )


def apply_caps(
    rows: pl.DataFrame,
    prior: pl.DataFrame | None,
    rules: ComplianceRules,
    offsets: pl.DataFrame,
) -> pl.DataFrame:
    """Flag planned messages that would exceed a frequency cap.

    Parameters
    ----------
    rows
        Planned messages, at most one per contact: ``contact_id`` (Int64), ``timezone``,
        ``jurisdiction`` (String), ``start_at``, ``end_at`` (Datetime UTC) and ``local_date``
        (Date, the local day of the window).
    prior
        Other messages of the same contacts, sent or planned: ``contact_id``, ``start_at`` and
        ``end_at`` (Datetime UTC; a sent message has ``end_at == start_at``). ``None`` = none.
    rules
        The rules in force (caps per jurisdiction plus ``[all]``).
    offsets
        From :func:`utc_offset_segments`, covering the prior messages' instants.

    Returns
    -------
    polars.DataFrame
        ``rows`` with ``cap_violation`` (String, e.g. ``"3/24h"``; null when within every cap).
    """
    caps = _cap_table(rows.get_column("jurisdiction").unique().to_list(), rules)
    indexed = rows.with_row_index("_row")
    # a cap of 0 refuses every message; otherwise only contacts with prior messages can hit one
    zero = (
        caps.filter(pl.col("cap_messages") < 1)
        .group_by("jurisdiction")
        .agg(pl.col("cap_label").sort().first().alias("_zero"))
    )
    violations = [
        indexed.join(zero, on="jurisdiction", how="inner").select(
            "_row", pl.col("_zero").alias("cap_violation")
        )
    ]
    if prior is not None and prior.height:
        ids = prior.get_column("contact_id").cast(pl.Int64)
        touched = indexed.filter(pl.col("contact_id").is_in(ids))
        p = prior.select(
            pl.col("contact_id").cast(pl.Int64),
            pl.col("start_at").cast(_TS).alias("p_start"),
            pl.max_horizontal(
                pl.col("end_at").cast(_TS), pl.col("start_at").cast(_TS) + _ONE_US
            ).alias("p_end"),
        ).join(
            touched.select("contact_id", "timezone").unique("contact_id"),
            on="contact_id",
            how="inner",
        )
        p = to_local(p, "p_start", offsets, name="p_start_local", keep_order=False)
        p = to_local(
            p.with_columns((pl.col("p_end") - _ONE_US).alias("p_last")),
            "p_last",
            offsets,
            name="p_last_local",
            keep_order=False,
        )
        per_cap = touched.select(
            "_row", "contact_id", "jurisdiction", "start_at", "end_at", "local_date"
        ).join(caps, on="jurisdiction", how="inner")
        pairs = per_cap.join(p.drop("timezone"), on="contact_id", how="inner")
        hours = pl.duration(hours=pl.col("cap_hours"))
        hit = (
            pl.when(pl.col("cap_per") == "local_day")
            .then(
                (pl.col("p_start_local").dt.date() == pl.col("local_date"))
                | (pl.col("p_last_local").dt.date() == pl.col("local_date"))
            )
            .otherwise(
                (pl.col("p_start") < pl.col("end_at") + hours)
                & (pl.col("p_end") > pl.col("start_at") - hours)
            )
        )
        counted = pairs.filter(hit).group_by("_row", "cap_label", "cap_messages").len("_n")
        violations.append(
            counted.filter(pl.col("_n") + 1 > pl.col("cap_messages")).select(
                "_row", pl.col("cap_label").alias("cap_violation")
            )
        )
    worst = (
        pl.concat(violations, how="vertical")
        .group_by("_row")
        .agg(pl.col("cap_violation").sort().first())
    )
    return indexed.join(worst, on="_row", how="left", maintain_order="left").drop("_row")


def check_plan(
    plan: pl.DataFrame,
    rules: ComplianceRules,
    *,
    prior: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Re-check a finished plan against the rules; an empty result means it is valid.

    Checks that every window is non-empty and lies inside one allowed interval of its contact's
    time zone and jurisdiction, that every phone number is E.164, that idempotency keys and
    (campaign, contact) pairs are unique, and that no frequency cap is exceeded counting
    ``prior`` messages.

    Parameters
    ----------
    plan
        Plan rows: ``idempotency_key``, ``campaign_id``, ``contact_id``, ``phone_e164``,
        ``timezone``, ``jurisdiction``, ``window_start_at``, ``window_end_at``.
    rules
        The rules in force.
    prior
        Other messages (``contact_id``, ``start_at``, ``end_at``) to count against the caps.

    Returns
    -------
    polars.DataFrame
        ``idempotency_key``, ``problem`` (String): one row per violation.
    """
    empty = pl.DataFrame(schema={"idempotency_key": pl.String, "problem": pl.String})
    if plan.height == 0:
        return empty
    problems = [empty]
    # counting distinct values first is cheaper than marking duplicates (0.13 s against 0.3 s at
    # 1M rows), and a valid plan has none to mark
    distinct = plan.select(pl.col("idempotency_key", "contact_id").n_unique()).row(0)
    if min(distinct) < plan.height:
        dup = plan.filter(
            pl.col("idempotency_key").is_duplicated() | pl.col("contact_id").is_duplicated()
        )
        problems.append(dup.select("idempotency_key", pl.lit("duplicate").alias("problem")))
    bad_phone = plan.filter(~pl.col("phone_e164").str.contains(_E164).fill_null(False))
    problems.append(bad_phone.select("idempotency_key", pl.lit("invalid_phone").alias("problem")))
    lo = plan.get_column("window_start_at").min()
    hi = plan.get_column("window_end_at").max()
    intervals = allowed_intervals(plan.select("timezone", "jurisdiction").unique(), lo, hi, rules)  # type: ignore[arg-type]
    placed = (
        plan.select(
            "idempotency_key",
            "contact_id",
            "timezone",
            "jurisdiction",
            "window_start_at",
            "window_end_at",
        )
        .sort("window_start_at")
        .join_asof(
            intervals.sort("allowed_start_at"),
            left_on="window_start_at",
            right_on="allowed_start_at",
            by=["timezone", "jurisdiction"],
            strategy="backward",
            check_sortedness=False,
        )
    )
    outside = placed.filter(
        pl.col("allowed_end_at").is_null()
        | (pl.col("window_end_at") > pl.col("allowed_end_at"))
        | (pl.col("window_start_at") >= pl.col("window_end_at"))
    )
    problems.append(outside.select("idempotency_key", pl.lit("quiet_hours").alias("problem")))
    inside = placed.filter(pl.col("allowed_end_at").is_not_null())
    offsets = utc_offset_segments(
        plan.get_column("timezone").unique().to_list(),
        lo - dt.timedelta(days=14),
        hi + dt.timedelta(days=14),
    )  # type: ignore[operator]
    capped = apply_caps(
        inside.select(
            "idempotency_key",
            "contact_id",
            "timezone",
            "jurisdiction",
            pl.col("window_start_at").alias("start_at"),
            pl.col("window_end_at").alias("end_at"),
            "local_date",
        ),
        prior,
        rules,
        offsets,
    )
    problems.append(
        capped.filter(pl.col("cap_violation").is_not_null()).select(
            "idempotency_key", (pl.lit("frequency_cap ") + pl.col("cap_violation")).alias("problem")
        )
    )
    return pl.concat(problems, how="vertical").unique(maintain_order=True)
