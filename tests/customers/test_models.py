"""Customers and customer users are never deleted (R59)."""

import pytest

from core.errors import DeletionRefused
from customers.models import Customer, CustomerUser

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_customer_user_cannot_be_deleted(customer_user_factory):
    user = customer_user_factory()
    with pytest.raises(DeletionRefused, match="Customer users are never deleted"):
        user.delete()
    with pytest.raises(DeletionRefused):
        CustomerUser.objects.all().delete()
    assert CustomerUser.objects.filter(pk=user.pk).exists()


def test_customer_cannot_be_deleted(customer_factory):
    customer = customer_factory()
    with pytest.raises(DeletionRefused, match="Customers are never deleted"):
        customer.delete()
    with pytest.raises(DeletionRefused):
        Customer.objects.filter(pk=customer.pk).delete()


def test_admin_offers_no_delete(admin_client, customer_user_factory):
    user = customer_user_factory()
    response = admin_client.get(f"/admin/customers/customeruser/{user.pk}/delete/")
    assert response.status_code == 403
    response = admin_client.get("/admin/customers/customer/")
    assert b"delete_selected" not in response.content
    assert b"mark_invalid" in response.content
