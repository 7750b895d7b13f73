"""Dependencies point one way: launch → platforms → graphmer_dist, and graphmer_dist never imports ray."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_top_levels(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("package,forbidden", [
    ("graphmer_dist", {"ray", "launch", "platforms"}),
    ("platforms", {"launch"}),
])
def test_no_upward_imports(package, forbidden):
    found = imported_top_levels(package)
    offenders = {name: sorted(files) for name, files in found.items() if name in forbidden}
    assert not offenders, f"{package} must not import {sorted(forbidden)}; found {offenders}"
