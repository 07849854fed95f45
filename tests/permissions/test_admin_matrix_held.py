"""The customer user's group matrix shows what is held another way (issue 35): `rw` implying the other types
after saving, a default group, a company's group — greyed, with the reason for screen readers and on hover."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerGroup, CustomerUser, CustomerUserGroup, Group
from permissions.services import set_permission_setting

pytestmark = [pytest.mark.django_db]


def test_the_matrix_shows_held_grants_with_their_reasons(
    client, settings, db_source_settings, django_user_model
):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@example.com", first_name="Anna",
                                last_name="Alt")  # fmt: skip
    billing, support, _everyone = (Group.objects.create(name=n) for n in ("billing", "support", "everyone"))
    CustomerUserGroup.objects.create(login="anna", group=billing, permission="rw")
    CustomerGroup.objects.create(customer_id="ACME", group=support, permission="ro")
    set_permission_setting(key="CustomerGroupAlwaysGroups", value=["everyone"], acting_user=None)
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    )
    page = client.get(reverse("admin:customer_user_groups", args=["anna"]))
    cells = {
        row[0]: {t: (checked, held) for t, checked, held in row[2]} for row in page.context["sections"][0][2]
    }
    assert cells["billing"]["rw"] == (True, "")  # its own box
    assert cells["billing"]["ro"][0] is False
    assert (
        "direct rw (rw implies every type)" in cells["billing"]["ro"][1]
    )  # held under rw, shown after saving
    assert "via customer ACME: ro" in cells["support"]["ro"][1]
    assert "default group for every customer user" in cells["everyone"]["ro"][1]
    html = page.content.decode()
    assert 'class="hd-held"' in html
    assert "held: direct rw (rw implies every type)" in html
