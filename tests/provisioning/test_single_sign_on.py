"""Customer single sign-on by OpenID Connect (issue 39) against a real provider: Canaille (pytest-iam), an
OpenID provider built on Authlib, on a free loopback port in the test session. The panel is driven by
Django's test client; the provider's pages by HTTP, as a browser would follow them.

Measured on the landed code: no `[[IdentityProvider]]`, no `/sso/`; a customer of a company with its own
identity provider could only log in with a password someone had typed in for them.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from core.models import HistoryEntry
from customers.models import Customer, CustomerUser, CustomerUserCustomer, CustomerUserGroup, Group
from helpdesk.sessions import PROVIDER_KEY, SESSION_KEY
from provisioning.models import SignOnIdentity

pytestmark = [pytest.mark.django_db]

CALLBACK = "http://testserver/sso/{}/callback/"


@pytest.fixture
def provider_clients(iam_server):
    """Two clients of the provider, as two customer companies' identity providers would be."""
    made = {}
    for name in ("acme", "globex"):
        client = iam_server.models.Client(
            client_id=f"{name}-{uuid.uuid4().hex[:8]}", client_secret=uuid.uuid4().hex, client_name=name,
            redirect_uris=[CALLBACK.format(name)], grant_types=["authorization_code"], response_types=["code"],
            token_endpoint_auth_method="client_secret_basic", scope=["openid", "email", "profile", "groups"],
            post_logout_redirect_uris=["http://testserver/"],
        )  # fmt: skip
        iam_server.backend.save(client)
        made[name] = client
    yield made
    for client in made.values():
        iam_server.backend.delete(client)


