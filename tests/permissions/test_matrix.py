"""The effective permission matrix (R100–R108) and its reasons."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.registry import SourceHandler
from core.errors import ValidationFailed
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    Group,
    Validity,
)
from customers.services import update_customer_user
from permissions.company_tickets import list_company_ticket_customer_ids, list_customer_user_services
from permissions.matrix import build_permission_matrix, get_permission_matrix
from permissions.services import (
    UnknownPermissionType,
    grant_group_permissions,
    revoke_group_permissions,
    set_customer_groups,
    set_customer_user_services,
    set_default_services,
    set_permission_setting,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def world(customer_factory, customer_user_factory, group_factory, settings):
    settings.HELPDESK_SETTINGS = {
        "CustomerGroupAlwaysGroups": ["users"],
        "CustomerGroupCompanyAlwaysGroups": ["company"],
        "CustomerPermissionTypes": ["ro", "create", "rw"],
        "CustomerDisableCompanyTicketAccess": 0,
    }
    for cid in ("ACME", "BETA", "GAMMA"):
        customer_factory(customer_id=cid, name=cid)
    for name in ("users", "company", "support", "billing", "projects"):
        group_factory(name=name)
    group_factory(name="retired", validity=Validity.INVALID)
    customer_user_factory(login="alice", customer_id="ACME", email="alice@example.com")
    customer_user_factory(login="bob", customer_id="BETA", email="bob@example.com")


def reasons(matrix, group, permission):
    return [grant.reason for grant in matrix.why(group, permission)]


def test_rw_implies_every_type(world, registry, acting_user):
    """R100."""
    grant_group_permissions(logins=["alice"], groups=["support"], permissions=["rw"], acting_user=acting_user)
    matrix = build_permission_matrix("alice", registry=registry)
    for permission in ("ro", "create", "rw"):
        assert reasons(matrix, "support", permission) == ["direct rw (rw implies every type)"]


def test_granting_rw_keeps_an_existing_ro_row(world, registry, acting_user):
    """R101: types not mentioned are left untouched; {rw, ro} is reduced to {rw}."""
    grant_group_permissions(logins=["alice"], groups=["support"], permissions=["ro"], acting_user=acting_user)
    grant_group_permissions(
        logins=["alice"], groups=["support"], permissions=["ro", "rw"], acting_user=acting_user
    )
    assert sorted(CustomerUserGroup.objects.values_list("permission", flat=True)) == ["ro", "rw"]


def test_unknown_permission_type_is_refused(world, acting_user):
    with pytest.raises(
        UnknownPermissionType, match="'admin' is not a permission type; allowed: ro, create, rw"
    ):
        grant_group_permissions(
            logins=["alice"], groups=["support"], permissions=["admin"], acting_user=acting_user
        )
    assert not CustomerUserGroup.objects.exists()


def test_direct_links_on_valid_groups_only(world, registry, acting_user):
    """R103 step 2."""
    grant_group_permissions(
        logins=["alice"], groups=["billing", "retired"], permissions=["ro"], acting_user=acting_user
    )
    matrix = build_permission_matrix("alice", registry=registry)
    assert reasons(matrix, "billing", "ro") == ["direct ro"]
    assert not matrix.allows("billing", "create")
    assert not matrix.allows("retired", "ro")


def test_customer_links_in_the_same_context(world, registry, acting_user):
    """R103 step 3: primary and additional customers, Same context only, plus company default groups."""
    set_customer_groups(customer_id="ACME", permissions={"projects": ["create"]}, acting_user=acting_user)
    set_customer_groups(customer_id="GAMMA", permissions={"billing": ["rw"]}, acting_user=acting_user)
    set_customer_groups(
        customer_id="ACME",
        permissions={"support": ["ro"]},
        acting_user=acting_user,
        context=CustomerGroup.OTHER,
    )
    CustomerUserCustomer.objects.create(login="alice", customer_id="GAMMA")

    matrix = build_permission_matrix("alice", registry=registry)

    assert reasons(matrix, "projects", "create") == ["via customer ACME: create"]
    assert not matrix.allows("projects", "ro")
    assert reasons(matrix, "billing", "ro") == ["via customer GAMMA: rw (rw implies every type)"]
    assert not matrix.allows("support", "ro")
    assert reasons(matrix, "company", "ro") == ["company default group (via customer ACME, GAMMA)"]


def test_default_groups_for_every_customer_user(world, registry):
    """R103 step 4."""
    matrix = build_permission_matrix("bob", registry=registry)
    assert reasons(matrix, "users", "rw") == ["default group for every customer user"]
    assert matrix.group_names("ro") == ["company", "users"]


def test_unknown_login_gets_nothing(world, registry):
    """W17: the reference gives even unknown logins the default groups; we give nothing."""
    assert build_permission_matrix("nobody", registry=registry).group_names("ro") == []


def test_source_without_group_support_gives_every_valid_group(world, db_source_settings):
    """R103 step 1, per source (CustomerGroupSupport off)."""
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerGroupSupport=0)})
    matrix = build_permission_matrix("alice", registry=registry)
    assert matrix.group_names("create") == ["billing", "company", "projects", "support", "users"]
    assert reasons(matrix, "billing", "ro") == ["group support is off for source CustomerUser: every group"]


def test_exclude_primary_customer_id_drops_the_primary_company(world, db_source_settings, acting_user):
    """R61/R120 in the matrix: the primary customer's groups do not count."""
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerUserExcludePrimaryCustomerID=1)})
    set_customer_groups(customer_id="ACME", permissions={"projects": ["ro"]}, acting_user=acting_user)
    assert not build_permission_matrix("alice", registry=registry).allows("projects", "ro")


