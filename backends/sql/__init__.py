"""The `DB` source (`backends.sql.DBSource`): customer users in a SQL table, in parts by role."""

from backends.sql.source import DBSource, own_table

__all__ = ["DBSource", "own_table"]
