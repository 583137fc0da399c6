"""The import graph of our apps, read from the source (ast, nothing imported or run):

- no import cycle between modules of our apps, counting imports inside functions too (a lazy import
  hides a cycle from Python, not from the reader);
- the queue platform (`lanes`) imports no domain app: domain apps register their work with it; of
  `kalix_site`, which puts every app together, only the shared core (CORE: helpers that import none of
  our modules, as healthchecks keeps hc/lib);
- no domain app imports another domain app, except `clinics`, the tenancy every app is scoped by.

Tests and migrations are left out: tests exercise apps together, and migrations are history.
"""

from tests.support.source import APPS, CORE, DOMAIN, PLATFORM, TENANCY, graph, imports, modules  # noqa: F401


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
        if app_of(module) in DOMAIN
        for target in targets
        if app_of(target) in DOMAIN and app_of(target) not in (app_of(module), TENANCY)
    )
    assert offending == []