def test_a_revoked_permission_never_survives_in_the_cache(world, acting_user, settings, db_source_settings):
    """R108: every write invalidates cached answers at once."""
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings()}
    grant_group_permissions(logins=["alice"], groups=["support"], permissions=["rw"], acting_user=acting_user)
    assert get_permission_matrix("alice").allows("support", "rw")
    revoke_group_permissions(
        logins=["alice"], groups=["support"], permissions=["rw"], acting_user=acting_user
    )
    assert not get_permission_matrix("alice").allows("support", "rw")
    set_permission_setting(key="CustomerGroupAlwaysGroups", value=[], acting_user=acting_user)
    assert not get_permission_matrix("alice").allows("users", "ro")
    update_customer_user(login="alice", changes={"UserCustomerID": "BETA"}, acting_user=acting_user)
    set_customer_groups(customer_id="BETA", permissions={"billing": ["ro"]}, acting_user=acting_user)
    assert get_permission_matrix("alice").allows("billing", "ro")


def test_a_new_customer_user_never_inherits_a_cached_empty_matrix(
    world, acting_user, settings, db_source_settings
):
    """R108. Measured: the create path bumped no generation, so a login asked about before it existed
    kept its cached empty matrix after being created (the update path did bump)."""
    from customers.services import create_customer_user

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings()}
    assert not get_permission_matrix("carol").allows("users", "ro")  # unknown: nothing, and cached
    create_customer_user(
        attributes={"UserLogin": "carol", "UserFirstname": "Carol", "UserLastname": "C",
                    "UserEmail": "carol@example.com", "UserCustomerID": "ACME"},
        acting_user=acting_user,
    )  # fmt: skip
    assert get_permission_matrix("carol").allows("users", "ro")  # the default group, at once


def test_run_time_settings_are_validated_and_logged(world, acting_user):
    from core.models import HistoryEntry

    with pytest.raises(ValidationFailed) as caught:
        set_permission_setting(key="CustomerPermissionTypes", value=["ro"], acting_user=acting_user)
    assert caught.value.field_errors == {"CustomerPermissionTypes": ["Must contain ro and rw."]}
    set_permission_setting(key="CustomerDisableCompanyTicketAccess", value=1, acting_user=acting_user)
    entry = HistoryEntry.objects.get(action="setting.changed")
    assert (entry.object_key, entry.detail, entry.actor) == (
        "CustomerDisableCompanyTicketAccess", {"old": None, "new": 1}, acting_user,
    )  # fmt: skip


def test_matrix_takes_a_fixed_number_of_queries(world, registry, acting_user, django_assert_max_num_queries):
    for n in range(40):
        Group.objects.create(name=f"g{n}")
        CustomerGroup.objects.create(
            customer_id="ACME", group_id=Group.objects.get(name=f"g{n}").pk, permission="ro"
        )
        CustomerUserGroup.objects.create(
            login="alice", group=Group.objects.get(name=f"g{n}"), permission="rw"
        )
    CustomerUserCustomer.objects.create(login="alice", customer_id="BETA")
    # The generations of the settings and of the source's cached reads, the settings, the user, one UNION;
    # through get_permission_matrix the two generations are one query (core.generations.remember).
    with django_assert_max_num_queries(5):
        matrix = build_permission_matrix("alice", registry=registry)
    assert len(matrix.group_names("ro")) == 42


# --------------------------------------------------------------------------------- company tickets
def test_company_ticket_customer_ids(world, registry, acting_user, settings):
    """R118: CustomerIDs(U), or nothing when company-ticket access is disabled."""
    CustomerUserCustomer.objects.create(login="alice", customer_id="GAMMA")
    assert list_company_ticket_customer_ids("alice", registry=registry) == ["ACME", "GAMMA"]
    set_permission_setting(key="CustomerDisableCompanyTicketAccess", value=1, acting_user=acting_user)
    assert list_company_ticket_customer_ids("alice", registry=registry) == []


