"""The import graph of our apps, read from the source (ast, nothing imported or run):

- no import cycle between modules of our apps, counting imports inside functions too (a lazy import
  hides a cycle from Python, not from the reader);
- the queue platform (`lanes`) imports no domain app: domain apps register their work with it; of
  `kalix_site`, which puts every app together, only the shared core (CORE: helpers that import none of
  our modules, as healthchecks keeps hc/lib);
- no domain app imports another domain app, except `clinics`, the tenancy every app is scoped by.

Tests and migrations are left out: tests exercise apps together, and migrations are history.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("clinics", "messaging", "billing", "statuspage")
PLATFORM = "lanes"
APPS = (PLATFORM, *DOMAIN, "kalix_site")
TENANCY = "clinics"
# kalix_site's shared core: every app may use it, and it imports none of our modules.
CORE = ("kalix_site.transitions", "kalix_site.sql")
# Modules that put every app together on purpose, as kalix_site does: may import any domain app.
COMPOSITION = {"clinics.management.commands.demo": "`manage.py demo` loads every app's demo data"}


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "tests" in parts or "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that `name` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            named |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    ours = set()
    for module in named:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            ours.add(module)
    return ours


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def app_of(module: str) -> str:
    return module.partition(".")[0]


def test_the_graph_is_read():
    edges = graph()
    assert "messaging.worker" in edges and "billing.batches" in edges
    assert "messaging.models" in edges["messaging.worker"]  # a plain import is seen
    assert any(app_of(m) == PLATFORM for m in edges["billing.batches"])  # billing pokes the live lane


def test_no_import_cycle_between_our_modules():
    assert cycles(graph()) == []


def test_the_platform_imports_no_domain_app():
    edges = graph()
    offending = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if app_of(module) == PLATFORM
        for target in targets
        if app_of(target) in (*DOMAIN, "kalix_site") and target not in CORE
    )
    assert offending == []


def test_the_shared_core_imports_none_of_our_modules():
    edges = graph()
    assert {module: edges[module] for module in CORE} == {module: set() for module in CORE}


def test_no_domain_app_imports_another_but_the_tenancy():
    edges = graph()
    offending = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if app_of(module) in DOMAIN and module not in COMPOSITION
        for target in targets
        if app_of(target) in DOMAIN and app_of(target) not in (app_of(module), TENANCY)
    )
    assert offending == []
