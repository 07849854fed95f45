"""Relations written in bulk (R101, R102, R130), the reverse listings (R104, R105) and R106/R107."""

import pytest

from core.errors import ValidationFailed
from core.models import HistoryEntry
from customers.models import (
    CustomerGroup,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserService,
    Validity,
)
from permissions.group_members import list_customer_groups, list_group_context_customers, list_group_members
from permissions.matrix import build_permission_matrix
from permissions.services import (
    UnknownRelated,
    add_customer_users_to_customer,
    add_customer_users_to_service,
    grant_group_permissions,
    remove_customer_users_from_customer,
    remove_customer_users_from_service,
    set_additional_customers,
    set_customer_groups,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def world(customer_factory, customer_user_factory, group_factory, service_factory, settings):
    settings.HELPDESK_SETTINGS = {
        "CustomerGroupAlwaysGroups": ["users"],
        "CustomerGroupCompanyAlwaysGroups": ["company"],
        "CustomerPermissionTypes": ["ro", "create", "rw"],
        "CustomerDisableCompanyTicketAccess": 0,
    }
    for cid in ("ACME", "BETA", "GAMMA", "DELTA"):
        customer_factory(customer_id=cid, name=f"{cid} Ltd")
    customer_factory(customer_id="GONE", name="Gone Ltd", validity=Validity.INVALID)
    for name in ("users", "company", "support", "billing", "shared"):
        group_factory(name=name)
    group_factory(name="retired", validity=Validity.INVALID)
    service_factory(name="VPN")
    customer_user_factory(login="alice", customer_id="ACME", email="alice@example.com")
    customer_user_factory(login="bob", customer_id="BETA", email="bob@example.com")
    customer_user_factory(login="carol", customer_id="ACME", email="carol@example.com")
    customer_user_factory(
        login="dave", customer_id="ACME", email="dave@example.com", validity=Validity.INVALID
    )


def test_bulk_grant_counts_only_new_rows_and_stores_the_stored_login(world, acting_user):
    """R101 for many users × many groups; relations are keyed by the stored login (R8)."""
    added = grant_group_permissions(
        logins=["ALICE", "bob"], groups=["support", "billing"], permissions=["ro"], acting_user=acting_user
    )
    assert added == 4
    again = grant_group_permissions(
        logins=["alice", "bob", "carol"], groups=["support"], permissions=["ro"], acting_user=acting_user
    )
    assert again == 1
    assert set(CustomerUserGroup.objects.values_list("login", flat=True)) == {"alice", "bob", "carol"}


def test_relations_to_unknown_customer_users_are_refused_and_nothing_is_written(world, acting_user):
    with pytest.raises(UnknownRelated) as caught:
        grant_group_permissions(
            logins=["alice", "nobody"], groups=["support"], permissions=["ro"], acting_user=acting_user
        )
    assert caught.value.field_errors == {"login": ["No customer user 'nobody'."]}
    assert not CustomerUserGroup.objects.exists()
    with pytest.raises(UnknownRelated, match="Unknown customers: NOPE"):
        add_customer_users_to_customer(logins=["alice"], customer_id="NOPE", acting_user=acting_user)


def test_customer_user_customer_links_add_and_remove_in_bulk(world, acting_user):
    assert (
        add_customer_users_to_customer(
            logins=["alice", "bob", "carol"], customer_id="GAMMA", acting_user=acting_user
        )
        == 3
    )
    assert (
        remove_customer_users_from_customer(
            logins=["alice", "bob"], customer_id="GAMMA", acting_user=acting_user
        )
        == 2
    )
    assert list(CustomerUserCustomer.objects.values_list("login", "customer_id")) == [("carol", "GAMMA")]
    set_additional_customers(login="Carol", customer_ids=["BETA", "DELTA"], acting_user=acting_user)
    assert sorted(CustomerUserCustomer.objects.values_list("login", "customer_id")) == [
        ("carol", "BETA"), ("carol", "DELTA"),
    ]  # fmt: skip
    actions = list(HistoryEntry.objects.order_by("pk").values_list("action", "object_key", "actor"))
    assert actions == [  # one entry per customer user the write touched: each one's history shows it
        ("customer_user_customer.added", "alice", acting_user.pk),
        ("customer_user_customer.added", "bob", acting_user.pk),
        ("customer_user_customer.added", "carol", acting_user.pk),
        ("customer_user_customer.removed", "alice", acting_user.pk),
        ("customer_user_customer.removed", "bob", acting_user.pk),
        ("customer_user_customer.set", "carol", acting_user.pk),
    ]


def test_customer_user_services_add_and_remove_in_bulk(world, acting_user):
    """R130: one service to many users and back; removal counts what it removed (the reference says
    false)."""
    assert add_customer_users_to_service(logins=["alice", "bob"], service="VPN", acting_user=acting_user) == 2
    assert add_customer_users_to_service(logins=["alice"], service="VPN", acting_user=acting_user) == 0
    assert remove_customer_users_from_service(logins=["bob"], service="VPN", acting_user=acting_user) == 1
    assert list(CustomerUserService.objects.values_list("login", flat=True)) == ["alice"]


def test_customer_group_permissions_replace_one_context_and_reduce_rw(world, acting_user):
    """R102: rw stands for every type; a context is replaced as a whole, the other context is untouched."""
    set_customer_groups(customer_id="ACME", permissions={"support": ["ro"]}, acting_user=acting_user,
                        context=CustomerGroup.OTHER)  # fmt: skip
    set_customer_groups(customer_id="ACME", permissions={"billing": ["ro", "rw"], "shared": ["create"]},
                        acting_user=acting_user)  # fmt: skip
    set_customer_groups(customer_id="ACME", permissions={"billing": ["ro", "rw"]}, acting_user=acting_user)
    rows = sorted(CustomerGroup.objects.values_list("group__name", "permission", "context"))
    assert rows == [("billing", "rw", CustomerGroup.SAME), ("support", "ro", CustomerGroup.OTHER)]


def test_unknown_context_is_refused(world, acting_user):
    """R106: only the Same and Other contexts exist."""
    with pytest.raises(ValidationFailed) as caught:
        set_customer_groups(customer_id="ACME", permissions={}, acting_user=acting_user, context="Elsewhere")
    assert caught.value.field_errors == {"context": ["Unknown context 'Elsewhere'."]}


def test_reverse_listing_agrees_with_the_per_user_check(world, db_source_settings, acting_user, settings):
    """R104, without W14: additional customers count, invalid users do not, default groups are reported."""
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings()}
    grant_group_permissions(logins=["bob", "dave"], groups=["support"], permissions=["rw"],
                            acting_user=acting_user)  # fmt: skip
    set_customer_groups(customer_id="ACME", permissions={"support": ["ro"]}, acting_user=acting_user)
    set_customer_groups(customer_id="GAMMA", permissions={"support": ["create"]}, acting_user=acting_user)
    add_customer_users_to_customer(logins=["bob"], customer_id="GAMMA", acting_user=acting_user)

    members = list_group_members("support", "ro")
    assert members.logins == ["alice", "bob", "carol"]  # dave is invalid (R104)
    assert [g.reason for g in members.members["alice"]] == ["via customer ACME: ro"]
    assert [g.reason for g in members.members["bob"]] == ["direct rw (rw implies every type)"]
    assert list_group_members("support", "create").logins == ["bob"]  # direct rw, and via GAMMA
    assert [g.reason for g in list_group_members("support", "create").members["bob"]] == [
        "direct rw (rw implies every type)", "via customer GAMMA: create",
    ]  # fmt: skip
    for login in ("alice", "bob", "carol"):  # valid users; R104 leaves invalid ones out, R103 does not
        for permission in ("ro", "create"):
            per_user = build_permission_matrix(login).allows("support", permission)
            assert per_user == (login in list_group_members("support", permission).members), (
                login,
                permission,
            )

    assert list_group_members("users", "ro").everyone == ("default group for every customer user",)
    assert list_group_members("retired", "ro").members == {}


