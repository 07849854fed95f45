"""Search the way agents type (ours, beyond R43; docs/differences.md): the screens' search boxes.

The reference's search runs first and exactly (R43: `*`, `+`, `AND`, `OR`, `!`, quotes; `John Doe` is one
phrase). When it leaves room on the page, the people it misses fill it, each found by the reference's own
search of another spelling, so every source answers in its own way:

- a pasted e-mail address: the postmaster search (R45), which compares whole addresses;
- a name of several words in any order (`Anna Müller`, `Müller Anna`): the words joined by `+` (AND);
- accents either way: `Jose` finds José and `josé` Jose, in every source that folds accents (our table and
  a synced directory's shadow, on PostgreSQL: backends.folding, one trigram index over the folded key);
- German transliterations either way: `mueller` finds Müller, `weiss` Weiß, `muller` Müller (in every
  source, by the reference's search of each spelling).

The reference's rows come first; the extra rows follow, so a search that fills its page (the benchmark's
250-row pages) costs exactly what it did.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import replace

from backends.base import CustomerUserRecord
from backends.registry import SourceHandler, sources
from customers.selectors import SearchPage, search_customer_users

OPERATORS = re.compile(r'[+"!*]| AND | OR ')
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRANSLITERATIONS = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
UMLAUTS = {"a": "ä", "o": "ö", "u": "ü"}
MAX_SPELLINGS = 8  # other spellings searched at most, each one search per source


def find_customer_users(
    text: str,
    *,
    infix: bool = False,
    valid_only: bool = True,
    limit: int | None = None,
    source: str | None = None,
    registry: SourceHandler = sources,
) -> SearchPage:
    """The reference's search of `text` (`*text*` with `infix`), then, to fill the page, the people its other
    forms find."""
    text = text.strip()
    term = f"*{text}*" if infix and text else text or "*"
    asked = {"valid_only": valid_only, "source": source, "registry": registry}
    page = search_customer_users(term=term, limit=limit, **asked)
    room = (limit or page.limit) - len(page.rows)
    if room <= 0 or not text.strip():
        return page
    seen = {record.login.casefold() for record in page.rows}
    extra: list[CustomerUserRecord] = []
    warnings = list(page.warnings)
    for search in other_forms(text, infix=infix):
        found = search_customer_users(**search, limit=room, **asked)
        warnings += [w for w in found.warnings if w not in warnings]
        for record in found.rows:
            if record.login.casefold() not in seen and len(extra) < room:
                seen.add(record.login.casefold())
                extra.append(record)
        if len(extra) >= room:
            break
    return replace(page, rows=[*page.rows, *extra], warnings=tuple(warnings))


def other_forms(text: str, *, infix: bool = False) -> list[dict[str, str]]:
    """The searches that find what an agent meant by `text` beyond what R43 reads in it."""
    text = text.strip()
    if ADDRESS.match(text):
        return [{"postmaster": text}]
    if OPERATORS.search(text):
        return []  # the reference's grammar: exactly what was asked

    def words(phrase: str) -> str:
        return "+".join(f"*{word}*" if infix else word for word in phrase.split())

    forms = [{"term": words(text)}] if len(text.split()) > 1 else []
    forms.append({"folded": words(text)})
    return forms + [{"term": words(spelling)} for spelling in spellings(text)]


def spellings(text: str) -> list[str]:
    """Other spellings of `text` (lower-case): transliterated either way, accents dropped, plain vowels read
    as umlauts; at most MAX_SPELLINGS, the closest first."""
    lower = text.lower()
    found: list[str] = []

    def add(candidate: str) -> None:
        if candidate != lower and candidate not in found:
            found.append(candidate)

    transliterated = lower
    for letter, spelled in TRANSLITERATIONS.items():
        transliterated = transliterated.replace(letter, spelled)
    add(transliterated)  # Müller → mueller
    add(_without_accents(lower))  # Müller → muller, José → jose
    for spelled, letter in (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("ss", "ß")):
        if spelled in lower:
            add(lower.replace(spelled, letter))  # mueller → müller, weiss → weiß
    reverse = lower
    for spelled, letter in (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("ss", "ß")):
        reverse = reverse.replace(spelled, letter)
    add(reverse)
    if not lower.isascii() or any(spelled in lower for spelled in TRANSLITERATIONS.values()):
        return found[:MAX_SPELLINGS]  # spelled with umlauts or accents, or transliterated: that is the form
    vowels = [i for i, letter in enumerate(lower) if letter in UMLAUTS]
    for count in range(1, len(vowels) + 1):  # muller → müller: one vowel as an umlaut, then two …
        for chosen in itertools.combinations(vowels, count):
            letters = list(lower)
            for i in chosen:
                letters[i] = UMLAUTS[letters[i]]
            add("".join(letters))
            if len(found) >= MAX_SPELLINGS:
                return found
    return found[:MAX_SPELLINGS]


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
