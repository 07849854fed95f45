from core.postgresql import PostgreSQLOnly

__all__ = ["PostgreSQLOnly"]