def test_services_are_own_links_plus_defaults(world, registry, acting_user, service_factory):
    """R131, with defaults adding to a user's own services (docs/differences.md); valid services only."""
    for name in ("IT", "IT::Mail", "IT::VPN"):
        service_factory(name=name)
    service_factory(name="Old", validity=Validity.INVALID)
    set_default_services(services=["IT"], acting_user=acting_user)
    assert list_customer_user_services("alice", registry=registry) == ["IT"]
    set_customer_user_services(login="alice", services=["IT::VPN", "Old"], acting_user=acting_user)
    assert list_customer_user_services("alice", registry=registry) == ["IT", "IT::VPN"]


# ----------------------------------------------------------------------- the property-based check
def reference_groups(login, permission, *, users, user_links, customer_links, extra_customers,
                     valid_groups, always, company_always):  # fmt: skip
    """A plain transcription of R103 steps 2–5 for a user of a source with group support."""
    if login not in users:
        return set()
    result = set()
    for user, group, key in user_links:
        if user == login and key in (permission, "rw") and group in valid_groups:
            result.add(group)
    ids = [users[login], *sorted(c for u, c in extra_customers if u == login and c != users[login])]
    for customer in ids:
        for cust, group, key in customer_links:
            if cust == customer and key in (permission, "rw") and group in valid_groups:
                result.add(group)
        result |= {g for g in company_always if g in valid_groups}
    result |= {g for g in always if g in valid_groups}
    return result


GROUPS = ["g0", "g1", "g2", "g3", "g4"]
CUSTOMERS = ["C0", "C1", "C2"]
TYPES = ["ro", "create", "rw"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    user_links=st.sets(
        st.tuples(st.sampled_from(["u0", "u1"]), st.sampled_from(GROUPS), st.sampled_from(TYPES))
    ),
    customer_links=st.sets(
        st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(GROUPS), st.sampled_from(TYPES))
    ),
    extra_customers=st.sets(st.tuples(st.sampled_from(["u0", "u1"]), st.sampled_from(CUSTOMERS))),
    invalid=st.sets(st.sampled_from(GROUPS)),
    always=st.sets(st.sampled_from(GROUPS), max_size=2),
    company_always=st.sets(st.sampled_from(GROUPS), max_size=2),
)
def test_matrix_agrees_with_a_plain_reference_implementation(
    registry, settings, user_links, customer_links, extra_customers, invalid, always, company_always
):
    """R103 over random relation graphs."""
    settings.HELPDESK_SETTINGS = {
        "CustomerGroupAlwaysGroups": sorted(always), "CustomerGroupCompanyAlwaysGroups": sorted(company_always),
        "CustomerPermissionTypes": TYPES, "CustomerDisableCompanyTicketAccess": 0,
    }  # fmt: skip
    for model in (CustomerUserGroup, CustomerGroup, CustomerUserCustomer):
        model.objects.all().delete()
    groups = {}
    for name in GROUPS:
        groups[name], _ = Group.objects.update_or_create(
            name=name, defaults={"validity": Validity.INVALID if name in invalid else Validity.VALID}
        )
    for cid in CUSTOMERS:
        Customer.objects.get_or_create(customer_id=cid, defaults={"name": cid})
    users = {"u0": "C0", "u1": "C1"}
    for login, cid in users.items():
        CustomerUser.objects.get_or_create(login=login, defaults={"customer_id": cid, "email": f"{login}@x.org",
                                                                  "first_name": "U", "last_name": login})  # fmt: skip
    CustomerUserGroup.objects.bulk_create(
        [CustomerUserGroup(login=u, group=groups[g], permission=t) for u, g, t in user_links]
    )
    CustomerGroup.objects.bulk_create(
        [CustomerGroup(customer_id=c, group=groups[g], permission=t) for c, g, t in customer_links]
    )
    CustomerUserCustomer.objects.bulk_create(
        [CustomerUserCustomer(login=u, customer_id=c) for u, c in extra_customers]
    )
    valid_groups = {g for g in GROUPS if g not in invalid}
    for login in ("u0", "u1", "ghost"):
        matrix = build_permission_matrix(login, registry=registry)
        for permission in TYPES:
            expected = reference_groups(
                login, permission, users=users, user_links=user_links, customer_links=customer_links,
                extra_customers=extra_customers, valid_groups=valid_groups, always=always,
                company_always=company_always,
            )  # fmt: skip
            assert set(matrix.group_names(permission)) == expected, (login, permission)
