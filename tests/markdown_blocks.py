"""The fenced code blocks of the project's Markdown, each with the HTML comments right above
its fence that say what the tests do with it (``<!-- not run: why -->``, ``<!-- fails with:
text -->``, the guide's ``<!-- file: path -->``): for the tests that run or check the
documented examples."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\S*)")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")
FAILS_WITH = re.compile(r"^<!--\s*fails with:\s*(.*?)\s*-->$")


@dataclass
class Block:
    document: str  # relative to the checkout
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    before: list[str]  # the comment lines right above the fence, nearest last

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def not_run(self) -> str | None:
        """Why the block is not run, when the comment nearest the fence says so."""
        return self._nearest(NOT_RUN)

    @property
    def fails_with(self) -> str | None:
        """What the block's failure prints, when the comment nearest the fence says so."""
        return self._nearest(FAILS_WITH)

    def _nearest(self, marker: re.Pattern[str]) -> str | None:
        found = marker.match(self.before[-1]) if self.before else None
        return found.group(1) if found else None


def fenced_blocks(document: str) -> list[Block]:
    """Every fenced block of ``document`` (relative to the checkout), in order."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before, k = [], i - 1
        while k >= 0 and lines[k].startswith("<!--") and lines[k].rstrip().endswith("-->"):
            before.insert(0, lines[k].strip())
            k -= 1
        text = "\n".join(lines[i + 1 : end]) + "\n"
        blocks.append(Block(document, i + 1, fence.group(1), text, before))
        i = end + 1
    return blocks
