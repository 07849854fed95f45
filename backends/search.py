"""The customer search grammar of the reference (R43), parsed once and rendered by each source.

`*` is a wildcard; `+` and the upper-case words ` AND ` / ` OR ` combine terms; a leading `!` negates a
term; `"…"` is taken verbatim (operators inside are literal). `(`, `)`, `&` and `|` are always literal.
Plain spaces are not operators: `John Doe` is one phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STARS = re.compile(r"\*+")


class UnparsableSearch(ValueError):
    """The expression cannot be parsed; R43 answers with no result."""


@dataclass(frozen=True)
class Term:
    text: str
    negated: bool = False

    def pattern(self, prefix: str, suffix: str) -> str:
        """The term with the source's prefix and suffix, runs of `*` collapsed (R43, R72)."""
        return _STARS.sub("*", f"{prefix}{self.text}{suffix}")


# An expression is an OR of AND-groups of terms.
Expression = tuple[tuple[Term, ...], ...]


def parse_search(term: str) -> Expression:
    """Parse `term`; raise UnparsableSearch for an unbalanced quote or an operator with no operand."""
    groups: list[list[Term]] = [[]]
    current: list[str] = []
    quoted_seen = False

    def close_term() -> None:
        nonlocal quoted_seen
        raw = "".join(current).strip()
        current.clear()
        negated = raw.startswith("!")
        if negated:
            raw = raw[1:].strip()
        if not raw and not quoted_seen:
            raise UnparsableSearch("an operator needs a term on both sides")
        groups[-1].append(Term(raw.replace('"', ""), negated))
        quoted_seen = False

    i = 0
    while i < len(term):
        char = term[i]
        if char == '"':
            end = term.find('"', i + 1)
            if end == -1:
                raise UnparsableSearch("unbalanced quote")
            current.append(term[i + 1 : end])
            quoted_seen = True
            i = end + 1
        elif char == "+":
            close_term()
            i += 1
        elif term.startswith(" AND ", i):
            close_term()
            i += 5
        elif term.startswith(" OR ", i):
            close_term()
            groups.append([])
            i += 4
        else:
            current.append(char)
            i += 1
    close_term()
    return tuple(tuple(group) for group in groups if group)
