"""History reads in words, with links (issue 35): "gave anna: billing rw", not `{"granted": ["billing:rw"]}`."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerUser, Group
from customers.services import update_customer_user
from permissions.services import set_customer_user_groups

pytestmark = [pytest.mark.django_db]


def test_the_audit_log_says_what_happened_in_words(client, settings, db_source_settings, django_user_model):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@example.com", first_name="Anna",
                                last_name="Alt")  # fmt: skip
    Group.objects.create(name="billing")
    Group.objects.create(name="support")
    root = django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    set_customer_user_groups(
        login="anna", permissions={"billing": ["rw"], "support": ["ro"]}, acting_user=root
    )
    set_customer_user_groups(login="anna", permissions={"billing": ["rw"]}, acting_user=root)
    update_customer_user(login="anna", changes={"UserLastname": "Neu"}, acting_user=root)
    client.force_login(root)
    page = client.get(reverse("admin:core_historyentry_changelist")).content.decode()
    anna = reverse("admin:customer_user_change", args=["anna"])
    assert f'gave <a href="{anna}">anna</a>: billing rw, support ro' in page
    assert f'took from <a href="{anna}">anna</a>: support ro' in page
    assert f'changed customer user <a href="{anna}">anna</a> (UserLastname: Alt → Neu)' in page
