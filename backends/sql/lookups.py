"""Pattern lookups the DB source's searches compile to (LIKE, MySQL's binary LIKE, SQLite's GLOB)."""

from __future__ import annotations

from django.db.models.lookups import Lookup


class Like(Lookup):
    """`lhs LIKE rhs` with backslash escapes; on SQLite, case-sensitive matching uses GLOB instead."""

    lookup_name = "like"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "mysql":  # backslash is MySQL's escape already, and a string escape
            return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


class LikeBinary(Like):
    """Case-sensitive LIKE on MySQL, whose text columns compare case-blind by their collation."""

    lookup_name = "like_binary"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE BINARY {rhs}", [*lhs_params, *rhs_params]


class Glob(Lookup):
    lookup_name = "glob"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} GLOB {rhs}", [*lhs_params, *rhs_params]


def like_pattern(pattern: str) -> str:
    """`*` → `%`; literal `%`, `_` and backslash escaped (R43)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def glob_pattern(pattern: str) -> str:
    """`*` stays a wildcard; literal `?` and `[` are bracketed (SQLite GLOB is case-sensitive)."""
    return pattern.replace("[", "[[]").replace("?", "[?]")
