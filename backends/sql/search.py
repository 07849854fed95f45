"""Searches of the DB source (R40–R49): the selector's condition, the prefix and postmaster fast paths, the
search key (W1) and its pages."""

from __future__ import annotations

from functools import reduce
from operator import and_, or_

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, models
from django.db.models import F, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower

from backends.base import SearchQuery, SourceResult, login_order
from backends.folding import Folded, fold
from backends.search import Expression, UnparsableSearch, parse_search
from backends.sql.common import COUNT_CAP, INT_RE, NUL
from backends.sql.lookups import Glob, Like, LikeBinary, glob_pattern, like_pattern


class Searches:
    """The DB source's searches."""

    def _expr(self, storage: str):
        field = self._fields.get(storage)
        if field is not None and field.column != "extra_attributes":
            return F(field.name)
        return KT(f"extra_attributes__{storage}")

    def _match(self, storage: str, pattern: str, *, folded: bool = False) -> Q:
        if folded:
            return Q(Like(Folded(Lower(self._text_expr(storage))), like_pattern(fold(pattern))))
        if self.case_sensitive:
            vendor = connections[self.using].vendor
            if vendor == "sqlite":
                return Q(Glob(self._expr(storage), glob_pattern(pattern)))
            if vendor == "mysql":
                return Q(LikeBinary(self._expr(storage), like_pattern(pattern)))
            return Q(Like(self._expr(storage), like_pattern(pattern)))
        return Q(Like(Lower(self._text_expr(storage)), like_pattern(pattern).lower()))

    def _equals(self, storage: str, value: str, sensitive: bool | None = None) -> Q:
        if self.case_sensitive if sensitive is None else sensitive:
            return Q(models.lookups.Exact(self._expr(storage), value))
        return Q(models.lookups.Exact(Lower(self._text_expr(storage)), value.lower()))

    def _text_expr(self, storage: str):
        """A column as text, for patterns and case-blind comparisons (a number column is cast)."""
        expression = self._expr(storage)
        if isinstance(self._fields.get(storage), models.IntegerField):
            return Cast(expression, models.CharField())
        return expression

    def _match_any(self, storages: tuple[str, ...], pattern: str, *, folded: bool = False) -> Q:
        """The pattern matches at least one of the fields, through the search key where it covers them.

        The key is `␟f1␟f2␟…␟`, lower-cased. Over exactly the key's fields, a case-blind pattern without an
        inner `*` matches some field if and only if the key matches it with `␟` for each end that has no
        wildcard (`mül*` → `%␟mül%`, `*ller*` → `%ller%`): one comparison per row, answered by the key's
        trigram index, and estimated from its statistics. Otherwise the key only narrows the rows (a
        necessary condition) and each field is tested. `folded`: the same, accent-blind, over the stored
        folded key (customers migration 0021) and its own trigram index.
        """
        any_field = reduce(or_, (self._match(s, pattern, folded=folded) for s in storages))
        if not self._key_columns.issuperset(storages):
            return any_field
        separator = self._key_separator
        key = fold(pattern) if folded else pattern.lower()
        key = ("" if key.startswith("*") else f"*{separator}") + key
        key = key if key.endswith("*") else f"{key}{separator}*"
        in_key = Q(Like(self._folded_key_expr() if folded else F("search_key"), like_pattern(key)))
        exact = (
            (folded or not self.case_sensitive)
            and self._key_columns == set(storages)
            and "*" not in pattern.strip("*")
            and separator not in pattern
        )
        return in_key if exact else in_key & any_field

    def _expression_q(self, expression: Expression, storages: tuple[str, ...]) -> Q:
        """R43: a positive term matches any search field; a negated term requires that none does."""
        if not storages:
            return Q(pk__in=[])
        groups = []
        for group in expression:
            conditions = []
            for term in group:
                pattern = term.pattern(self.config.search_prefix, self.config.search_suffix)
                if term.negated:
                    conditions.append(~reduce(or_, (self._match(s, pattern) for s in storages)))
                else:
                    conditions.append(self._match_any(storages, pattern))
            groups.append(reduce(and_, conditions))
        return reduce(or_, groups)

    def _folded_key_expr(self) -> RawSQL:
        """The stored folded key (customers migration 0021): not a model field, so named as SQL."""
        table = connections[self.using].ops.quote_name(self.model._meta.db_table)
        return RawSQL(f"{table}.{connections[self.using].ops.quote_name(self._folded_key)}", (), TextField())

    @property
    def folds_accents(self) -> bool:
        return connections[self.using].vendor == "postgresql"  # `translate`, and an index over the key

    def _base_queryset(self, valid_only: bool):
        qs = self.model._default_manager.using(self.using).all()
        if valid_only and self.config.customer_valid:
            qs = qs.filter(Q(models.lookups.Exact(self._expr(self.config.customer_valid), 1)))
        return qs

    def _selector_q(self, query: SearchQuery) -> Q:
        name, value = query.selector
        config = self.config
        if name == "term":
            return self._expression_q(parse_search(value), self._searchable_storages())
        if name == "folded":  # words joined by `+`, each accent-blind over the search fields
            expression = parse_search(value)
            storages = self._searchable_storages()
            if len(expression) != 1 or not storages or any(term.negated for term in expression[0]):
                return Q(pk__in=[])
            patterns = [term.pattern(config.search_prefix, config.search_suffix) for term in expression[0]]
            return reduce(and_, (self._match_any(storages, p, folded=True) for p in patterns))
        if name == "postmaster":
            # R45: exact whole-value match on each postmaster field, ORed (parenthesised, as Znuny: D2).
            return reduce(
                or_, (self._equals(s, value) for s in config.postmaster_search_fields), Q(pk__in=[])
            )
        if name == "login":
            if self.integer_logins and "*" not in value:
                return self._equals(config.customer_key, value) if INT_RE.match(value) else Q(pk__in=[])
            # W2: exact (case-insensitive) unless the caller asks for `*` wildcards; never a substring.
            if "*" in value:
                return self._match_any((config.customer_key,), value)
            return self._equals(config.customer_key, value)
        if name == "customer_id":
            # R47 with `*` as wildcard; `%` is literal here like everywhere else (W3).
            return self._match_any((config.customer_id,), value)
        return self._equals(config.customer_id, value)  # customer_id_raw, R48

    def search(self, query: SearchQuery) -> SourceResult:
        limit = query.limit or self.config.search_list_limit
        if NUL in query.selector[1]:
            return SourceResult(records=[], total=0)  # no stored value holds NUL: nothing can match
        selector = query.selector[0]
        if selector == "folded" and not self.folds_accents:
            return SourceResult(records=[], total=0)
        if selector == "postmaster":
            fast = self._postmaster_search(query, limit)
            if fast is not None:
                return fast
        try:
            if selector == "term" and (prefix := self._prefix_search(query, limit)) is not None:
                return prefix
            condition = self._selector_q(query)
        except UnparsableSearch:
            return SourceResult(records=[])
        try:
            where, params = self._where(self._base_queryset(query.valid_only).filter(condition))
        except EmptyResultSet:
            return SourceResult(records=[], total=0)
        cap = max(COUNT_CAP, limit)
        hits_limit = connections[self.using].ops.limit_offset_sql(0, cap + 1)
        if selector == "login":  # the list (`*`) and login wildcards: the first logins, in login order
            sql = (
                f"SELECT {self._read_columns}, {self._login_order} AS hit_key FROM {self._table}{where}"
                f" ORDER BY hit_key {hits_limit}"
            )
        else:  # R20 promises no order: any `limit` matches, where a filter may stop, whatever the term
            sql = f"{self._select_from}{where} {hits_limit}"
        return self._page(sql, params, limit, cap, ordered=selector == "login")

    def _where(self, qs) -> tuple[str, list]:
        """` WHERE …` as the ORM writes it for `qs` (its lookups, escapes and vendor quirks), without
        compiling a whole SELECT of every column, which took longer than a 250-row page needs."""
        try:
            sql, params = qs.query.get_compiler(using=self.using).compile(qs.query.where)
        except FullResultSet:
            return "", []
        return (f" WHERE {sql}" if sql else ""), list(params)

    def _page(self, hits_sql: str, params: list | tuple, limit: int, cap: int, ordered: bool) -> SourceResult:
        """The first `limit` of the rows `hits_sql` selects (the `_read_fields`, at most `cap + 1` rows;
        then `hit_key` when `ordered`) as records, and how many it selected: exact up to `cap`, unknown
        beyond (W6). The rows come straight from the matching statement, not read again by key."""
        first_page = connections[self.using].ops.limit_offset_sql(0, limit)
        order = "ORDER BY s.hit_key " if ordered else ""
        sql = f"SELECT COUNT(*) OVER () AS n, s.* FROM ({hits_sql}) s {order}{first_page}"
        rows = self._run(sql, params, "search")
        matched = rows[0][0] if rows else 0
        end = -1 if ordered else None
        records = self._records([row[1:end] for row in rows])
        if not ordered:
            records.sort(key=login_order)
        return SourceResult(
            records=records,
            has_more=matched > limit,
            total=matched if matched <= cap else None,
        )

    def _prefix_search(self, query: SearchQuery, limit: int) -> SourceResult | None:
        """One term `x*` (or `x`) over columns that each have a `lower(…) COLLATE "C"` index: per column,
        the first `cap + 1` matches straight from its index, and their union. It costs the same for `a*`
        as for a login that matches once, where the trigram index reads a posting list per trigram and
        the planner, guessing the selectivity of `LIKE`, may sort tens of thousands of rows.

        Exact: a union of the columns' matches is every match when no column reached `cap + 1`, and more
        than `cap` otherwise. None when the search is not of that shape (the general plan handles it).
        """
        config = self.config
        if self.case_sensitive or not self._prefix_columns or connections[self.using].vendor != "postgresql":
            return None
        expression = parse_search(query.term)
        if len(expression) != 1 or len(expression[0]) != 1 or expression[0][0].negated:
            return None
        pattern = expression[0][0].pattern(config.search_prefix, config.search_suffix)
        if "*" in pattern.rstrip("*") or not pattern.strip("*"):
            return None
        storages = self._searchable_storages()
        valid = config.customer_valid if query.valid_only else None
        if not storages or not self._prefix_columns.issuperset(storages):
            return None
        if valid and not self._is_column(valid):
            return None
        quote = connections[self.using].ops.quote_name
        where_valid = f"{quote(self._fields[valid].column)} = 1 AND " if valid else ""
        cap = max(COUNT_CAP, limit)
        branches = []
        for storage in storages:
            column = f'LOWER({quote(self._fields[storage].column)}) COLLATE "C"'
            branches.append(
                f"(SELECT {self._read_columns} FROM {self._table} WHERE {where_valid}{column} LIKE %s"
                f" ORDER BY {column} LIMIT {cap + 1})"
            )
        params = [like_pattern(pattern).lower()] * len(branches)
        return self._page(" UNION ".join(branches), params, limit, cap, ordered=False)

    def _searchable_storages(self) -> tuple[str, ...]:
        """The search fields a term is matched against (never the password, R43)."""
        return tuple(
            s
            for s in self.config.search_fields
            if (row := self.config.row_for_storage(s)) is None or not row.is_password
        )

    def _postmaster_search(self, query: SearchQuery, limit: int) -> SourceResult | None:
        """R45: whole-value, case-insensitive equality on the postmaster fields that are columns."""
        fields = self.config.postmaster_search_fields
        valid = self.config.customer_valid if query.valid_only else None
        if not fields or any(not self._is_column(f) for f in (*fields, *([valid] if valid else []))):
            return None  # a field kept in extra_attributes: the ORM path handles it
        where = "(" + " OR ".join(self._exact(f) for f in fields) + ")"
        params = [self._fold(query.postmaster.strip())] * len(fields)
        if valid:
            where += f" AND {connections[self.using].ops.quote_name(self._fields[valid].column)} = 1"
        rows = self._select_rows("search", where, params, limit + 1)
        return SourceResult(
            records=rows[:limit], has_more=len(rows) > limit, total=None if len(rows) > limit else len(rows)
        )
