"""Domain events of customers and customer users, for the layers above (tickets) to follow (R121).

Sent inside the renaming transaction, so a receiver's writes commit or roll back with the rename.
"""

from django.dispatch import Signal

customer_user_renamed = Signal()  # old_login, new_login
customer_renamed = Signal()  # old_id, new_id
