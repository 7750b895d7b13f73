"""Convert `ast` positions (1-based line, UTF-8 *byte* column) into str indices of the decoded text.

The dataset slices `text[start:end]`, so a byte column used as a str index would shift every mention
after a non-ASCII character on the same line.
"""

from __future__ import annotations

import re

# The Python tokenizer ends lines at \r\n, \r or \n only; str.splitlines would also split on \f, \v,
# \x1c.. and \u2028, putting later mentions on the wrong line.
_LINE_END = re.compile(r"\r\n|\r|\n")


class LineOffsets:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _LINE_END.finditer(text)]
        self._encoded: dict[int, bytes] = {}

    def line(self, lineno: int) -> str:
        start = self.starts[lineno - 1]
        end = self.starts[lineno] if lineno < len(self.starts) else len(self.text)
        return self.text[start:end]

    def index(self, lineno: int, byte_col: int) -> int:
        """str index of the character at (lineno, byte_col)."""
        return self.starts[lineno - 1] + self.char_col(lineno, byte_col)

    def char_col(self, lineno: int, byte_col: int) -> int:
        line = self.line(lineno)
        if line.isascii():
            return byte_col
        encoded = self._encoded.get(lineno)
        if encoded is None:
            encoded = self._encoded[lineno] = line.encode("utf-8")
        return len(encoded[:byte_col].decode("utf-8", errors="ignore"))
