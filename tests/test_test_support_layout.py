"""Where test code lives, read from the source (ast, nothing imported or run):

- every fixture is defined once: the shared ones in tests/support/fixtures/ (registered by the root
  conftest's `pytest_plugins`), the ones a single app's tests use in that app's tests/conftest.py or
  test module;
- no test imports from a conftest or from another test module: shared helpers live in tests/support/;
- production packages hold no test support: a module of an app that only tests or benchmarks import
  belongs in tests/support/, and no app imports tests.

A newcomer then finds any fixture in one of two places, and a production package is what production runs.
"""

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("lanes", "clinics", "messaging", "billing", "statuspage", "kalix_site")
SUPPORT = ROOT / "tests" / "support"
# Modules that no module of ours imports and only tests do, because Django or another process loads them
# by name: they are production code all the same.
LOADED_BY_NAME = {
    "lanes.brokers": "the django-q2 broker class, named in Q_CLUSTER",
    "statuspage.queue_monitor": "a schedule's function, named by its dotted path",
    "kalix_site.wsgi": "gunicorn's application",
    "kalix_site.settings": "DJANGO_SETTINGS_MODULE",
    "kalix_site.sessions": "a middleware, named in MIDDLEWARE",
}


def loaded_by_name(module: str) -> bool:
    """Management commands (manage.py finds them) and each app's demo module (manage.py demo finds it)
    count as loaded by name too."""
    parts = module.split(".")
    return module in LOADED_BY_NAME or parts[1:3] == ["management", "commands"] or parts[1:] == ["demo"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(top: Path):
    return (p for p in sorted(top.rglob("*.py")) if ".venv" not in p.parts and ".data" not in p.parts)


def is_test_code(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts or path.name == "conftest.py"


def files_of_tests() -> list[Path]:
    return [ROOT / "conftest.py", *(p for app in (*APPS, "tests") for p in python_files(ROOT / app) if is_test_code(p))]


def production_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for app in APPS
        for p in python_files(ROOT / app)
        if not is_test_code(p) and "migrations" not in p.relative_to(ROOT).parts
    }


def imported_names(path: Path) -> set[str]:
    """Every absolute module (and module.name) the file imports, anywhere in it."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            named |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return named


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) in {"pytest.fixture", "fixture"}


def test_the_scan_sees_the_suite():
    files = files_of_tests()
    assert ROOT / "messaging" / "tests" / "test_worker.py" in files and ROOT / "conftest.py" in files
    assert "messaging.worker" in production_modules() and "messaging.tests.test_worker" not in production_modules()
    assert any(is_fixture(d) for d in ast.parse("@pytest.fixture(autouse=True)\ndef f(): pass").body[0].decorator_list)


def test_no_fixture_is_defined_twice():
    defined = defaultdict(list)
    for path in files_of_tests():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and any(is_fixture(d) for d in node.decorator_list):
                defined[node.name].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(defined) > 50, "fixtures were found"
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}


def test_no_test_imports_from_a_conftest_or_another_test_module():
    offending = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files_of_tests()
        for name in imported_names(path)
        if any(part == "conftest" or part.startswith("test_") for part in name.split("."))
    )
    assert offending == []


def test_shared_fixtures_are_registered_by_the_root_conftest():
    tree = ast.parse((ROOT / "conftest.py").read_text())
    (registered,) = (
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(ast.unparse(t) == "pytest_plugins" for t in node.targets)
    )
    plugins = {module_name(p) for p in python_files(SUPPORT / "fixtures") if p.name != "__init__.py"}
    assert plugins, "tests/support/fixtures/ holds the shared fixtures"
    assert set(registered) == plugins


def test_production_packages_hold_no_test_support():
    prod = production_modules()
    importers = defaultdict(set)
    others = [*files_of_tests(), *python_files(ROOT / "bench"), *python_files(ROOT / "scripts")]
    for path in [*prod.values(), *others]:
        me = module_name(path)
        for name in imported_names(path):
            while name and name not in prod:
                name = name.rpartition(".")[0]
            if name and name != me:
                importers[name].add(me)
    only_tests = sorted(
        f"{module} (imported by {', '.join(sorted(who)[:3])})"
        for module, who in importers.items()
        if not loaded_by_name(module) and not any(w in prod or w.startswith("scripts") for w in who)
    )
    assert only_tests == []
    importing_tests = sorted(
        module for module, path in prod.items() if any(n.split(".")[0] == "tests" for n in imported_names(path))
    )
    assert importing_tests == []


def test_the_test_settings_live_with_the_test_support():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert config["DJANGO_SETTINGS_MODULE"].startswith("tests.support.")
