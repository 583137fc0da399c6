"""Each app's raw SQL lives in its `sql` module, and results are read by column name, read from the source
(ast, nothing imported or run):

- no statement is written where it is run: `cursor.execute("SELECT ...")` or a module-level
  `X = "SELECT ..."` outside an app's `sql.py` is one more place a reader has to find;
- no result is read by position: only kalix_site.sql calls fetchone/fetchall/fetchmany, and builds the
  statement's dataclass by column name, so `r[10]` cannot silently read the wrong column.

Tests and migrations are left out, as in tests/test_import_graph.py.
"""

import ast
import re

from tests.support.source import modules

READER = "kalix_site.sql"
# Modules that may run SQL of their own, and why.
EXEMPT = {
    "messaging.seed": "synthetic data for benchmarks and tests: bulk DDL and generate_series, never app data",
    "kalix_site.embedded_db": "creates the database with psycopg before Django can connect",
    "kalix_site.health": "SELECT 1, the liveness probe",
}
STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def sql_module(name: str) -> bool:
    return name.endswith(".sql")


def _text(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def findings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"statements": [], "positional": []}
    for name, path in modules().items():
        if name in EXEMPT:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method = node.func.attr
                if method in ("fetchone", "fetchall", "fetchmany") and name != READER:
                    found["positional"].append(f"{name}:{node.lineno} {method}()")
                if method == "execute" and node.args and not sql_module(name):
                    text = _text(node.args[0])
                    if text is not None and STATEMENT.match(text):
                        found["statements"].append(f"{name}:{node.lineno} execute({text.strip()[:40]!r})")
        if not sql_module(name):
            for node in tree.body:
                if isinstance(node, ast.Assign) and (text := _text(node.value)) and STATEMENT.match(text):
                    found["statements"].append(
                        f"{name}:{node.lineno} {ast.unparse(node.targets[0])} = {text.strip()[:40]!r}"
                    )
    return found


def test_the_check_sees_what_it_looks_for():
    all_modules = modules()
    assert "messaging.sql" in all_modules and "kalix_site.sql" in all_modules
    assert sql_module("billing.sql") and not sql_module("billing.batches")
    assert STATEMENT.match("\n    WITH batch AS (") and not STATEMENT.match("to_tsvector('simple', ...)")


def test_every_statement_lives_in_its_apps_sql_module():
    assert findings()["statements"] == []


def test_no_result_is_read_by_position():
    assert findings()["positional"] == []