@pytest.fixture
def providers(settings, iam_server, provider_clients, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    Customer.objects.create(customer_id="GLOBEX", name="Globex")
    Group.objects.create(name="billing")

    def table(name: str, company: str, domain: str, **extra) -> dict:
        client = provider_clients[name]
        return {"Name": name, "Protocol": "oidc", "Domains": [domain], "Source": "CustomerUser",
                "Company": company, "Issuer": iam_server.url, "ClientID": client.client_id,
                "ClientSecret": client.client_secret, "Scopes": ["openid", "email", "profile", "groups"],
                **extra}  # fmt: skip

    def configure(**acme) -> None:
        settings.IDENTITY_PROVIDERS = [
            table("acme", "ACME", "acme.example", GroupRules=[
                {"From": "claim", "Claim": "groups", "Match": "billing-team", "Group": "billing",
                 "Types": ["ro"]}], **acme),
            table("globex", "GLOBEX", "globex.example"),
        ]  # fmt: skip

    configure()
    return configure


def person(iam_server, user_name: str, email: str, groups: tuple[str, ...] = ()):
    user = iam_server.random_user(user_name=user_name, emails=[email], given_name="Anna",
                                  family_name="Fröhlich", formatted_name="Anna Fröhlich")  # fmt: skip
    for name in groups:  # a group is known by its name at the provider: made once, joined after
        group = iam_server.backend.get(iam_server.models.Group, display_name=name)
        group = group or iam_server.random_group(display_name=name)
        group.members = [*group.members, user]
        iam_server.backend.save(group)
    return user


def sign_on(client, iam_server, user, address: str):
    """The panel's login with `address`, on through the provider (logged in there as `user`), and back."""
    iam_server.login(user)
    iam_server.consent(user)
    step = client.post(reverse("portal:login"), {"login": address})
    assert step.status_code == 302, step.content
    start = client.get(step["Location"])
    assert start.status_code == 302
    assert start["Location"].startswith(iam_server.url)
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text[-3000:]
    back = urlsplit(at_provider.headers["Location"])
    return client.get(back.path, dict(parse_qs(back.query, keep_blank_values=True)))


def test_a_new_person_lands_in_their_company_with_the_groups_their_claims_give(client, iam_server, providers):
    anna = person(iam_server, "anna.f", "anna@acme.example", groups=("billing-team",))
    landed = sign_on(client, iam_server, anna, "anna@acme.example")
    assert landed.status_code == 302, landed.content.decode()[-1500:]
    assert landed["Location"] == reverse("portal:tickets")
    assert client.session[SESSION_KEY] == "anna.f"
    assert client.session[PROVIDER_KEY] == "acme"
    made = CustomerUser.objects.get(login="anna.f")
    assert (made.customer_id, made.email, made.first_name, made.last_name) == (
        "ACME", "anna@acme.example", "Anna", "Fröhlich")  # fmt: skip
    assert sorted(CustomerUserGroup.objects.filter(login="anna.f").values_list("permission", flat=True)) == [
        "ro"]  # fmt: skip
    created = HistoryEntry.objects.get(action="customer_user.created", object_key="anna.f")
    assert created.actor_name == "sso:acme"
    assert client.get(reverse("portal:tickets")).status_code == 200


def test_another_domain_goes_to_its_own_provider_and_company(client, iam_server, providers, provider_clients):
    bob = person(iam_server, "bob.g", "bob@globex.example")
    step = client.post(reverse("portal:login"), {"login": "bob@globex.example"})
    assert step["Location"].startswith(reverse("sso:start", args=["globex"]))
    client.cookies.clear()
    sign_on(client, iam_server, bob, "bob@globex.example")
    assert CustomerUser.objects.get(login="bob.g").customer_id == "GLOBEX"
    assert client.session[PROVIDER_KEY] == "globex"


def test_an_address_of_no_provider_gets_the_password_step(client, providers):
    step = client.post(reverse("portal:login"), {"login": "someone@elsewhere.example"})
    assert step.status_code == 200
    assert 'name="password"' in step.content.decode()


def test_a_group_removed_at_the_provider_is_gone_at_the_next_login(client, iam_server, providers):
    anna = person(iam_server, "anna.g", "anna.g@acme.example", groups=("billing-team",))
    sign_on(client, iam_server, anna, "anna.g@acme.example")
    assert CustomerUserGroup.objects.filter(login="anna.g").count() == 1
    group = iam_server.backend.get(iam_server.models.Group, display_name="billing-team")
    group.members = [member for member in group.members if member.id != anna.id]
    iam_server.backend.save(group)
    client.post(reverse("portal:logout"))
    anna = iam_server.backend.get(iam_server.models.User, user_name="anna.g")  # as the provider holds it now
    assert [g.display_name for g in anna.groups] == []
    sign_on(client, iam_server, anna, "anna.g@acme.example")
    assert client.session[SESSION_KEY] == "anna.g"
    assert CustomerUserGroup.objects.filter(login="anna.g").count() == 0
    assert HistoryEntry.objects.filter(action="group_permission.revoked", actor_name="sso:acme").exists()


def test_an_unverified_email_does_not_link_to_an_existing_account(client, iam_server, providers,
                                                                   customer_user_factory):  # fmt: skip
    customer_user_factory(login="carla", email="carla@acme.example", customer_id="ACME")
    carla = person(iam_server, "carla.at.idp", "carla@acme.example")
    refused = sign_on(client, iam_server, carla, "carla@acme.example")
    assert refused.status_code == 403
    assert "did not confirm that the address" in refused.content.decode()
    assert not SignOnIdentity.objects.exists()
    assert not CustomerUser.objects.filter(login="carla.at.idp").exists()
    assert SESSION_KEY not in client.session


def test_a_trusted_providers_address_links_the_existing_account_by_subject(client, iam_server, providers,
                                                                           customer_user_factory):  # fmt: skip
    providers(TrustEmail=True)
    customer_user_factory(login="dora", email="dora@acme.example", customer_id="ACME")
    dora = person(iam_server, "dora.at.idp", "dora@acme.example")
    sign_on(client, iam_server, dora, "dora@acme.example")
    assert client.session[SESSION_KEY] == "dora"
    identity = SignOnIdentity.objects.get()
    assert (identity.provider, identity.subject, identity.login) == ("acme", "dora.at.idp", "dora")
    assert not CustomerUser.objects.filter(login="dora.at.idp").exists()


def test_logout_ends_the_panel_session_and_the_providers(client, iam_server, providers):
    erik = person(iam_server, "erik", "erik@acme.example")
    sign_on(client, iam_server, erik, "erik@acme.example")
    out = client.post(reverse("portal:logout"))
    assert out.status_code == 302
    assert out["Location"].startswith(iam_server.url)  # the provider's end_session_endpoint
    assert "id_token_hint=" in out["Location"]
    assert SESSION_KEY not in client.session
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_an_account_made_invalid_is_refused_at_the_next_request(client, iam_server, providers):
    fay = person(iam_server, "fay", "fay@acme.example")
    sign_on(client, iam_server, fay, "fay@acme.example")
    CustomerUser.objects.filter(login="fay").update(validity=2)
    assert client.get(reverse("portal:tickets")).status_code == 302
    again = sign_on(client, iam_server, fay, "fay@acme.example")
    assert again.status_code == 403  # the provider's word does not make it valid again


def test_a_required_provider_allows_no_password_login(client, providers, customer_user_factory):
    providers(Required=True)
    customer_user_factory(login="gus", email="gus@acme.example", customer_id="ACME", password="Gus-Pass-123")
    tried = client.post(reverse("portal:login"), {"login": "gus@acme.example", "password": "Gus-Pass-123"})
    assert tried.status_code == 302
    assert tried["Location"].startswith(reverse("sso:start", args=["acme"]))
    assert SESSION_KEY not in client.session


def test_a_mismatched_state_is_refused_and_creates_nothing(client, iam_server, providers):
    hal = person(iam_server, "hal", "hal@acme.example")
    iam_server.login(hal)
    iam_server.consent(hal)
    start = client.get(reverse("sso:start", args=["acme"]))
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(at_provider.headers["Location"]).query)
    answer = client.get(reverse("sso:callback", args=["acme"]), {"code": back["code"][0], "state": "forged"})
    assert answer.status_code == 400
    assert "could not be trusted" in answer.content.decode()
    assert not CustomerUser.objects.filter(login="hal").exists()


