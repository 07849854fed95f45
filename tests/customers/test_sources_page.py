"""Sources that explain themselves (issue 35): the effective configuration with secrets masked, group support,
and a "Test connection" that names the usual cause of a failure, against a real slapd."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.urls import reverse

from staff.roles import CUSTOMER_ADMINISTRATORS
from tests.ldap_server import SERVICE_PW
from tests.stack import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.ldap]


@pytest.fixture
def administrator(client, django_user_model):
    user = django_user_model.objects.create_user("admin1", password="Staff-Pass-123", is_staff=True)
    user.groups.add(AuthGroup.objects.get(name=CUSTOMER_ADMINISTRATORS))
    client.force_login(user)
    return client


def _configure(settings, db_source_settings, ldap_source_settings, **params):
    directory = ldap_source_settings()
    directory["Params"] = {**directory["Params"], **params}
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0, CustomerGroupSupport=0),
                                       "CustomerUser1": directory}  # fmt: skip


def test_the_page_shows_each_sources_effective_configuration_with_secrets_masked(
    administrator, settings, db_source_settings, ldap_source_settings
):
    _configure(settings, db_source_settings, ldap_source_settings)
    page = administrator.get(reverse("admin:source_status")).content.decode()
    assert SERVICE_PW not in page
    assert "&#x27;UserPw&#x27;: &#x27;••••••&#x27;" in page
    assert "CustomerUserSearchListLimit" in page  # the defaults too, as they take effect
    assert "off: every group for everyone" in page  # CustomerUser
    assert "UserLogin ← uid" in page


@pytest.mark.parametrize(("params", "hint"), [
    ({"Host": "ldap://127.0.0.1:{port}"}, "Nothing answers at that address and port"),
    ({"UserPw": "not-the-password"}, "The server refused the account the source logs in with"),
    ({"BaseDN": "ou=nowhere,dc=example,dc=com"}, "what the source reads is not there"),
])  # fmt: skip
def test_test_connection_names_the_usual_cause(administrator, settings, db_source_settings, ldap_source_settings,
                                               params, hint):  # fmt: skip
    params = {k: v.format(port=free_port()) for k, v in params.items()}
    _configure(settings, db_source_settings, ldap_source_settings, **params)
    answer = administrator.post(reverse("admin:source_status"), {"test": "CustomerUser1"}, follow=True)
    said = [str(m) for m in answer.context["messages"]]
    assert any(m.startswith("CustomerUser1:") and hint in m for m in said), said
    works = administrator.post(reverse("admin:source_status"), {"test": "CustomerUser"}, follow=True)
    assert any("CustomerUser answers" in str(m) for m in works.context["messages"])
