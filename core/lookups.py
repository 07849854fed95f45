"""One rule for comparing the keys people type in any case: customer IDs, group names, service names.

`field__ci=value` and `field__ci_in=[…]` compare `lower()` of both sides in the database, so they use the
`lower(column)` indexes and the case-insensitive unique constraints that stand behind them (two customers
`CC46801DX` and `cc46801dx` cannot exist, so a case-blind match is never ambiguous).
"""

from __future__ import annotations

from django.db.models import CharField, Lookup, TextField


def fold(key: str) -> str:
    """The form a key is compared in, outside the database: what `LOWER()` makes of it there.

    Customer IDs, logins, group and service names are compared through this (or `__ci`/`__ci_in`) on every
    path: services, importers, the migration, the matrix and ticket access.
    """
    return key.lower()


class CaseInsensitiveExact(Lookup):
    lookup_name = "ci"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs}) = LOWER({rhs})", [*lhs_params, *rhs_params]


class CaseInsensitiveIn(Lookup):
    lookup_name = "ci_in"

    def get_prep_lookup(self):
        return [str(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if not self.rhs:
            return "1 = 0", []
        placeholders = ", ".join(["LOWER(%s)"] * len(self.rhs))
        return f"LOWER({lhs}) IN ({placeholders})", [*lhs_params, *self.rhs]


def register() -> None:
    for field in (CharField, TextField):
        field.register_lookup(CaseInsensitiveExact)
        field.register_lookup(CaseInsensitiveIn)
