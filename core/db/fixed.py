"""Fixed statements run on the driver's cursor: the busiest reads and the screen pop's writes, without the middleman.

For a one-row read, SQLAlchemy's execution path (an execution context, result metadata built from
the driver's column descriptions, Row objects) costs about as much CPU again as the driver's own work:
0.33 against 0.16 ms for a tracking page's statement, on a server where a tracking page costs about
1 ms in all. A ``FixedQuery`` compiles its statement once per dialect and runs it on the DBAPI cursor of
the caller's own connection (so the same transaction, timeouts and pool). Parameters and columns go
through the processors SQLAlchemy itself would use for that dialect (the column types' dialect
implementations, the result processors chosen by the driver's type codes, read once per plan), so the
rows hold the values ``Connection.execute`` returns. A driver error becomes SQLAlchemy's exception; a
lost connection also invalidates every pooled connection made before it, as ``Connection.execute``
does, so ``core.services.public.read`` retries on a fresh connection, not on a sibling as dead.

Only dialects with named parameters take this path (PostgreSQL through psycopg); SQLite, the embedded
default, keeps SQLAlchemy's. Statements with expanding (``IN``) or literal-execute parameters
cannot be fixed.
"""

from __future__ import annotations

import contextlib
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

NAMED_STYLES = frozenset({"pyformat", "named"})

Processor = Callable[[Any], Any]


@dataclass
class _Plan:
    """A statement compiled for one dialect, with the processors of its parameters and columns."""

    sql: str
    compiled: sa.sql.compiler.SQLCompiler
    binds: tuple[tuple[str, Processor], ...]
    names: dict[str, str]  # parameter key -> the name it has in the SQL text
    fixed: dict[str, Any]  # the values of parameters given in the statement itself
    execute_options: dict[str, Any]
    # Chosen from the first result's column type codes, as SQLAlchemy does; None until then.
    results: tuple[tuple[int, Processor], ...] | None = field(default=None)