def test_a_nonce_that_does_not_match_is_refused(client, iam_server, providers):
    ivy = person(iam_server, "ivy", "ivy@acme.example")
    iam_server.login(ivy)
    iam_server.consent(ivy)
    start = client.get(reverse("sso:start", args=["acme"]))
    session = client.session
    for key, value in list(session.items()):  # Authlib keeps the request's nonce with its state
        if key.startswith("_state_acme_"):
            value["data"]["nonce"] = "another"
            session[key] = value
    session.save()
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_provider.headers["Location"])
    answer = client.get(back.path, dict(parse_qs(back.query)))
    assert answer.status_code == 400
    assert not CustomerUser.objects.filter(login="ivy").exists()


def test_a_code_issued_to_another_client_is_refused(client, iam_server, providers):
    jo = person(iam_server, "jo", "jo@acme.example")
    iam_server.login(jo)
    iam_server.consent(jo)
    globex = client.get(reverse("sso:start", args=["globex"]))
    code = parse_qs(urlsplit(requests.get(globex["Location"], allow_redirects=False, timeout=10)
                             .headers["Location"]).query)["code"][0]  # fmt: skip
    acme = client.get(reverse("sso:start", args=["acme"]))
    state = parse_qs(urlsplit(acme["Location"]).query)["state"][0]
    answer = client.get(reverse("sso:callback", args=["acme"]), {"code": code, "state": state})
    assert answer.status_code == 400
    assert not CustomerUser.objects.filter(login="jo").exists()


