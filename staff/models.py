"""Staff users are Django's; their roles are Django groups (staff/roles.py). This module has no models:
it exists so that Django sends this app the post_migrate signal that keeps the roles in sync."""
