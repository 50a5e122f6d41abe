"""Scenario errors: every problem of a file, each as ``file:line:col: message``.

Loading collects all problems it can find (syntax first; when the syntax is
fine, every semantic problem) and raises one :class:`ScenarioError`.
``str(error)`` shows each problem with its source line and a caret under the
column, as a compiler does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simsip.scenario.model import Span


def source_line(lines: list[str], number: int) -> str | None:
    """Line ``number`` (1-based) of ``lines``, None when out of range (for the caret display)."""
    return lines[number - 1] if 0 < number <= len(lines) else None


@dataclass(frozen=True)
class Problem:
    """One problem: where and what."""

    span: Span
    """Where (line/col 0 when it concerns no particular place, e.g. an unreadable file)."""
    message: str
    """What is wrong, in SIP terms."""
    source_line: str | None = field(default=None, compare=False)
    """The text of that line, for the caret display (None if not known)."""

    def header(self) -> str:
        """``file:line:col: message`` (``file: message`` when there is no position)."""
        if self.span.line <= 0:
            return f"{self.span.file}: {self.message}"
        return f"{self.span}: {self.message}"

    def render(self) -> str:
        """The header, then the source line and a caret under the column."""
        text = self.header()
        if self.source_line is not None and self.span.line > 0:
            line = self.source_line.rstrip("\r\n").expandtabs(1)
            if len(line) > 200:
                # A huge line would drown the message: show a window around the column.
                start = max(0, self.span.col - 100)
                line = line[start : start + 200]
                col = self.span.col - start
            else:
                col = self.span.col
            text += f"\n    {line}\n    {' ' * max(col - 1, 0)}^"
        return text


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        """Keep the problems, sorted by position, without duplicates."""
        unique: dict[tuple[str, int, int, str], Problem] = {}
        for problem in problems:
            key = (problem.span.file, problem.span.line, problem.span.col, problem.message)
            unique.setdefault(key, problem)
        self.problems: list[Problem] = sorted(
            unique.values(), key=lambda p: (p.span.file, p.span.line, p.span.col)
        )
        super().__init__(self.render())

    @property
    def messages(self) -> list[str]:
        """Each problem as one ``file:line:col: message`` line."""
        return [p.header() for p in self.problems]

    def render(self) -> str:
        """All problems with source lines and carets, one block each."""
        return "\n".join(p.render() for p in self.problems)

    def __str__(self) -> str:
        """The rendered problems."""
        return self.render()
