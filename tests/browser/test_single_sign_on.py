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
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    Group.objects.create(name="billing")
    client = iam_server.models.Client(
        client_id=f"panel-{uuid.uuid4().hex[:8]}", client_secret=uuid.uuid4().hex, client_name="panel",
        redirect_uris=[f"{live_server.url}/sso/acme/callback/"], grant_types=["authorization_code"],
        response_types=["code"], token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "email", "profile", "groups"], post_logout_redirect_uris=[f"{live_server.url}/"],
    )  # fmt: skip
    iam_server.backend.save(client)
    settings.IDENTITY_PROVIDERS = [{
        "Name": "acme", "Protocol": "oidc", "Domains": ["acme.example"], "Source": "CustomerUser",
        "Company": "ACME", "Issuer": iam_server.url, "ClientID": client.client_id,
        "ClientSecret": client.client_secret, "Scopes": ["openid", "email", "profile", "groups"],
        "GroupRules": [{"From": "claim", "Claim": "groups", "Match": "billing-team", "Group": "billing"}],
    }]  # fmt: skip
    yield client
    iam_server.backend.delete(client)


def test_a_new_customer_signs_on_from_the_login_page_and_out_again(page, live_server, iam_server, provider,
                                                                    customer_user_factory):  # fmt: skip
    user = iam_server.random_user(user_name="nina", emails=["nina@acme.example"], given_name="Nina",
                                  family_name="Nowak", formatted_name="Nina Nowak")  # fmt: skip
    group = iam_server.backend.get(iam_server.models.Group, display_name="billing-team")
    group = group or iam_server.random_group(display_name="billing-team")
    group.members = [*group.members, user]
    iam_server.backend.save(group)
    iam_server.login(user)  # logged in at the provider already, as on a company laptop
    iam_server.consent(user)

    page.goto(f"{live_server.url}/")
    assert page.locator("#password").count() == 0  # the address first
    page.fill("#login", "nina@acme.example")
    page.keyboard.press("Enter")
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


def test_an_address_of_no_provider_gets_the_password_step(page, live_server, provider):
    page.goto(f"{live_server.url}/")
    page.fill("#login", "someone@elsewhere.example")
    page.keyboard.press("Enter")
    page.wait_for_selector("#password")
    assert page.input_value("#login") == "someone@elsewhere.example"
