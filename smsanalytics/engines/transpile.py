"""DuckDB SQL with ``$name`` parameters → Spark SQL giving the same result.

sqlglot (``read="duckdb", write="spark"``) does the bulk of the translation. On top of it, this
module

1. binds the parameters as typed literals in the syntax tree (never by pasting text: strings
   are escaped by the Spark generator, timestamps become ``CAST('… +00:00' AS TIMESTAMP)``,
   floats ``CAST('…' AS DOUBLE)``), and checks that every parameter is given and no other;
2. qualifies the columns and infers their types from the canonical schema
   (:mod:`smsanalytics.schemas`) and the registered lookup tables, so that rewrites can depend
   on types;
3. rewrites the constructs whose DuckDB meaning sqlglot does not carry over (the "rules" of
   ``docs/scale-out.md``): ``epoch`` (fractional seconds), ``date_diff`` (boundaries crossed),
   day of week numbering, division by zero (IEEE ``inf``/``NaN`` on DuckDB), casts of
   fractional numbers to integers (rounded on DuckDB, truncated on Spark), ``round(x, n)`` of
   doubles, ``DATE - DATE``, ``AT TIME ZONE``, computed intervals (``INTERVAL (n) DAY``,
   ``to_hours(n)``), ``main.`` prefixes;
4. refuses, with :class:`UnsupportedSQLError` naming the relation and the construct, what has
   no faithful translation: lists and structs, nondeterministic or engine-specific functions
   (``random``, ``hash``, ``now``), table functions (``read_parquet``), casts of timestamps or
   doubles to text, local times turned into instants (``AT TIME ZONE`` on a zone-less value:
   the engines resolve a repeated local hour differently), and functions whose argument type
   decides their meaning when the type is unknown.

Spark must run with ``spark.sql.session.timeZone=UTC`` (as the warehouse runs DuckDB in UTC).

>>> import datetime as dt
>>> sql = "SELECT count(*) AS n FROM orders WHERE ordered_at < CAST($as_of AS TIMESTAMPTZ)"
>>> print(transpile(sql, params={"as_of": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, pretty=True))
SELECT
  COUNT(*) AS `n`
FROM `orders` AS `orders`
WHERE
  `orders`.`ordered_at` < CAST(CAST('2026-01-01 00:00:00.000000+00:00' AS TIMESTAMP) AS TIMESTAMP)
>>> transpile("SELECT $who AS who", params={"who": "O'Brien \\\\"})
"SELECT 'O\\\\'Brien \\\\\\\\' AS `who`"
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
from collections.abc import Mapping
from typing import Any

from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from smsanalytics import schemas, warehouse
from smsanalytics.engines.errors import EngineError, UnsupportedSQLError
from smsanalytics.engines.relations import PARAM_SENTINEL, _parse, parameter_names

__all__ = ["canonical_schema", "transpile", "bind_parameters"]

T = exp.DataType.Type
_FLOATS = {T.DOUBLE, T.FLOAT}
_DECIMALS = {T.DECIMAL, T.BIGDECIMAL, T.DECIMAL32, T.DECIMAL64, T.DECIMAL128, T.DECIMAL256} & set(T)
_TIMESTAMPS_TZ = {T.TIMESTAMPTZ, T.TIMESTAMPLTZ}
_TIMESTAMPS = {
    T.TIMESTAMP,
    T.TIMESTAMPNTZ,
    T.TIMESTAMP_S,
    T.TIMESTAMP_MS,
    T.TIMESTAMP_NS,
    T.DATETIME,
} & set(T)
_TEMPORAL = _TIMESTAMPS_TZ | _TIMESTAMPS | {T.DATE}
_INTEGERS = set(exp.DataType.INTEGER_TYPES)
_TEXT = set(exp.DataType.TEXT_TYPES)
_NUMERIC = set(exp.DataType.NUMERIC_TYPES)

#: Exact parts of ``date_diff``/``datediff`` and how many microseconds each holds (sub-day parts
#: count boundaries crossed in UTC, i.e. differences of floor(epoch / part)).
_DIFF_MICROS = {
    "HOUR": 3_600_000_000,
    "MINUTE": 60_000_000,
    "SECOND": 1_000_000,
    "MILLISECOND": 1_000,
    "MICROSECOND": 1,
}
_DIFF_ALIASES = {
    "D": "DAY",
    "DAYS": "DAY",
    "DAY": "DAY",
    "H": "HOUR",
    "HR": "HOUR",
    "HOURS": "HOUR",
    "HOUR": "HOUR",
    "M": "MINUTE",
    "MIN": "MINUTE",
    "MINUTES": "MINUTE",
    "MINUTE": "MINUTE",
    "S": "SECOND",
    "SEC": "SECOND",
    "SECONDS": "SECOND",
    "SECOND": "SECOND",
    "MS": "MILLISECOND",
    "MILLISECONDS": "MILLISECOND",
    "MILLISECOND": "MILLISECOND",
    "US": "MICROSECOND",
    "MICROSECONDS": "MICROSECOND",
    "MICROSECOND": "MICROSECOND",
    "MONTH": "MONTH",
    "MONTHS": "MONTH",
    "MON": "MONTH",
    "YEAR": "YEAR",
    "YEARS": "YEAR",
    "Y": "YEAR",
    "YR": "YEAR",
}
#: ``extract``/``date_part`` parts: Spark function (or a special rewrite) giving DuckDB's number.
_PART_FUNCTIONS = {
    "YEAR": "YEAR",
    "MONTH": "MONTH",
    "DAY": "DAY",
    "HOUR": "HOUR",
    "MINUTE": "MINUTE",
    "QUARTER": "QUARTER",
    "DOY": "DAYOFYEAR",
    "DAYOFYEAR": "DAYOFYEAR",
    "WEEK": "WEEKOFYEAR",
    "WEEKOFYEAR": "WEEKOFYEAR",
}
#: DuckDB ``to_<unit>(n)`` interval constructors: unit of the Spark interval literal and factor.
_TO_INTERVAL = {
    "TO_YEARS": ("YEAR", 1),
    "TO_MONTHS": ("MONTH", 1),
    "TO_WEEKS": ("DAY", 7),
    "TO_DAYS": ("DAY", 1),
    "TO_HOURS": ("HOUR", 1),
    "TO_MINUTES": ("MINUTE", 1),
    "TO_SECONDS": ("SECOND", 1),
}
_NESTED_NODES = tuple(
    getattr(exp, n)
    for n in (
        "Array",
        "Struct",
        "ArrayAgg",
        "Explode",
        "Posexplode",
        "Unnest",
        "Bracket",
        "Map",
        "VarMap",
        "ToMap",
        "List",
        "Lambda",
        "GenerateSeries",
        "ExplodingGenerateSeries",
    )
    if hasattr(exp, n)
)
#: sqlglot expression classes for list, struct, map and JSON functions (``list_sort`` parses as
#: ``ArraySort``, ``string_split`` as ``Split`` …).
_NESTED_CLASS_PREFIXES = (
    "Array",
    "Struct",
    "Map",
    "List",
    "JSON",
    "Explode",
    "Posexplode",
    "Unnest",
    "Split",
    "Lambda",
    "GenerateSeries",
)
_NONDETERMINISTIC_NODES = tuple(
    getattr(exp, n)
    for n in ("Rand", "Uuid", "CurrentTimestamp", "CurrentDate", "CurrentTime")
    if hasattr(exp, n)
)
_REFUSED_FUNCTIONS = {
    "HASH": "DuckDB's hash() and Spark's hash() are different functions; hash in Python "
    "(e.g. smsanalytics.experiments hash assignment) and join the result",
    "RANDOM": "random numbers differ between engines; draw them in Python with a seed",
    "SETSEED": "random numbers differ between engines; draw them in Python with a seed",
    "GEN_RANDOM_UUID": "random values differ between engines",
    "NOW": "the result would depend on when it runs; pass the instant as a $as_of parameter",
    "TODAY": "the result would depend on when it runs; pass the date as a parameter",
    "GET_CURRENT_TIMESTAMP": "the result would depend on when it runs; pass a $as_of parameter",
    "TRANSACTION_TIMESTAMP": "the result would depend on when it runs; pass a $as_of parameter",
    "DATE_SUB": "DuckDB's date_sub counts whole parts elapsed; write it with date_diff or "
    "epoch arithmetic",
    "YEARWEEK": "no Spark equivalent; use year(x) * 100 + week(x)",
    "EPOCH_NS": "Spark timestamps have microsecond precision; use epoch_us or epoch",
    "ISOYEAR": "no Spark equivalent",
    "STRPTIME": "DuckDB and Spark parse formats differently; store typed timestamps",
}
_REFUSED_PREFIXES = ("LIST_", "ARRAY_", "STRUCT_", "MAP_", "JSON_", "REGEXP_EXTRACT_ALL")


def canonical_schema() -> dict[str, dict[str, str]]:
    """``{table: {column: DuckDB type}}`` of the canonical tables (what Spark views expose)."""
    return {t.name: {c.name: c.sql_type for c in t.columns} for t in schemas.CANONICAL_TABLES}


# -- parameters ---------------------------------------------------------------------------------
def _literal(value: Any, param: str, relation: str) -> exp.Expression:
    """A typed DuckDB literal for a parameter value (the Spark generator escapes strings)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, numbers.Integral):
        number = exp.Literal.number(abs(int(value)))
        return exp.Paren(this=exp.Neg(this=number)) if int(value) < 0 else number
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EngineError(
                f"parameter {param!r} of {relation!r} is a non-finite Decimal {value}"
            )
        text = format(abs(value), "f")
        number = exp.Literal.number(text)
        return exp.Paren(this=exp.Neg(this=number)) if value < 0 else number
    if isinstance(value, numbers.Real):
        v = float(value)
        text = (
            "NaN"
            if math.isnan(v)
            else ("Infinity" if v > 0 else "-Infinity")
            if math.isinf(v)
            else repr(v)
        )
        return exp.cast(exp.Literal.string(text), T.DOUBLE)
    if isinstance(value, str):
        if "\x00" in value:
            raise EngineError(f"parameter {param!r} of {relation!r} contains a NUL character")
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # DuckDB binds a naive datetime as TIMESTAMP (no zone)
            return exp.cast(
                exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S.%f")), T.TIMESTAMPNTZ
            )
        utc = value.astimezone(dt.UTC)
        return exp.cast(
            exp.Literal.string(utc.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")), T.TIMESTAMPTZ
        )
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), T.DATE)
    raise EngineError(
        f"parameter {param!r} of {relation!r} is a {type(value).__name__}; bind None, bool, int, "
        "float, Decimal, str, datetime.date or datetime.datetime (for a duration bind a number "
        "and multiply an interval: $days * INTERVAL '1' DAY)"
    )


