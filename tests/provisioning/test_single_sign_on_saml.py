"""Customer single sign-on by SAML 2.0 (issue 39) against a real identity provider: pysaml2's own IdP
(`saml2.server.Server`), with its own key, signing its assertions with xmlsec1, reading our metadata from
`/sso/<Name>/metadata/` as an administrator would load it. The browser's part is played by the test: the
redirect to the IdP is parsed by the IdP, its signed response posted back to our assertion consumer service.
"""

from __future__ import annotations

import base64
import datetime
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.urls import reverse
from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

from customers.models import Customer, CustomerUser, CustomerUserGroup, Group
from helpdesk.sessions import PROVIDER_KEY, SESSION_KEY
from provisioning.models import SignOnIdentity

pytestmark = [pytest.mark.django_db]

IDP = "https://idp.example/saml/metadata"
SSO_URL, SLO_URL = "https://idp.example/saml/sso", "https://idp.example/saml/slo"


def key_pair(directory, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))  # fmt: skip
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_file), str(cert_file)


def idp_config(key_file, cert_file, sp_metadata=None, lifetime_minutes=15):
    config = {
        "entityid": IDP, "xmlsec_binary": shutil.which("xmlsec1"), "key_file": key_file, "cert_file": cert_file,
        "allow_unknown_attributes": True,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)],
                          "single_logout_service": [(SLO_URL, BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {"lifetime": {"minutes": lifetime_minutes}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_BASIC}},
        }},
    }  # fmt: skip
    if sp_metadata:
        config["metadata"] = {"local": [sp_metadata]}
    return IdPConfig().load(config)


@pytest.fixture
def saml_world(settings, tmp_path, db_source_settings, client):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="INITECH", name="Initech")
    Group.objects.create(name="billing")
    key_file, cert_file = key_pair(tmp_path, "idp")
    idp_metadata = tmp_path / "idp.xml"
    idp_metadata.write_text(create_metadata_string(None, config=idp_config(key_file, cert_file)).decode())
    settings.IDENTITY_PROVIDERS = [{
        "Name": "initech", "Protocol": "saml", "Domains": ["initech.example"], "Source": "CustomerUser",
        "Company": "INITECH", "MetadataFile": str(idp_metadata),
        "GroupRules": [{"From": "claim", "Claim": "groups", "Match": "billing-team", "Group": "billing",
                        "Types": ["ro"]}],
    }]  # fmt: skip
    sp_metadata = tmp_path / "sp.xml"
    answer = client.get(reverse("sso:metadata", args=["initech"]))
    assert answer.status_code == 200
    sp_metadata.write_bytes(answer.content)
    return {"idp": Server(config=idp_config(key_file, cert_file, str(sp_metadata))), "key": key_file,
            "cert": cert_file, "sp_metadata": str(sp_metadata)}  # fmt: skip


def request_at_idp(client, world, address="anna@initech.example"):
    """The panel's login with the address, on to the IdP: the AuthnRequest as the IdP reads it."""
    step = client.post(reverse("portal:login"), {"login": address})
    start = client.get(step["Location"])
    assert start.status_code == 302
    location = urlsplit(start["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SSO_URL
    query = parse_qs(location.query)
    return world["idp"].parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT).message


def signed_response(world, request, subject="initech-0001", groups=("billing-team",), idp=None):
    identity = {
        "mail": ["anna@initech.example"],
        "givenName": ["Anna"],
        "sn": ["Ibsen"],
        "groups": list(groups),
    }
    response = (idp or world["idp"]).create_authn_response(
        identity, in_response_to=request.id, destination=request.assertion_consumer_service_url,
        sp_entity_id=request.issuer.text, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject),
        sign_assertion=True, sign_response=False, userid=subject,
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
    )  # fmt: skip
    return base64.b64encode(str(response).encode()).decode()


def post(client, request, response):
    return client.post(urlsplit(request.assertion_consumer_service_url).path, {"SAMLResponse": response})


def test_the_metadata_names_our_entity_and_endpoints(client, saml_world):
    xml = client.get(reverse("sso:metadata", args=["initech"])).content.decode()
    assert 'entityID="http://testserver/sso/initech/metadata/"' in xml
    assert "http://testserver/sso/initech/acs/" in xml


