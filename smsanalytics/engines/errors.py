"""Errors of the query engines."""

from __future__ import annotations

from smsanalytics.warehouse import WarehouseError

__all__ = ["EngineError", "UnsupportedSQLError"]


class EngineError(WarehouseError):
    """A query that cannot run on an engine (missing parameter, table or data).

    A :class:`~smsanalytics.warehouse.WarehouseError`, so callers that handle warehouse errors
    (the CLI, notebooks) handle engine errors the same way.
    """


class UnsupportedSQLError(EngineError):
    """A relation uses SQL that has no faithful translation from DuckDB to Spark SQL.

    The message names the relation, the construct and a portable alternative.

    Attributes
    ----------
    relation
        Name of the relation (``"<inline>"`` for SQL passed as text).
    construct
        The offending construct as DuckDB SQL.
    """

    def __init__(self, relation: str, construct: str, reason: str) -> None:
        self.relation = relation
        self.construct = construct
        self.reason = reason
        super().__init__(
            f"relation {relation!r} uses {construct!r}, which cannot run on Spark as on DuckDB: "
            f"{reason}"
        )