def bind_parameters(
    tree: exp.Expression, params: Mapping[str, Any], relation: str
) -> exp.Expression:
    """Replace the parameter placeholders of a parsed tree by typed literals (in place)."""
    for col in list(tree.find_all(exp.Column)):
        if col.table or not col.name.startswith(PARAM_SENTINEL):
            continue
        name = col.name[len(PARAM_SENTINEL) :]
        col.replace(_literal(params[name], name, relation))
    return tree


# -- type helpers -------------------------------------------------------------------------------
def _type(node: exp.Expression) -> exp.DataType.Type | None:
    t = node.type
    if t is None or t.this in (T.UNKNOWN, T.NULL):
        return None
    return t.this


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    """A Spark function call that sqlglot passes through unchanged."""
    return exp.Anonymous(this=name, expressions=list(args))


def _p(node: exp.Expression) -> exp.Expression:
    """``node`` in parentheses when it is an operator expression (the generator does not add
    them when a rewrite nests one operator in another)."""
    if isinstance(
        node, exp.Binary | exp.Unary | exp.Case | exp.Between | exp.In
    ) and not isinstance(node, exp.Paren):
        return exp.Paren(this=node)
    return node


def _double(value: int | float) -> exp.Expression:
    return exp.cast(exp.Literal.string(repr(float(value))), T.DOUBLE)


