"""Our source as modules and the imports between them, read with ast (nothing is run): what the
import-graph and raw-SQL tests look at. Tests and migrations are left out."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/support/source.py
DOMAIN = ("clinics", "messaging", "billing", "statuspage")
PLATFORM = "lanes"
APPS = (PLATFORM, *DOMAIN, "kalix_site")
TENANCY = "clinics"
# kalix_site's shared core: every app may use it, and it imports none of our modules.
CORE = ("kalix_site.transitions", "kalix_site.sql")


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
