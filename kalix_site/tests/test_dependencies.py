"""Requirements: two pip-tools layers (runtime, development), each direct dependency explained in
docs/dependencies.md, pinned in its compiled file, and both layers agreeing on what they share."""

import re

import pytest

from tests.support.processes import ROOT

LAYERS = [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct(path: str) -> list[str]:
    """Package names of an .in file (extras and version ranges left off; -c/-r lines skipped)."""
    names = []
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group(0))
    return names


def pins(path: str) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", (ROOT / path).read_text(), re.MULTILINE)
    return {canonical(name): version for name, version in found}


@pytest.mark.parametrize(("source", "compiled"), LAYERS)
def test_every_direct_dependency_is_pinned_and_explained(source, compiled):
    explained = {
        canonical(name)
        for name in re.findall(r"^\| `([^`\[]+)", (ROOT / "docs/dependencies.md").read_text(), re.MULTILINE)
    }
    pinned = pins(compiled)
    names = direct(source)
    assert names, f"{source} lists nothing"
    assert [n for n in names if canonical(n) not in pinned] == [], f"not compiled into {compiled}: make requirements"
    assert [n for n in names if canonical(n) not in explained] == [], "say why in docs/dependencies.md"


def test_the_development_layer_is_constrained_by_the_runtime_pins():
    assert "-c requirements.txt" in (ROOT / "requirements-dev.in").read_text()
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {name: (v, dev[name]) for name, v in runtime.items() if name in dev and dev[name] != v} == {}
    # Test and benchmark tools stay out of what `make run` installs.
    assert [name for name in direct("requirements-dev.in") if canonical(name) in runtime] == []