def _as_timestamp(node: exp.Expression) -> exp.Expression:
    """``node`` as a Spark TIMESTAMP (an instant): DATE and zone-less values are read in UTC."""
    if _type(node) in _TIMESTAMPS_TZ:
        return node
    return exp.cast(node, T.TIMESTAMPTZ)


def _epoch_seconds(node: exp.Expression) -> exp.Expression:
    """DuckDB's ``epoch(x)``: seconds since 1970 as a DOUBLE with the microseconds (Spark's
    ``unix_timestamp`` truncates to whole seconds).

    DuckDB computes it for a TIMESTAMPTZ (through ICU) as ``floor(us / 1000) / 1e3 +
    (us mod 1000) / 1e6`` and for a TIMESTAMP as ``us / 1e6``; the two differ in the last bit
    for some instants, which ``epoch(a) - epoch(b)`` turns into a visible difference, so both
    are reproduced exactly (an argument of unknown type is taken as a TIMESTAMPTZ, the type of
    every ``*_at`` column).
    """
    if _type(node) in _TIMESTAMPS | {T.DATE}:
        micros = exp.cast(_fn("UNIX_MICROS", _as_timestamp(node)), T.DOUBLE)
        return exp.Paren(this=exp.Div(this=micros, expression=_double(1_000_000)))
    micros = _fn("UNIX_MICROS", _as_timestamp(node))
    rest = _fn("PMOD", micros, exp.Literal.number(1000))
    millis = exp.IntDiv(
        this=exp.Paren(this=exp.Sub(this=micros.copy(), expression=rest)),
        expression=exp.Literal.number(1000),
    )
    return exp.Paren(
        this=exp.Add(
            this=exp.Div(this=exp.cast(millis, T.DOUBLE), expression=_double(1000)),
            expression=exp.Div(this=exp.cast(rest.copy(), T.DOUBLE), expression=_double(1_000_000)),
        )
    )