def test_reverse_listing_reports_sources_without_group_support(world, db_source_settings, settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CustomerGroupSupport=0)}
    members = list_group_members("billing", "ro")
    assert members.everyone == ("group support is off for source CustomerUser: every group",)
    assert members.members == {}


def test_customer_group_list(world, acting_user):
    """R105: one company's groups, Same context, with rw implying the type and the company defaults."""
    set_customer_groups(customer_id="ACME", permissions={"support": ["rw"], "retired": ["ro"]},
                        acting_user=acting_user)  # fmt: skip
    set_customer_groups(customer_id="ACME", permissions={"billing": ["ro"]}, acting_user=acting_user,
                        context=CustomerGroup.OTHER)  # fmt: skip
    assert list_customer_groups("ACME", "create") == ["company", "support"]
    assert list_customer_groups("ACME", "nonsense") == []


def test_group_context_customers(world, registry, acting_user):
    """R107: the Other context reaches the customers that hold the same group in the Same context."""
    set_customer_groups(customer_id="ACME", permissions={"shared": ["ro"]}, acting_user=acting_user,
                        context=CustomerGroup.OTHER)  # fmt: skip
    set_customer_groups(customer_id="BETA", permissions={"shared": ["rw"]}, acting_user=acting_user)
    set_customer_groups(customer_id="GONE", permissions={"shared": ["ro"]}, acting_user=acting_user)
    set_customer_groups(customer_id="DELTA", permissions={"shared": ["create"]}, acting_user=acting_user)
    add_customer_users_to_customer(logins=["alice"], customer_id="GAMMA", acting_user=acting_user)
    assert list_group_context_customers("alice", registry=registry) == {
        "ACME": "ACME Ltd", "GAMMA": "GAMMA Ltd", "BETA": "BETA Ltd",
    }  # fmt: skip
    assert list_group_context_customers("nobody", registry=registry) == {}
