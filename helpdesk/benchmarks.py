"""Deterministic inputs of the benchmarks (no Django imports: load generators use them too)."""

from __future__ import annotations

import random

PREFIXES = ["Mü", "Sch", "Jo", "An", "Łu", "Zo", "Fr", "Пе", "Ma", "Ni", "Ol", "Yı", "Si", "Ø", "Ås", "Ng"]


def search_terms(count: int, seed: int = 200) -> list[dict]:
    """Varied searches: name prefixes, logins, e-mails, customer IDs, phrases, misses, postmaster look-ups."""
    rng = random.Random(seed)
    shapes = [
        lambda: {"term": rng.choice(PREFIXES) + "*"},
        lambda: {"term": f"*{rng.choice(PREFIXES).lower()}*"},
        lambda: {"term": f"person{rng.randrange(2100):04d}"},
        lambda: {"term": f"user{rng.randrange(20000):05d}"},
        lambda: {"login": f"user{rng.randrange(20000):05d}"},
        lambda: {"postmaster": f"person{rng.randrange(2100):04d}@example.org"},
        lambda: {"customer_id_raw": f"LDAP-{rng.randrange(20):02d}"},
        lambda: {"term": f"{rng.choice(PREFIXES)}* + !x*"},
        lambda: {"term": f"nomatch{rng.randrange(10**6)}"},
    ]
    return [rng.choice(shapes)() for _ in range(count)]