def test_a_first_login_creates_the_person_and_a_relogin_follows_the_provider(client, saml_world):
    request = request_at_idp(client, saml_world)
    landed = post(client, request, signed_response(saml_world, request))
    assert landed.status_code == 302, landed.content.decode()[-800:]
    assert client.session[SESSION_KEY] == "initech-0001"
    assert client.session[PROVIDER_KEY] == "initech"
    made = CustomerUser.objects.get(login="initech-0001")
    assert (made.customer_id, made.email, made.first_name, made.last_name) == (
        "INITECH", "anna@initech.example", "Anna", "Ibsen")  # fmt: skip
    assert list(CustomerUserGroup.objects.filter(login="initech-0001").values_list("permission", flat=True)) == [
        "ro"]  # fmt: skip
    assert SignOnIdentity.objects.get().subject == "initech-0001"

    out = client.post(reverse("portal:logout"))  # single logout at the IdP
    assert out["Location"].startswith(SLO_URL + "?SAMLRequest=")
    again = request_at_idp(client, saml_world)
    assert post(client, again, signed_response(saml_world, again, groups=())).status_code == 302
    assert client.session[SESSION_KEY] == "initech-0001"
    assert not CustomerUserGroup.objects.filter(login="initech-0001").exists()  # gone at the provider


def test_a_tampered_assertion_is_refused(client, saml_world):
    request = request_at_idp(client, saml_world)
    xml = base64.b64decode(signed_response(saml_world, request)).decode()
    forged = base64.b64encode(xml.replace("anna@initech.example", "boss@initech.example").encode()).decode()
    answer = post(client, request, forged)
    assert answer.status_code == 400
    assert "Failed to verify signature" in answer.content.decode()
    assert not CustomerUser.objects.exists()
    assert SESSION_KEY not in client.session


def test_a_replayed_assertion_is_refused(client, saml_world):
    request = request_at_idp(client, saml_world)
    response = signed_response(saml_world, request)
    assert post(client, request, response).status_code == 302
    client.post(reverse("portal:logout"))
    replayed = post(client, request, response)
    assert replayed.status_code == 400
    assert "Unsolicited" in replayed.content.decode()  # the request it answered was answered once
    assert SESSION_KEY not in client.session


def test_an_expired_assertion_is_refused(client, saml_world):
    request = request_at_idp(client, saml_world)
    stale = Server(config=idp_config(saml_world["key"], saml_world["cert"], saml_world["sp_metadata"],
                                     lifetime_minutes=-5))  # fmt: skip
    answer = post(client, request, signed_response(saml_world, request, idp=stale))
    assert answer.status_code == 400
    assert "Condition not OK" in answer.content.decode()  # its NotOnOrAfter has passed
    assert not CustomerUser.objects.exists()


def test_an_assertion_signed_by_another_key_is_refused(client, saml_world, tmp_path):
    request = request_at_idp(client, saml_world)
    other_key, other_cert = key_pair(tmp_path, "intruder")
    intruder = Server(config=idp_config(other_key, other_cert, saml_world["sp_metadata"]))
    answer = post(client, request, signed_response(saml_world, request, idp=intruder))
    assert answer.status_code == 400
    assert not CustomerUser.objects.exists()


def test_an_unsolicited_response_is_refused(client, saml_world):
    request = request_at_idp(client, saml_world)
    response = signed_response(saml_world, request)
    client.cookies.clear()  # another browser: this session sent no request
    assert post(client, request, response).status_code == 400
    assert not CustomerUser.objects.exists()


def test_every_wrong_key_of_a_saml_provider_is_named(settings, saml_world):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.IDENTITY_PROVIDERS = [{"Name": "okta", "Protocol": "saml", "Domains": ["okta.example"],
                                    "Source": "CustomerUser", "Company": "INITECH", "SignRequests": True,
                                    "MetadataFile": "/nowhere/idp.xml", "ClientID": "x"}]  # fmt: skip
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    for wrong in ("['MetadataFile']", "['KeyFile']", "['CertFile']", "['ClientID']"):
        assert f"IdentityProvider[0]{wrong}" in str(raised.value), wrong


def test_requests_are_signed_where_the_provider_wants_them(client, settings, saml_world, tmp_path):
    from cryptography.x509 import load_pem_x509_certificate
    from saml2.sigver import verify_redirect_signature

    key_file, cert_file = key_pair(tmp_path, "sp")
    settings.IDENTITY_PROVIDERS = [{**settings.IDENTITY_PROVIDERS[0], "SignRequests": True, "KeyFile": key_file,
                                    "CertFile": cert_file}]  # fmt: skip
    start = client.get(reverse("sso:start", args=["initech"]))
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    assert {"SAMLRequest", "SigAlg", "Signature"} <= query.keys()
    ours = load_pem_x509_certificate(Path(cert_file).read_bytes()).public_key()
    assert verify_redirect_signature(query, saml_world["idp"].sec.sec_backend, sigkey=ours)
    other = load_pem_x509_certificate(Path(saml_world["cert"]).read_bytes()).public_key()
    assert not verify_redirect_signature(query, saml_world["idp"].sec.sec_backend, sigkey=other)
    metadata = client.get(reverse("sso:metadata", args=["initech"])).content.decode()
    assert 'AuthnRequestsSigned="true"' in metadata