def _unit(node: exp.Expression | None) -> str:
    if node is None:
        return ""
    name = (
        node.name
        if isinstance(node, exp.Var | exp.Literal | exp.Identifier | exp.Column)
        else node.sql()
    )
    return name.strip("'\"").upper()


def _snippet(node: exp.Expression) -> str:
    text = node.sql(dialect="duckdb")
    return text if len(text) <= 100 else text[:97] + "..."


_ROUND_TEMPLATE = """
CASE
  WHEN ISNAN(__x__) OR ABS(__x__) = CAST('Infinity' AS DOUBLE)
    OR ABS(__x__) * __m__ >= 4503599627370496 THEN __x__
  ELSE SIGN(__x__) * (FLOOR(ABS(__x__) * __m__) + CASE
      WHEN ABS(__x__) * __m__ - FLOOR(ABS(__x__) * __m__) > 0.5 THEN 1
      WHEN ABS(__x__) * __m__ - FLOOR(ABS(__x__) * __m__) < 0.5 THEN 0
      WHEN ((__xh__ * __mh__ - ABS(__x__) * __m__) + __xh__ * __ml__
            + (ABS(__x__) - __xh__) * __mh__) + (ABS(__x__) - __xh__) * __ml__ < 0 THEN 0
      ELSE 1 END) / __m__
END
"""


def _split(a: float) -> tuple[float, float]:
    c = 134217729.0 * a  # Dekker's split: a = hi + lo, each with at most 26 significant bits
    hi = c - (c - a)
    return hi, a - hi


def _round_exact(x: exp.Expression, digits: int) -> exp.Expression:
    """DuckDB's ``round(x, n)`` of a double for n > 0: the exact product x * 10^n (not the
    double nearest to it: 2.675 * 100 is 267.5 in doubles, but 267.4999… exactly) rounded half
    away from zero, divided by 10^n.

    The product's rounding error comes from Dekker's error-free TwoProduct (10^n is exact for
    n <= 22); it only decides ties. Values too large to have n decimals come back unchanged,
    as on DuckDB.
    """
    import sqlglot

    m = 10.0**digits
    mh, ml = _split(m)
    ax = exp.Abs(this=_p(x))
    xh = exp.Paren(
        this=exp.Sub(
            this=exp.Mul(this=exp.Literal.number(134217729), expression=ax.copy()),
            expression=exp.Paren(
                this=exp.Sub(
                    this=exp.Mul(this=exp.Literal.number(134217729), expression=ax.copy()),
                    expression=ax.copy(),
                )
            ),
        )
    )
    values = {
        "__x__": _p(x),
        "__m__": _double(m),
        "__mh__": _double(mh),
        "__ml__": _double(ml),
        "__xh__": xh,
    }
    tree = sqlglot.parse_one(_ROUND_TEMPLATE, read="spark")
    for col in list(tree.find_all(exp.Column)):
        if col.name in values:
            col.replace(values[col.name].copy())
    return exp.Paren(this=tree)