def test_an_open_redirect_in_next_is_refused(client, providers):
    answer = client.get(reverse("sso:start", args=["acme"]), {"next": "https://evil.example/"})
    assert answer.status_code == 400
    assert "not one of this site" in answer.content.decode()


def test_every_wrong_key_of_a_provider_is_named(settings, providers):
    settings.IDENTITY_PROVIDERS = [
        {"Name": "x y", "Protocol": "oidcc", "Domains": ["nodot"], "Source": "Nowhere", "Colour": "red",
         "GroupRules": [{"From": "claim", "Group": "billing"}]},
    ]  # fmt: skip
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    said = str(raised.value)
    for wrong in ("['Protocol']", "['Name']", "['Domains']", "['Source']", "['Colour']", "['Company']",
                  "['GroupRules'][0]['Claim']"):  # fmt: skip
        assert f"IdentityProvider[0]{wrong}" in said, wrong
    assert "provisioning.E002" in said


def test_company_rules_from_claims_add_companies(client, iam_server, providers):
    providers(
        CompanyRules=[{"From": "claim", "Claim": "groups", "Match": "globex-partners", "Company": "GLOBEX"}]
    )
    kai = person(iam_server, "kai", "kai@acme.example", groups=("globex-partners",))
    sign_on(client, iam_server, kai, "kai@acme.example")
    assert CustomerUser.objects.get(login="kai").customer_id == "ACME"
    assert list(CustomerUserCustomer.objects.filter(login="kai").values_list("customer_id", flat=True)) == [
        "GLOBEX"]  # fmt: skip


def test_an_account_with_a_second_factor_is_linked_only_after_the_code_once(client, iam_server, providers,
                                                                            customer_user_factory):  # fmt: skip
    import pyotp
    from django.utils import timezone

    from customers.models import CustomerUserSecondFactor

    providers(TrustEmail=True)
    customer_user_factory(login="lea", email="lea@acme.example", customer_id="ACME")
    secret = pyotp.random_base32()
    CustomerUserSecondFactor.objects.create(login="lea", secret=secret, confirmed_at=timezone.now())
    lea = person(iam_server, "lea.at.idp", "lea@acme.example")
    asked = sign_on(client, iam_server, lea, "lea@acme.example")
    assert asked["Location"] == reverse("portal:login_code")
    assert not SignOnIdentity.objects.exists()  # not silently
    assert SESSION_KEY not in client.session
    done = client.post(reverse("portal:login_code"), {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert client.session[SESSION_KEY] == "lea"
    assert client.session[PROVIDER_KEY] == "acme"
    assert SignOnIdentity.objects.get().login == "lea"
    client.post(reverse("portal:logout"))
    again = sign_on(client, iam_server, lea, "lea@acme.example")  # linked: the provider's word suffices now
    assert again["Location"] == reverse("portal:tickets")
    assert client.session[SESSION_KEY] == "lea"


def test_a_renamed_account_keeps_its_link_and_an_anonymised_one_loses_it(client, iam_server, providers):
    """The review: a link is stored by login, so a rename must carry it (as tickets are carried) and an
    anonymisation must erase it (the subject names the person); a person's export lists it."""
    from customers.services import update_customer_user
    from privacy.services import anonymise_person, export_person

    max_ = person(iam_server, "max", "max@acme.example")
    sign_on(client, iam_server, max_, "max@acme.example")
    update_customer_user(login="max", changes={"UserLogin": "max.mustermann"}, acting_user=None)
    client.post(reverse("portal:logout"))
    sign_on(client, iam_server, max_, "max@acme.example")
    assert client.session[SESSION_KEY] == "max.mustermann"
    exported = export_person("max.mustermann", acting_user=None)["identities"]["single_sign_on"]
    assert [(link["provider"], link["subject"]) for link in exported] == [("acme", "max")]
    anonymise_person("max.mustermann", acting_user=None)
    assert not SignOnIdentity.objects.exists()
