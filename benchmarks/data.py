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


FIRST_NAMES = [
    "Anna",
    "Jürgen",
    "Zoë",
    "Łukasz",
    "Ólafur",
    "Søren",
    "José",
    "Inés",
    "François",
    "Björn",
    "Ewa",
    "Ayşe",
    "Γιώργος",
    "Иван",
    "Taro",
    "花子",
    "Wei",
    "Min-jun",
    "Aarav",
    "Nguyễn",
    "Chidi",
    "Noa",
]
LAST_NAMES = [
    "Müller",
    "Weiß",
    "Schröder",
    "Wójcik",
    "Þórsson",
    "Kierkegård",
    "Peña",
    "Muñoz",
    "Lefèvre",
    "Åström",
    "Łęcka",
    "Yılmaz",
    "Παπαδόπουλος",
    "Петров",
    "Yamada",
    "山田",
    "Zhang",
    "Kim",
    "Sharma",
    "Okonkwo",
    "Cohen",
    "Heller",
    "Keller",
]


def write_customer_users_csv(path, count: int, customers: int, seed: int = 1, start: int = 0) -> None:
    """A deterministic import file: customer users `start` … `count - 1` spread over `customers` customers."""
    import csv

    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["UserLogin", "UserFirstname", "UserLastname", "UserEmail", "UserCustomerID", "UserPhone"]
        )
        for n in range(start, count):
            rng.seed(seed * 10_000_000 + n)
            login = f"cu{n:07d}"
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            phone = f"+49 {rng.randrange(10**9):09d}"
            writer.writerow(
                [login, first, last, f"{login}@import.example", f"IMP-{n % customers:06d}", phone]
            )


def write_customers_csv(path, count: int, start: int = 0) -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["CustomerID", "CustomerCompanyName", "CustomerCompanyCity"])
        for n in range(start, count):
            writer.writerow([f"IMP-{n:06d}", f"Import Company {n:06d}", "Berlin"])