# -- rewrites -----------------------------------------------------------------------------------
class _Rewriter:
    def __init__(
        self, relation: str, tables: Mapping[str, str] | None = None, ctes: set[str] | None = None
    ) -> None:
        self.relation = relation
        self.tables = {k.lower(): v for k, v in (tables or {}).items()}
        self.ctes = ctes or set()

    def table(self, node: exp.Table) -> exp.Table:
        if node.args.get("db") is not None and node.db.lower() == "main":
            node.set("db", None)
        name = node.name.lower()
        if node.db or name in self.ctes or name not in self.tables:
            return node
        physical = exp.to_table(self.tables[name])
        if not node.alias:
            node.set("alias", exp.TableAlias(this=exp.to_identifier(node.name)))
        for part in ("this", "db", "catalog"):
            node.set(part, physical.args.get(part))
        return node

    def refuse(self, node: exp.Expression, reason: str) -> UnsupportedSQLError:
        return UnsupportedSQLError(self.relation, _snippet(node), reason)

    def date_part(self, part: str, arg: exp.Expression, node: exp.Expression) -> exp.Expression:
        part = part.upper()
        if part in _PART_FUNCTIONS:
            return _fn(_PART_FUNCTIONS[part], arg)
        if part in (
            "DOW",
            "DAYOFWEEK",
            "WEEKDAY",
        ):  # DuckDB: 0 = Sunday; Spark DAYOFWEEK: 1 = Sunday
            return exp.Paren(
                this=exp.Sub(this=_fn("DAYOFWEEK", arg), expression=exp.Literal.number(1))
            )
        if part == "ISODOW":  # DuckDB: 1 = Monday … 7 = Sunday; Spark WEEKDAY: 0 = Monday
            return exp.Paren(
                this=exp.Add(this=_fn("WEEKDAY", arg), expression=exp.Literal.number(1))
            )
        if part == "EPOCH":
            return _epoch_seconds(arg)
        if part in ("SECOND", "SECONDS"):
            return exp.cast(exp.Floor(this=_fn("SECOND", arg)), T.BIGINT)
        raise self.refuse(
            node,
            f"the date part {part!r} has no checked Spark equivalent; use "
            f"one of {sorted([*_PART_FUNCTIONS, 'DOW', 'ISODOW', 'EPOCH', 'SECOND'])}",
        )

    def date_diff(self, node: exp.DateDiff) -> exp.Expression:
        unit = _DIFF_ALIASES.get(_unit(node.args.get("unit")) or "DAY")
        start, end = node.expression, node.this
        if unit == "DAY":  # DuckDB counts UTC midnights crossed = difference of UTC dates
            return _fn("DATEDIFF", exp.cast(end, T.DATE), exp.cast(start, T.DATE))
        if unit in _DIFF_MICROS:
            size = _DIFF_MICROS[unit]

            def floor_units(x: exp.Expression) -> exp.Expression:
                micros = _fn("UNIX_MICROS", _as_timestamp(x))
                if size == 1:
                    return micros
                return exp.cast(
                    exp.Floor(
                        this=exp.Div(this=exp.cast(micros, T.DOUBLE), expression=_double(size))
                    ),
                    T.BIGINT,
                )

            return exp.Paren(this=exp.Sub(this=floor_units(end), expression=floor_units(start)))
        if unit in ("MONTH", "YEAR"):

            def months(x: exp.Expression) -> exp.Expression:
                years = _fn("YEAR", x)
                if unit == "YEAR":
                    return years
                return exp.Add(
                    this=exp.Mul(this=years, expression=exp.Literal.number(12)),
                    expression=_fn("MONTH", x),
                )

            return exp.Paren(this=exp.Sub(this=_p(months(end)), expression=_p(months(start))))
        raise self.refuse(
            node,
            "date_diff is rewritten for day, hour, minute, second, "
            "millisecond, microsecond, month and year only",
        )

    def division(self, node: exp.Div) -> exp.Expression:
        num, den = node.this, node.expression
        if _type(num) == T.INTERVAL or _type(den) == T.INTERVAL:
            return node
        if isinstance(den, exp.Literal) and not den.is_string and float(den.this) != 0:
            return node
        if isinstance(den, exp.Cast) and isinstance(den.this, exp.Literal):
            try:
                if float(den.this.this) != 0:
                    return node
            except ValueError:
                pass
        # DuckDB: x / 0 = ±inf, 0 / 0 = NaN (IEEE); Spark: an error (ANSI) or NULL.
        inf = exp.Mul(
            this=exp.cast(num.copy(), T.DOUBLE),
            expression=exp.cast(exp.Literal.string("Infinity"), T.DOUBLE),
        )
        return exp.Paren(
            this=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.EQ(this=_p(den.copy()), expression=exp.Literal.number(0)), true=inf
                    )
                ],
                default=exp.Div(this=_p(num), expression=_p(den)),
            )
        )

    def cast(self, node: exp.Cast) -> exp.Expression:
        to = node.to
        if (
            to.is_type(*exp.DataType.NESTED_TYPES)
            or to.expressions
            and to.this in exp.DataType.NESTED_TYPES
        ):
            raise self.refuse(
                node, "lists, structs and maps do not round-trip identically; return flat columns"
            )
        source = _type(node.this)
        if to.this in _INTEGERS and not isinstance(node.this, exp.Floor | exp.Ceil | exp.Round):
            if source in _FLOATS:  # DuckDB rounds half to even; Spark truncates
                return exp.Cast(this=_fn("BROUND", node.this), to=to)
            if source in _DECIMALS:  # DuckDB rounds half away from zero; Spark truncates
                return exp.Cast(this=exp.Round(this=node.this), to=to)
        if to.this in _TEXT and source in (_TEMPORAL - {T.DATE}) | _FLOATS:
            raise self.refuse(
                node,
                "DuckDB and Spark print timestamps and doubles differently; "
                "return the typed value (or strftime with an explicit format)",
            )
        return node

    def round(self, node: exp.Round) -> exp.Expression:
        decimals = node.args.get("decimals")
        if _type(node.this) not in _FLOATS or decimals is None:
            return node
        negative = isinstance(decimals, exp.Neg)
        literal = decimals.this if negative else decimals
        if not (isinstance(literal, exp.Literal) and not literal.is_string):
            raise self.refuse(node, "round(x, n) of a double is rewritten for a literal n only")
        digits = -int(literal.this) if negative else int(literal.this)
        if digits <= 0:
            if digits == 0:
                return node  # both round the double half away from zero
            # DuckDB: round(x / 10^k) * 10^k; Spark's ROUND of a double rounds its exact value.
            scale = _double(10.0**-digits)
            return exp.Paren(
                this=exp.Mul(
                    this=exp.Round(this=exp.Div(this=_p(node.this), expression=scale)),
                    expression=scale.copy(),
                )
            )
        return _round_exact(node.this, digits)

    def at_time_zone(self, node: exp.AtTimeZone) -> exp.Expression:
        source = _type(node.this)
        zone = node.args["zone"]
        if source in _TIMESTAMPS_TZ:  # an instant → its zone-less local time
            return exp.cast(_fn("FROM_UTC_TIMESTAMP", node.this, zone), T.TIMESTAMPNTZ)
        if source in _TIMESTAMPS | {T.DATE}:  # a local time → the instant
            raise self.refuse(
                node,
                "a local time that occurs twice (when clocks go back) is the "
                "later instant on DuckDB and the earlier on Spark; resolve "
                "local times explicitly in Python (smsanalytics.compliance) "
                "and store instants",
            )
        raise self.refuse(
            node,
            "the type of the value is unknown, and AT TIME ZONE means opposite "
            "things for TIMESTAMPTZ and TIMESTAMP; cast it explicitly (or use "
            "the zone_offsets lookup tables, as the send-time relations do)",
        )

    def unix_to_time(self, node: exp.UnixToTime) -> exp.Expression:
        scale = node.args.get("scale")
        scale = int(scale.this) if isinstance(scale, exp.Literal) else 0
        source = _type(node.this)
        if (
            source in _TEMPORAL
        ):  # DuckDB epoch_ms(timestamp): milliseconds, rounded half away from 0
            micros = _fn("UNIX_MICROS", _as_timestamp(node.this))
            if scale == 3:
                half = exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.GTE(this=micros, expression=exp.Literal.number(0)),
                            true=exp.Literal.number(500),
                        )
                    ],
                    default=exp.Literal.number(-500),
                )
                return exp.Paren(
                    this=exp.IntDiv(
                        this=exp.Paren(this=exp.Add(this=micros.copy(), expression=half)),
                        expression=exp.Literal.number(1000),
                    )
                )
            if scale == 6:
                return micros
        elif source in _NUMERIC:
            if scale == 0:  # to_timestamp(seconds): a TIMESTAMPTZ
                return _fn("TIMESTAMP_SECONDS", node.this)
            name = {3: "TIMESTAMP_MILLIS", 6: "TIMESTAMP_MICROS"}.get(scale)
            if name:  # epoch_ms(n), make_timestamp(n): a zone-less TIMESTAMP
                return exp.cast(_fn(name, node.this), T.TIMESTAMPNTZ)
        raise self.refuse(
            node,
            "epoch_ms/epoch_us/to_timestamp mean different things for numbers "
            "and timestamps and the argument type is unknown; cast it",
        )

    def interval(self, node: exp.Interval) -> exp.Expression:
        if isinstance(node.this, exp.Literal) or node.this is None:
            return node
        unit = node.args.get("unit")
        return exp.Paren(
            this=exp.Mul(
                this=_p(node.this), expression=exp.Interval(this=exp.Literal.string("1"), unit=unit)
            )
        )

    def anonymous(self, node: exp.Anonymous) -> exp.Expression:
        name = node.name.upper()
        args = node.expressions
        if (
            name in ("DATE_PART", "DATEPART")
            and len(args) == 2
            and isinstance(args[0], exp.Literal)
        ):
            return self.date_part(args[0].name, args[1], node)
        if name == "DOW" and len(args) == 1:
            return self.date_part("DOW", args[0], node)
        if name == "EPOCH_US" and len(args) == 1:
            return _fn("UNIX_MICROS", _as_timestamp(args[0]))
        if name in _TO_INTERVAL and len(args) == 1:
            unit, factor = _TO_INTERVAL[name]
            n = (
                _p(args[0])
                if factor == 1
                else exp.Paren(
                    this=exp.Mul(this=_p(args[0]), expression=exp.Literal.number(factor))
                )
            )
            return exp.Paren(
                this=exp.Mul(
                    this=n,
                    expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this=unit)),
                )
            )
        return node

    def check(self, node: exp.Expression) -> None:
        """Refuse what has no faithful translation (called outermost first)."""
        if (
            type(node).__name__.startswith(_NESTED_CLASS_PREFIXES)
            or isinstance(node, _NESTED_NODES)
            or (node.type is not None and node.type.is_type(*exp.DataType.NESTED_TYPES))
            or (isinstance(node, exp.DataType) and node.is_type(*exp.DataType.NESTED_TYPES))
        ):
            raise self.refuse(
                node,
                "lists, structs, maps and JSON do not round-trip identically "
                "(and list order is not defined on Spark); return flat columns",
            )
        if isinstance(node, _NONDETERMINISTIC_NODES):
            raise self.refuse(
                node,
                "the value differs between engines and runs; pass it as a "
                "parameter ($as_of) or compute it in Python",
            )
        if isinstance(node, exp.Table) and not node.name:
            raise self.refuse(
                node,
                "table functions read files on the machine running DuckDB; "
                "read canonical tables or registered relations",
            )
        if isinstance(node, exp.Anonymous):
            name = node.name.upper()
            if name in _REFUSED_FUNCTIONS:
                raise self.refuse(node, _REFUSED_FUNCTIONS[name])
            if name.startswith(_REFUSED_PREFIXES):
                raise self.refuse(
                    node,
                    "lists, structs, maps and JSON do not round-trip "
                    "identically; return flat columns",
                )

    def visit(self, node: exp.Expression) -> exp.Expression:  # noqa: C901 - a dispatch table
        if isinstance(node, exp.Table):
            return self.table(node)
        if isinstance(node, exp.TimeToUnix):
            return _epoch_seconds(node.this)
        if isinstance(node, exp.Extract):
            return self.date_part(_unit(node.this), node.expression, node)
        if isinstance(node, exp.DayOfWeekIso):
            return self.date_part("ISODOW", node.this, node)
        if isinstance(node, exp.DayOfWeek):
            return self.date_part("DOW", node.this, node)
        if isinstance(node, exp.Week | exp.WeekOfYear):
            return _fn("WEEKOFYEAR", node.this)
        if isinstance(node, exp.DateDiff):
            return self.date_diff(node)
        if (
            isinstance(node, exp.Sub)
            and _type(node.this) == T.DATE
            and _type(node.expression) == T.DATE
        ):
            return _fn("DATEDIFF", node.this, node.expression)  # DuckDB: BIGINT days
        if isinstance(node, exp.Add | exp.Sub) and T.INTERVAL in (
            _type(node.this),
            _type(node.expression),
        ):
            # DuckDB: DATE ± INTERVAL is a TIMESTAMP (zone-less); Spark would keep a DATE.
            for side in ("this", "expression"):
                if _type(node.args[side]) == T.DATE:
                    node.set(side, exp.cast(node.args[side], T.TIMESTAMPNTZ))
            return node
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and _type(
            node.this
        ) in _TIMESTAMPS | {T.DATE}:
            # DuckDB: date_trunc of a DATE or TIMESTAMP is a zone-less TIMESTAMP.
            return exp.cast(node, T.TIMESTAMPNTZ)
        if isinstance(node, exp.Div):
            return self.division(node)
        if isinstance(node, exp.Cast):  # includes TryCast
            return self.cast(node)
        if isinstance(node, exp.Round):
            return self.round(node)
        if isinstance(node, exp.Floor | exp.Ceil) and _type(node.this) in _FLOATS:
            # DuckDB: floor/ceil of a double is a DOUBLE; Spark: a BIGINT (overflowing beyond 2^63).
            parent = node.parent
            if isinstance(parent, exp.Cast) and parent.to.this in _INTEGERS:
                return node
            return exp.cast(node, T.DOUBLE)
        if isinstance(node, exp.AtTimeZone):
            return self.at_time_zone(node)
        if isinstance(node, exp.UnixToTime):
            return self.unix_to_time(node)
        if isinstance(node, exp.Interval):
            return self.interval(node)
        if isinstance(node, exp.ToDays):
            return exp.Paren(
                this=exp.Mul(
                    this=_p(node.this),
                    expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this="DAY")),
                )
            )
        if isinstance(node, exp.PercentileCont):  # quantile_cont(x, q): linear interpolation
            return _fn("PERCENTILE", node.this, node.expression)
        if isinstance(node, exp.Anonymous):
            return self.anonymous(node)
        return node

    def rewrite(self, tree: exp.Expression) -> exp.Expression:
        for node in tree.walk(bfs=False):
            self.check(node)
        # Children before parents (reversed pre-order), so a parent sees rewritten children.
        for node in reversed(list(tree.walk(bfs=False))):
            parent, key, index = node.parent, node.arg_key, node.index
            new = self.visit(node)
            if new is node:
                continue
            if parent is None:
                tree = new
            else:  # where the node was: a rewrite may have re-parented it into `new`
                parent.set(key, new, index)
        return tree


