"""The `LDAP` source (source.py) and its writes through django-ldapdb (writes.py)."""

from backends.ldap.source import LDAPSource

__all__ = ["LDAPSource"]
