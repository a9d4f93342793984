"""The SQL relations of ``smsanalytics/sql/`` as self-contained statements, for any engine.

A file in ``smsanalytics/sql/`` may read canonical tables (``messages``, ``orders`` …), other
relations by their file name (``fct_contact_features`` reads ``agg_contact_orders`` …), and small
lookup tables the caller registers for the run (``zone_ids``, ``zone_offsets`` …).
:func:`relation_sql` inlines every relation a file reads, transitively, as a CTE named after
the file (like dbt's ephemeral models), so one statement with ``$name`` parameters computes it on
DuckDB or, transpiled, on Spark. :func:`referenced_tables` lists what the statement still needs
from the engine: canonical tables and registered lookup tables.

>>> sorted(parameter_names("SELECT * FROM t WHERE a < $as_of AND b = '$not_a_param' -- $nor_this"))
['as_of']
>>> "agg_contact_orders AS (" in relation_sql("fct_contact_orders")
True
>>> sorted(referenced_tables(relation_sql("fct_contact_orders")))
['orders']
"""

from __future__ import annotations

import re
from collections.abc import Callable

from smsanalytics.engines.errors import EngineError
from smsanalytics.warehouse import available_relations, relation_order, sql_text

__all__ = [
    "PARAM_SENTINEL",
    "available_relations",
    "parameter_names",
    "referenced_tables",
    "relation_dependencies",
    "relation_sql",
    "replace_parameters",
    "strip_comments",
]

#: Prefix of the identifier a ``$name`` parameter becomes while SQL is parsed by sqlglot (which
#: does not read DuckDB's ``$name`` reliably: ``$a, $b`` looks like a dollar-quoted string).
PARAM_SENTINEL = "__smsanalytics_param__"

_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def replace_parameters(sql: str, replace: Callable[[str], str] | None = None) -> str:
    """``sql`` without comments; each ``$name`` outside literals becomes ``replace(name)``.

    Parameters
    ----------
    sql
        DuckDB SQL with ``$name`` parameters.
    replace
        Text for a parameter (default: keep ``$name``, so only comments are removed).

    Raises
    ------
    EngineError
        On an unterminated string, quoted identifier or comment, or a dollar-quoted string
        (``$$…$$``), which only DuckDB and PostgreSQL read.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end  # keep the newline
        elif ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise EngineError("unterminated /* comment in SQL")
            out.append(" ")
            i = end + 2
        elif ch in "'\"":
            j = i + 1
            while True:
                j = sql.find(ch, j)
                if j < 0:
                    kind = "string literal" if ch == "'" else "quoted identifier"
                    raise EngineError(f"unterminated {kind} in SQL: {sql[i : i + 40]!r}")
                if sql.startswith(ch * 2, j):
                    j += 2
                    continue
                break
            out.append(sql[i : j + 1])
            i = j + 1
        elif ch == "$":
            prev = sql[i - 1] if i else " "
            m = _IDENT.match(sql, i + 1)
            if sql.startswith("$$", i) or (m and sql.startswith("$", m.end())):
                raise EngineError(
                    f"dollar-quoted strings are not portable SQL: {sql[i : i + 40]!r}; "
                    "use a '…' literal"
                )
            if m and not (prev.isalnum() or prev in "_$:"):
                out.append(replace(m.group()) if replace else "$" + m.group())
                i = m.end()
            else:
                out.append(ch)
                i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def strip_comments(sql: str) -> str:
    """``sql`` without ``--`` and ``/* */`` comments, blank lines and a trailing ``;``."""
    lines = [ln.rstrip() for ln in replace_parameters(sql).splitlines() if ln.strip()]
    return "\n".join(lines).rstrip().rstrip(";").rstrip()


def parameter_names(sql: str) -> set[str]:
    """The ``$name`` parameters of ``sql`` (outside comments and string literals)."""
    names: set[str] = set()

    def keep(name: str) -> str:
        names.add(name)
        return "$" + name

    replace_parameters(sql, keep)
    return names


def _parse(sql: str, name: str):  # -> sqlglot.exp.Expression
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    from smsanalytics.engines.errors import UnsupportedSQLError

    text = replace_parameters(sql, lambda p: PARAM_SENTINEL + p)
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except (ParseError, TokenError) as exc:
        raise UnsupportedSQLError(
            name, text.strip()[:80], f"sqlglot cannot parse it ({exc})"
        ) from None
    if len(statements) != 1:
        raise EngineError(
            f"relation {name!r} must be exactly one statement, found {len(statements)}"
        )
    return statements[0]


def referenced_tables(sql: str, *, name: str = "<inline>") -> set[str]:
    """Tables and views ``sql`` reads that it does not define itself as CTEs.

    Schema-qualified names other than ``main.x`` keep their schema (``truth.contacts``).
    """
    from sqlglot import exp

    tree = _parse(sql, name)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not table.name:
            continue  # a table function such as read_parquet(...): reported by the transpiler
        db = table.db.lower() if table.db else ""
        tname = table.name.lower()
        if db in ("", "main"):
            if tname not in ctes:
                found.add(tname)
        else:
            found.add(f"{db}.{tname}")
    return found


def relation_dependencies(name: str) -> list[str]:
    """The relations ``name`` reads, directly or not, in an order where each comes after those
    it reads; ``name`` itself is last.

    Raises
    ------
    EngineError
        When relations refer to each other in a cycle.
    """
    available = available_relations()
    sql_text(name)  # raises a WarehouseError naming the available relations
    return relation_order(
        name, lambda rel: referenced_tables(sql_text(rel), name=rel) & available, error=EngineError
    )


_WITH = re.compile(r"(?is)^\s*WITH\b")
_WITH_RECURSIVE = re.compile(r"(?is)^\s*WITH\s+RECURSIVE\b")


def relation_sql(name: str) -> str:
    """One DuckDB statement computing relation ``name``, with the relations it reads inlined.

    Each relation ``name`` reads (transitively) becomes a CTE named after its file, in dependency
    order, ahead of the CTEs of ``name`` itself. Comments are removed; ``$name`` parameters are
    kept (a relation and those it reads share one parameter namespace).

    Parameters
    ----------
    name
        File name in ``smsanalytics/sql/`` without ``.sql``.

    Returns
    -------
    str

    Raises
    ------
    WarehouseError
        When there is no such relation (the message lists those that exist).
    EngineError
        When relations refer to each other in a cycle.
    """
    order = relation_dependencies(name)
    final = strip_comments(sql_text(name))
    if len(order) == 1:
        return final
    if _WITH_RECURSIVE.match(final):
        raise EngineError(
            f"relation {name!r}: WITH RECURSIVE cannot be combined with inlined relations"
        )
    ctes = [f"{rel} AS (\n{strip_comments(sql_text(rel))}\n)" for rel in order[:-1]]
    if _WITH.match(final):
        head, rest = ",\n", _WITH.sub("", final, count=1)
    else:
        head, rest = "\n", final
    return "WITH " + ",\n".join(ctes) + head + rest