# -- entry point --------------------------------------------------------------------------------
def transpile(
    sql: str,
    *,
    params: Mapping[str, Any],
    name: str = "<inline>",
    schema: Mapping[str, Mapping[str, str]] | None = None,
    tables: Mapping[str, str] | None = None,
    pretty: bool = False,
) -> str:
    """Spark SQL computing what DuckDB computes for ``sql`` with ``params``.

    Parameters
    ----------
    sql
        One DuckDB ``SELECT`` (or ``WITH … SELECT``) statement with ``$name`` parameters, such as
        :func:`smsanalytics.engines.relations.relation_sql` returns.
    params
        A value for each ``$name`` (None, bool, int, float, Decimal, str, date, datetime; an
        aware datetime is converted to UTC, a naive one is a zone-less ``TIMESTAMP``).
    name
        Relation name, for error messages.
    schema
        ``{table: {column: DuckDB type}}`` of the registered lookup tables the SQL reads, added
        to the canonical tables; the types drive the type-dependent rewrites.
    tables
        Name under which Spark knows each table the SQL reads (``{"messages":
        "smsanalytics_1a2b_messages"}`` or ``"lake.sms.messages"``); tables not listed keep
        their name.
    pretty
        Indent the output.

    Returns
    -------
    str
        Spark SQL; run it with ``spark.sql.session.timeZone=UTC``.

    Raises
    ------
    EngineError
        When a parameter is missing, unknown or of a type that cannot be bound.
    UnsupportedSQLError
        When the SQL uses a construct without a faithful Spark translation (the message names
        the relation and the construct).
    """
    warehouse.bind_parameters(sql, params, name, find=parameter_names, error=EngineError)
    tree = _parse(sql, name)
    if not isinstance(tree, exp.Query):
        raise EngineError(f"relation {name!r} must be a SELECT statement, got {tree.key.upper()}")
    bind_parameters(tree, params, name)
    full_schema: dict[str, dict[str, str]] = canonical_schema()
    for table, columns in (schema or {}).items():
        full_schema[table.lower()] = dict(columns)
    try:
        tree = qualify(tree, schema=full_schema, dialect="duckdb", validate_qualify_columns=False)
        tree = annotate_types(tree, schema=full_schema, dialect="duckdb")
    except OptimizeError as exc:
        raise UnsupportedSQLError(
            name, _snippet(tree), f"its columns cannot be resolved ({exc})"
        ) from None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tree = _Rewriter(name, tables, ctes).rewrite(tree)
    try:
        return tree.sql(dialect="spark", pretty=pretty, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise UnsupportedSQLError(
            name, _snippet(tree), f"sqlglot cannot write it as Spark SQL ({exc})"
        ) from None
