"""The admin surface: the site (site.py), the ModelAdmins (customers.py, tickets.py, history.py, logins.py)
and the screens that are not one model's change list (customer_users.py, permissions.py,
information_center.py)."""
