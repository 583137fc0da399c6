"""Raw SQL results read by column name: a dataclass per statement, built from cursor.description, and a
loud failure when the statement and the row disagree."""

from dataclasses import dataclass, field

import pytest
from django.db import connection

from kalix_site.sql import ColumnMismatch, fetch, rows, scalar, scalars

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Pair:
    number: int
    word: str
    note: str = field(default="", init=False)  # not from the statement


PAIRS = "SELECT n AS number, 'w' || n AS word, n * 10 AS sort_key FROM generate_series(1, 3) AS n ORDER BY n"


def test_rows_are_built_by_name_whatever_the_column_order_and_extra_columns():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'w' || n AS word, n * 10 AS sort_key, n AS number FROM generate_series(1, 3) AS n")
        assert rows(cursor, Pair) == [Pair(1, "w1"), Pair(2, "w2"), Pair(3, "w3")]


@dataclass(frozen=True, kw_only=True)
class Named:
    word: str
    number: int


@dataclass(frozen=True)
class One:
    word: str


def test_keyword_only_and_one_field_rows_are_built_by_name_too():
    with connection.cursor() as cursor:
        cursor.execute(PAIRS)
        assert rows(cursor, Named) == [Named(word=f"w{n}", number=n) for n in (1, 2, 3)]
        cursor.execute(PAIRS)
        assert rows(cursor, One) == [One("w1"), One("w2"), One("w3")]


def test_fetch_reads_one_row_and_none_when_there_is_none():
    with connection.cursor() as cursor:
        cursor.execute(PAIRS)
        assert fetch(cursor, Pair) == Pair(1, "w1")
        assert fetch(cursor, Pair) == Pair(2, "w2")
        cursor.execute(PAIRS.replace("1, 3", "1, 0"))
        assert fetch(cursor, Pair) is None


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("SELECT 1 AS number, 'a' AS wrod", r"missing \['word'\]"),  # a typo in an alias
        ("SELECT 1 AS number, 'a' AS word, 'b' AS word", r"named twice \['word'\]"),
        ("SELECT 1, 'a'", r"missing \['number', 'word'\]"),  # unnamed columns are read by nobody
    ],
)
def test_a_statement_that_does_not_give_the_row_its_columns_fails_loudly(statement, says):
    with connection.cursor() as cursor:
        cursor.execute(statement)
        with pytest.raises(ColumnMismatch, match=says):
            rows(cursor, Pair)
        cursor.execute(statement)
        with pytest.raises(ColumnMismatch, match=says):
            fetch(cursor, Pair)


def test_a_statement_without_a_result_set_fails_loudly():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE scratch (n int)")
        with pytest.raises(ColumnMismatch, match="no result set"):
            fetch(cursor, Pair)


def test_scalar_and_scalars_read_one_named_column():
    with connection.cursor() as cursor:
        cursor.execute(PAIRS)
        assert scalars(cursor, "word") == ["w1", "w2", "w3"]
        cursor.execute("SELECT pg_try_advisory_lock(7, 7) AS locked, 1 AS other")
        assert scalar(cursor, "locked") is True
        cursor.execute("SELECT pg_advisory_unlock(7, 7) AS unlocked")
        assert scalar(cursor, "unlocked") is True
        cursor.execute("SELECT 1 AS found WHERE false")
        assert scalar(cursor, "found") is None
        cursor.execute("SELECT 1 AS n, 2 AS n")
        with pytest.raises(ColumnMismatch, match="named twice"):
            scalar(cursor, "n")
        cursor.execute(PAIRS)
        with pytest.raises(ColumnMismatch, match="'count' missing"):
            scalars(cursor, "count")
