"""Customers' e-mail domains (issue 34, point 3): where sign-up puts a person, one rule on every path that
writes customers — the API, the admin, the importer — and a config with only [Settings] keeps the shipped
source; group support off is said out loud (point 2)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import Customer
from customers.services import create_customer
from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE, load_helpdesk_config
from staff.roles import CUSTOMER_ADMINISTRATORS

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def administrator(django_user_model):
    user = django_user_model.objects.create_user("admin1", password="Staff-Pass-123", is_staff=True)
    user.groups.add(AuthGroup.objects.get(name=CUSTOMER_ADMINISTRATORS))
    return user


@pytest.fixture
def api(administrator):
    client = APIClient()
    client.force_authenticate(administrator)
    return client


def test_the_api_keeps_a_list_of_domains_as_mail_compares_them(api):
    created = api.post("/api/v1/customers/", {"CustomerID": "ACME", "CustomerCompanyName": "Acme",
                                              "CustomerEmailDomains": ["Acme.Example", "@acme.de", "bücher.example"]},
                       format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["CustomerEmailDomains"] == ["acme.example", "acme.de", "xn--bcher-kva.example"]
    assert Customer.objects.get().email_domains == "acme.example acme.de xn--bcher-kva.example"


@pytest.mark.parametrize(("domains", "problem"), [
    (["not a domain"], "'not' is not an e-mail domain"),
    (["localhost"], "'localhost' is not an e-mail domain"),
    (["acme.example"], "E-mail domain 'acme.example' belongs to customer 'ACME' already."),
])  # fmt: skip
def test_a_bad_or_taken_domain_is_a_400_naming_the_field_and_the_value(api, domains, problem):
    create_customer(customer_id="ACME", name="Acme", email_domains="acme.example", acting_user=None)
    refused = api.post("/api/v1/customers/", {"CustomerID": "BETA", "CustomerCompanyName": "Beta",
                                              "CustomerEmailDomains": domains}, format="json")  # fmt: skip
    assert refused.status_code == 400
    assert any(problem in message for message in refused.json()["fields"]["CustomerEmailDomains"])
    assert not Customer.objects.filter(customer_id="BETA").exists()


def test_the_admin_edits_them_through_the_service(client, administrator):
    create_customer(customer_id="ACME", name="Acme", email_domains="acme.example", acting_user=None)
    beta = create_customer(customer_id="BETA", name="Beta", acting_user=None)
    client.force_login(administrator)
    url = reverse("admin:customers_customer_change", args=[beta.pk])
    form = {"customer_id": "BETA", "name": "Beta", "validity": 1, "email_domains": "ACME.example"}
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "belongs to customer &#x27;ACME&#x27; already" in refused.content.decode()
    assert client.post(url, {**form, "email_domains": "beta.example, Beta.DE"}).status_code == 302
    assert Customer.objects.get(customer_id="BETA").email_domains == "beta.example beta.de"


def test_the_importer_keeps_the_same_rule(tmp_path, settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    create_customer(customer_id="ACME", name="Acme", email_domains="acme.example", acting_user=None)
    path = tmp_path / "customers.csv"
    path.write_text("CustomerID,CustomerCompanyName,CustomerEmailDomains\nBETA,Beta,Beta.example\n"
                    "GAMMA,Gamma,acme.example\nDELTA,Delta,beta.example\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_customers", str(path), verbosity=0)
    assert dict(Customer.objects.values_list("customer_id", "email_domains")) == {
        "ACME": "acme.example", "BETA": "beta.example"
    }  # fmt: skip


def test_a_config_with_only_settings_keeps_the_shipped_source(tmp_path):
    path = tmp_path / "helpdesk.toml"
    path.write_text("[Settings]\nCustomerPanelCreateAccount = 1\n", encoding="utf-8")
    config = load_helpdesk_config(str(path))
    assert config.customer_user_backends == {"CustomerUser": DEFAULT_CUSTOMER_USER_SOURCE}
    assert config.settings["CustomerPanelCreateAccount"] == 1


def test_group_support_off_is_a_warning_naming_the_source(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CustomerGroupSupport=0),
        "CustomerUser1": db_source_settings(CustomerGroupSupport=1),
    }
    warnings = [m for m in run_checks() if m.id == "backends.W002"]
    assert [m.msg for m in warnings] == [
        "CUSTOMER_USER_BACKENDS['CustomerUser']: CustomerGroupSupport is off, so every customer user of this "
        "source holds every permission type on every group (R103)"
    ]


def test_the_sources_page_and_the_group_matrix_say_it(client, administrator, settings, db_source_settings):
    from customers.models import Group

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CustomerGroupSupport=0)}
    client.force_login(administrator)
    sources_page = client.get(reverse("admin:source_status")).content.decode()
    assert "holds every permission type on every group" in sources_page
    billing = Group.objects.create(name="billing")
    matrix = client.get(reverse("admin:group_customer_users", args=[billing.pk])).content.decode()
    assert "Group support is off for CustomerUser" in matrix