class FixedQuery:
    """A fixed statement, compiled once per dialect, whose rows are named tuples (``row.code``, ``row[0]``).

    A SELECT, or a ``text()`` statement with its result columns declared (``.columns(...)``): that is
    how a PostgreSQL-only ``INSERT … SELECT FROM unnest(…) RETURNING`` (one statement and one fixed text
    for any number of rows) is written. A list of JSON values is best sent as one JSON array string and
    taken apart by ``json_array_elements``: psycopg dumps a Python list element by element, in Python.
    """

    def __init__(self, statement: sa.Select[*tuple[Any, ...]] | sa.TextualSelect) -> None:
        self.statement = statement
        # Field names are the result keys Connection.execute would give; a duplicate or a name that
        # is not an identifier fails here, at import, not on a citizen's request.
        row = namedtuple("Row", list(statement.selected_columns.keys()))  # type: ignore[misc]  # noqa: PYI024
        self._make: Callable[[Iterable[Any]], tuple[Any, ...]] = row._make
        # Per dialect object (engines of one backend may differ in driver, paramstyle or version).
        self._plans: weakref.WeakKeyDictionary[sa.Dialect, _Plan] = weakref.WeakKeyDictionary()
        # Refused on every backend, not only where the statement would take the fast path: these
        # parameters are rendered into the SQL text at each execution, so no text is fixed.
        if any(bind.expanding or bind.literal_execute for bind in statement.compile().binds.values()):
            raise ValueError("a FixedQuery cannot have expanding (IN) or literal-execute parameters")

    def _plan(self, dialect: sa.Dialect) -> _Plan:
        """Return (and remember) the statement compiled for ``dialect``."""
        plan = self._plans.get(dialect)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            escaped = compiled.escaped_bind_names  # construct_params() keys parameters by these names
            # Each parameter once, under the name it has in the SQL text (``compiled.binds`` also
            # lists an anonymous one, a LIMIT say, under its internal key).
            rendered = {bind: escaped.get(name, name) for bind, name in compiled.bind_names.items()}
            processors = {  # by name: two bindparam("t") objects in one statement are one parameter
                name: processor
                for bind, name in rendered.items()
                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            }
            binds = tuple(processors.items())
            names = {bind.key: name for bind, name in rendered.items()}
            fixed = {name: bind.value for bind, name in rendered.items() if not bind.required and bind.callable is None}
            sql = str(compiled)
            options = {"prepare": True} if dialect.driver == "psycopg" else {}
            plan = _Plan(sql, compiled, binds, names, fixed, options)
            self._plans[dialect] = plan
        return plan

    def _results(self, dialect: sa.Dialect, description: Sequence[Sequence[Any]]) -> tuple[tuple[int, Processor], ...]:
        """Return the result processors SQLAlchemy would pick for these columns and type codes."""
        return tuple(
            (index, processor)
            for index, (column, described) in enumerate(zip(self.statement.selected_columns, description, strict=True))
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, described[1])) is not None
        )

    def rows(self, conn: sa.Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """Run the statement with ``params`` on ``conn`` and return all its rows."""
        return run_all(conn, [(self, params)])[0]

    def _values(self, plan: _Plan, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the driver's parameters: the given ones (processed as SQLAlchemy would) and the fixed."""
        values = dict(plan.fixed)
        for key, value in params.items():
            if key in plan.names:
                values[plan.names[key]] = value
        if len(values) != len(plan.names):  # a parameter is missing: let SQLAlchemy say which
            values = dict(plan.compiled.construct_params(params) or {})
        for name, process in plan.binds:
            values[name] = process(values[name])
        return values

    def _convert(self, plan: _Plan, dialect: sa.Dialect, cursor: Any) -> list[Any]:
        """Return the cursor's rows as named tuples, through the result processors."""
        if plan.results is None:
            plan.results = self._results(dialect, cursor.description)
        fetched = cursor.fetchall()
        if not plan.results:
            return [self._make(found) for found in fetched]
        out = []
        for found in fetched:
            row = list(found)
            for index, process in plan.results:
                row[index] = process(row[index])
            out.append(self._make(row))
        return out


def run_all(
    conn: sa.Connection, statements: Sequence[tuple[FixedQuery, Mapping[str, Any]]], *, commit: bool = False
) -> list[Sequence[Any]]:
    """Run fixed statements in order on ``conn``; return the rows of each.

    With psycopg they go in one pipeline: one round trip to the server for all of them, where each
    would otherwise wait for the previous one's answer. A failing statement fails the call (and the
    transaction, as it would have anyway) with SQLAlchemy's exception.

    ``commit``: with psycopg, the transaction's COMMIT goes in the same round trip, after the
    statements; the caller still commits its session as usual, which then finds nothing left to send
    (psycopg skips a COMMIT when no transaction is open). Only for the last statements of a unit of
    work: whatever runs after them runs in a new transaction. Elsewhere the flag changes nothing.
    """
    dialect = conn.dialect
    if dialect.paramstyle not in NAMED_STYLES:
        return [conn.execute(query.statement, params).all() for query, params in statements]
    work = []
    for query, params in statements:
        plan = query._plan(dialect)  # noqa: SLF001  this module's own
        work.append((query, plan, query._values(plan, params)))  # noqa: SLF001
    if not conn.in_transaction():
        conn.begin()  # as execute() would: the caller's commit or rollback then means what it says
    pooled = conn.connection
    raw = pooled.driver_connection
    if raw is None:  # only a connection already closed or invalidated has none
        raise sa.exc.ResourceClosedError("the connection has no driver connection")
    commit = commit and dialect.driver == "psycopg"
    cursors = [raw.cursor() for _ in work]
    closing = [raw.cursor()] if commit else []
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    pipelined = (len(work) > 1 or commit) and dialect.driver == "psycopg"
    current = work[0]
    try:
        with raw.pipeline() if pipelined else contextlib.nullcontext():
            for cursor, current in zip(cursors, work, strict=True):
                # Prepared on first use on each connection (psycopg waits for five): a fixed text is
                # what a server-side plan is for, and parsing and planning was a third of the
                # server's work.
                cursor.execute(current[1].sql, current[2], **current[1].execute_options)
            if commit:
                # As a statement, not raw.commit(): that would sync the pipeline on its own, and the
                # pipeline's end syncs again, two round trips where one is enough.
                closing[0].execute("COMMIT")
        return [query._convert(plan, dialect, cursor) for cursor, (query, plan, _) in zip(cursors, work, strict=True)]  # noqa: SLF001
    except dbapi_error as exc:
        lost = dialect.is_disconnect(cast(Any, exc), pooled.dbapi_connection, cursors[0])
        if lost:
            # What Connection.execute does on a disconnect: a server restart killed every pooled
            # connection, so all those made before now are discarded, not only this one.
            conn.engine.pool._invalidate(pooled, exc)  # noqa: SLF001  the pool's own disconnect hook
            conn.invalidate(exc)
        # A pipeline reports a statement's failure at a later statement or at its end: name them all.
        sql = ";\n".join(plan.sql for _, plan, _ in work) if pipelined else current[1].sql
        sent: Any = [values for _, _, values in work] if pipelined else current[2]
        raise sa.exc.DBAPIError.instance(
            sql, sent, exc, dbapi_error, connection_invalidated=lost, dialect=dialect
        ) from exc
    finally:
        for cursor in [*cursors, *closing]:
            cursor.close()
