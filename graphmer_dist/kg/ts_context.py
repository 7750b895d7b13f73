"""Recording helpers the tree-sitter language walkers share (`ts_java.py`, `ts_javascript.py`).

Kept apart from `treesitter.py`, which dispatches to the walkers, so the walkers import it without an
import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphmer_dist.kg.offsets import LineOffsets
from graphmer_dist.kg.raw import RawFile, Ref

if TYPE_CHECKING:
    import tree_sitter


class TreeContext:
    """Recording helpers shared by the language walkers."""

    def __init__(self, raw: RawFile) -> None:
        self.raw = raw
        self.module = raw.source.module
        self.offsets = LineOffsets(raw.text)
        self._declared: set[str] = set()

    def name(self, node: tree_sitter.Node | None) -> str:
        return node.text.decode("utf-8") if node is not None and node.text is not None else ""

    def declare(self, qname: str, kind: str, parent: str, name_node: tree_sitter.Node | None) -> None:
        if qname not in self._declared:
            self._declared.add(qname)
            self.raw.definitions.append((qname, kind, parent))
        self.mention(name_node, ("n", qname))

    def fact(self, head: str, kind: str, ref: Ref | None) -> None:
        if ref is not None:
            self.raw.facts.append((head, kind, ref))

    def mention(self, node: tree_sitter.Node | None, ref: Ref | None) -> None:
        if node is None or ref is None:
            return
        (row, col), (end_row, end_col) = node.start_point, node.end_point
        self.raw.mentions.append((self.offsets.index(row + 1, col), self.offsets.index(end_row + 1, end_col), ref))
