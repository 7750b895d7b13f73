"""The design the code cites lives in the repository: every "docs/design.md §N" has its section."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"(DESIGN\.md|docs/design\.md)(?: §(\d+))?")


def test_every_design_citation_points_to_a_section_of_docs_design_md():
    sections = set(re.findall(r"^## §(\d+) ", (REPO / "docs" / "design.md").read_text(encoding="utf-8"), re.M))
    cited = {}
    for path in [*REPO.glob("graphmer_dist/**/*.py"), *REPO.glob("launch/*.py"), *REPO.glob("tests/*.py")]:
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            cited.setdefault(match.group(1), []).append((path.relative_to(REPO).as_posix(), match.group(2)))
    stale = [path for path, _ in cited.get("DESIGN.md", []) if path != "tests/test_design_doc.py"]
    assert stale == [], "cite docs/design.md (the shared DESIGN.md is not in the repository)"
    citations = cited["docs/design.md"]
    assert len({path for path, _ in citations}) >= 12
    assert {section for _, section in citations if section} <= sections, (sorted(sections), citations)
