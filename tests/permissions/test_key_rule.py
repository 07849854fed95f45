"""One key rule: customer IDs and logins compared case-blind by the matrix, the reverse listings and revokes."""

import pytest

from customers.models import CustomerGroup, CustomerUserGroup
from permissions.group_members import list_group_members
from permissions.matrix import build_permission_matrix
from permissions.services import grant_group_permissions, revoke_group_permissions, set_customer_groups

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def acme_billing(customer_factory, customer_user_factory, group_factory, settings, acting_user):
    settings.HELPDESK_SETTINGS = {"CustomerPermissionTypes": ["ro", "rw"]}
    customer_factory(customer_id="ACME", name="Acme")
    group_factory(name="billing")
    customer_user_factory(login="ann", customer_id="acme", email="ann@example.com")
    customer_user_factory(login="bob", customer_id="ACME", email="bob@example.com")
    set_customer_groups(customer_id="ACME", permissions={"billing": ["ro"]}, acting_user=acting_user)


@pytest.mark.parametrize("login", ["ann", "bob"])
def test_a_customer_id_in_another_case_gets_the_customers_groups(acme_billing, registry, login):
    """R118 treats `acme` and `ACME` as one customer; the matrix does too (issue 32, point 3)."""
    matrix = build_permission_matrix(login, registry=registry)

    assert [grant.reason for grant in matrix.why("billing", "ro")] == ["via customer ACME: ro"]


def test_the_groups_members_list_the_user_typed_in_another_case(acme_billing, registry):
    members = list_group_members("billing", "ro", registry=registry)

    assert members.logins == ["ann", "bob"]


def test_revoking_folds_the_login_as_granting_does(customer_user_factory, group_factory, acting_user):
    """Issue 32, point 8: granted as `ALICE` (stored `alice`), revoked as `ALICE`."""
    customer_user_factory(login="alice")
    group_factory(name="tg1")
    grant_group_permissions(logins=["ALICE"], groups=["tg1"], permissions=["ro"], acting_user=acting_user)
    assert list(CustomerUserGroup.objects.values_list("login", flat=True)) == ["alice"]

    removed = revoke_group_permissions(
        logins=["ALICE"], groups=["tg1"], permissions=["ro"], acting_user=acting_user
    )

    assert (removed, CustomerUserGroup.objects.count()) == (1, 0)
    assert CustomerGroup.objects.count() == 0
