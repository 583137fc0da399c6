"""Rows of raw SQL, read by column name.

Each app keeps its raw SQL in one module (`<app>/sql.py`): the statements as named constants (or the
functions that build them), beside the dataclass of what each returns. Callers read results through
these helpers and never index a row by position: `r[10]` silently reads the wrong column the day a
statement gains one, while a dataclass built from `cursor.description` by name fails loudly
(ColumnMismatch) when a column it needs is missing or comes twice. Columns a row does not name (a sort
key, a flag for the statement's own use) are left out.
"""

from collections.abc import Callable
from dataclasses import fields
from operator import itemgetter
from typing import Any, TypeVar

Row = TypeVar("Row")


class ColumnMismatch(LookupError):
    """The statement's columns do not give the row class what it needs."""


def _reader(cursor, row: type) -> Callable[[tuple], Any]:
    """A function making one `row` from one result tuple, by the cursor's column names."""
    if cursor.description is None:
        raise ColumnMismatch(f"{row.__name__}: the statement returned no result set to read")
    names = [column.name for column in cursor.description]
    wanted = [f for f in fields(row) if f.init]
    missing = [f.name for f in wanted if f.name not in names]
    twice = [f.name for f in wanted if names.count(f.name) > 1]
    if missing or twice:
        problems = [f"missing {missing}" if missing else "", f"named twice {twice}" if twice else ""]
        raise ColumnMismatch(
            f"{row.__name__}: columns {' and '.join(p for p in problems if p)}; the statement gives {names}"
        )
    index = [names.index(f.name) for f in wanted]
    if any(f.kw_only for f in wanted):
        return lambda values: row(**{f.name: values[i] for f, i in zip(wanted, index, strict=True)})
    # The indexes come from the names just checked: positional here is by name, at half the cost
    # of keywords (the claim builds a few thousand rows a second).
    pick = itemgetter(*index) if len(index) > 1 else (lambda values: tuple(values[i] for i in index))
    return lambda values: row(*pick(values))


def rows(cursor, row: type[Row]) -> list[Row]:
    """Every remaining row of the executed statement, each as a `row` dataclass."""
    make = _reader(cursor, row)
    return [make(values) for values in cursor.fetchall()]


def fetch(cursor, row: type[Row]) -> Row | None:
    """The next row of the executed statement as a `row` dataclass, or None when there is none."""
    make = _reader(cursor, row)
    values = cursor.fetchone()
    return None if values is None else make(values)


def _index(cursor, column: str) -> int:
    names = [] if cursor.description is None else [c.name for c in cursor.description]
    if names.count(column) != 1:
        raise ColumnMismatch(
            f"column {column!r} {'named twice' if column in names else 'missing'}; the statement gives {names}"
        )
    return names.index(column)


def scalar(cursor, column: str) -> Any:
    """Column `column` of the next row (None when there is no row): for a statement that answers one thing."""
    i = _index(cursor, column)
    values = cursor.fetchone()
    return None if values is None else values[i]


def scalars(cursor, column: str) -> list:
    """Column `column` of every remaining row."""
    i = _index(cursor, column)
    return [found[i] for found in cursor.fetchall()]
