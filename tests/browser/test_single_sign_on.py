"""Customer single sign-on driven in Chromium (issue 39): the panel's login page, the real OpenID provider
(Canaille, pytest-iam) and back, as a customer's browser goes — cookies, redirects and forms included."""

from __future__ import annotations

import uuid

import pytest

from customers.models import Customer, CustomerUser, CustomerUserGroup, Group
from provisioning.models import SignOnIdentity

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(settings, iam_server, live_server, db_source_settings):
    """Two companies' providers (two clients of the real OpenID provider), routed by e-mail domain."""
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Group.objects.create(name="billing")
    clients, tables = [], []
    for name, company in (("acme", "ACME"), ("globex", "GLOBEX")):
        Customer.objects.create(customer_id=company, name=company.title())
        client = iam_server.models.Client(
            client_id=f"{name}-{uuid.uuid4().hex[:8]}", client_secret=uuid.uuid4().hex, client_name=name,
            redirect_uris=[f"{live_server.url}/sso/{name}/callback/"], grant_types=["authorization_code"],
            response_types=["code"], token_endpoint_auth_method="client_secret_basic",
            scope=["openid", "email", "profile", "groups"], post_logout_redirect_uris=[f"{live_server.url}/"],
        )  # fmt: skip
        iam_server.backend.save(client)
        clients.append(client)
        tables.append({
            "Name": name, "Protocol": "oidc", "Domains": [f"{name}.example"], "Source": "CustomerUser",
            "Company": company, "Issuer": iam_server.url, "ClientID": client.client_id,
            "ClientSecret": client.client_secret, "Scopes": ["openid", "email", "profile", "groups"],
            "GroupRules": [{"From": "claim", "Claim": "groups", "Match": "billing-team", "Group": "billing"}],
        })  # fmt: skip
    settings.IDENTITY_PROVIDERS = tables
    yield clients
    for client in clients:
        iam_server.backend.delete(client)


def person(iam_server, user_name, email, groups=()):
    user = iam_server.random_user(user_name=user_name, emails=[email], given_name=user_name.title(),
                                  family_name="Nowak", formatted_name=f"{user_name.title()} Nowak")  # fmt: skip
    for name in groups:
        group = iam_server.backend.get(iam_server.models.Group, display_name=name)
        group = group or iam_server.random_group(display_name=name)
        group.members = [*group.members, user]
        iam_server.backend.save(group)
    iam_server.login(user)  # logged in at the provider already, as on a company laptop
    iam_server.consent(user)
    return user


def sign_on(page, live_server, address):
    page.goto(f"{live_server.url}/")
    assert page.locator("#password").count() == 0  # the address first
    page.fill("#login", address)
    page.keyboard.press("Enter")


def test_a_new_customer_signs_on_from_the_login_page_and_out_again(page, live_server, iam_server, provider):
    person(iam_server, "nina", "nina@acme.example", groups=("billing-team",))
    sign_on(page, live_server, "nina@acme.example")
    page.wait_for_url(f"{live_server.url}/tickets/")
    assert "Nina Nowak" in page.content()
    made = CustomerUser.objects.get(login="nina")
    assert (made.customer_id, made.email) == ("ACME", "nina@acme.example")
    assert CustomerUserGroup.objects.filter(login="nina", group__name="billing").exists()
    assert SignOnIdentity.objects.get().subject == "nina"

    page.get_by_role("button", name="Log out Nina Nowak").click()
    page.wait_for_url(f"{iam_server.url}**")  # on to the provider's end_session_endpoint
    page.goto(f"{live_server.url}/tickets/")
    page.wait_for_url(f"{live_server.url}/")  # the panel's session is over


def test_another_domain_signs_on_at_its_own_provider_into_its_company(
    page, live_server, iam_server, provider
):
    person(iam_server, "gil", "gil@globex.example")
    sign_on(page, live_server, "gil@globex.example")
    page.wait_for_url(f"{live_server.url}/tickets/")
    assert CustomerUser.objects.get(login="gil").customer_id == "GLOBEX"
    assert SignOnIdentity.objects.get().provider == "globex"


def test_a_group_removed_at_the_provider_is_gone_at_the_next_sign_on(page, live_server, iam_server, provider):
    user = person(iam_server, "ola", "ola@acme.example", groups=("billing-team",))
    sign_on(page, live_server, "ola@acme.example")
    page.wait_for_url(f"{live_server.url}/tickets/")
    assert CustomerUserGroup.objects.filter(login="ola").exists()
    page.get_by_role("button", name="Log out Ola Nowak").click()
    page.wait_for_url(f"{iam_server.url}**")
    group = iam_server.backend.get(iam_server.models.Group, display_name="billing-team")
    group.members = [member for member in group.members if member.id != user.id]
    iam_server.backend.save(group)
    iam_server.login(iam_server.backend.get(iam_server.models.User, user_name="ola"))
    sign_on(page, live_server, "ola@acme.example")
    page.wait_for_url(f"{live_server.url}/tickets/")
    assert not CustomerUserGroup.objects.filter(login="ola").exists()


def test_an_unverified_address_does_not_link_an_existing_account(page, live_server, iam_server, provider,
                                                                 customer_user_factory):  # fmt: skip
    customer_user_factory(login="pia", email="pia@acme.example", customer_id="ACME")
    person(iam_server, "pia.at.idp", "pia@acme.example")
    sign_on(page, live_server, "pia@acme.example")
    page.wait_for_selector("text=did not confirm that the address")
    assert page.title().startswith("Single sign-on failed")
    assert not SignOnIdentity.objects.exists()
    assert not CustomerUser.objects.filter(login="pia.at.idp").exists()


def test_an_address_of_no_provider_gets_the_password_step(page, live_server, provider):
    page.goto(f"{live_server.url}/")
    page.fill("#login", "someone@elsewhere.example")
    page.keyboard.press("Enter")
    page.wait_for_selector("#password")
    assert page.input_value("#login") == "someone@elsewhere.example"
