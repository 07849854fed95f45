"""Languages: the catalogue is complete and compiled, the panel speaks the customer's UserLanguage (else the
browser's), mails the recipient's, and staff screens the browser's."""

import gettext
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse

from customers.models import CustomerUserGroup, CustomerUserPreference, Group
from tickets.models import Queue, Ticket

CATALOGUE = Path(django_settings.BASE_DIR) / "helpdesk" / "locale" / "de" / "LC_MESSAGES"


def test_every_marked_text_has_a_german_translation(settings, tmp_path):
    """makemessages into a copy of the catalogue (not into ours: its directory is left out of the walk)
    finds nothing new, untranslated or fuzzy (`make messages`)."""
    copy = tmp_path / "locale" / "de" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    shutil.copy(CATALOGUE / "django.po", copy / "django.po")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    call_command(
        "makemessages", locale=["de"], verbosity=0,
        ignore_patterns=["tests/*", "var/*", "benchmarks/*", "docs/*", ".venv/*", "helpdesk/locale"],
    )  # fmt: skip
    checked = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(copy / "django.po")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.fullmatch(r"\d+ translated messages\.", checked.stderr.strip()), checked.stderr


def test_the_compiled_catalogue_is_the_one_written(tmp_path):
    subprocess.run(["msgfmt", "-o", str(tmp_path / "django.mo"), str(CATALOGUE / "django.po")], check=True)
    with open(tmp_path / "django.mo", "rb") as fresh, open(CATALOGUE / "django.mo", "rb") as shipped:
        assert gettext.GNUTranslations(shipped)._catalog == gettext.GNUTranslations(fresh)._catalog


@pytest.mark.django_db
@pytest.mark.sqlite
class TestPanel:
    @pytest.fixture
    def dana(self, panel_customer_user):
        panel_customer_user("dana", "Dana", "Deutsch", "Orchid-4-anad")

    def log_in(self, client, **headers):
        return client.post(reverse("portal:login"), {"login": "dana", "password": "Orchid-4-anad"}, **headers)

    def test_the_login_page_speaks_the_browser_language(self, client):
        german = client.get(reverse("portal:login"), headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
        assert '<html lang="de">' in german.text
        assert "Passwort vergessen?" in german.text
        english = client.get(reverse("portal:login"), headers={"accept-language": "en-GB"})
        assert "Forgot your password?" in english.text
        unknown = client.get(reverse("portal:login"), headers={"accept-language": "tlh"})
        assert "Forgot your password?" in unknown.text  # LANGUAGE_CODE when none is offered

    def test_a_failed_login_is_told_in_the_browser_language(self, client, dana):
        page = client.post(
            reverse("portal:login"), {"login": "dana", "password": "wrong"}, headers={"accept-language": "de"}
        )
        assert "Anmeldung fehlgeschlagen" in page.text

    def test_the_preference_wins_over_the_browser(self, client, dana, settings):
        group = Group.objects.create(name="support")
        CustomerUserGroup.objects.create(login="dana", group=group, permission="rw")
        queue = Queue.objects.create(name="Support", group=group)
        ticket = Ticket.objects.create(number="2001", title="Drucker", queue=queue, customer_id="ACME",
                                       customer_user_login="dana")  # fmt: skip
        Ticket.objects.filter(pk=ticket.pk).update(created_at=datetime(2026, 3, 14, 15, 9, tzinfo=UTC))
        self.log_in(client)
        english = {"headers": {"accept-language": "en"}}
        saved = client.post(reverse("portal:preferences"), {"form": "language", "language": "de"}, follow=True,
                            **english)  # fmt: skip
        assert "Ihre Sprache wurde gespeichert." in saved.text
        assert CustomerUserPreference.objects.get(login="dana", key="UserLanguage").value == "de"
        page = client.get(reverse("portal:tickets") + "?scope=mine", **english)
        assert '<html lang="de">' in page.text
        assert "Meine Tickets" in page.text
        assert "1 Ticket" in page.text
        assert "14.03.2026 15:09" in page.text  # the date as German writes it
        assert page.headers["Content-Language"] == "de"
        client.post(reverse("portal:preferences"), {"form": "language", "language": "en"})
        assert "My tickets" in client.get(reverse("portal:tickets"), headers={"accept-language": "de"}).text

    def test_numbers_are_grouped_as_the_language_writes_them(self, client, dana):
        group = Group.objects.create(name="support")
        CustomerUserGroup.objects.create(login="dana", group=group, permission="ro")
        queue = Queue.objects.create(name="Support", group=group)
        Ticket.objects.bulk_create(
            Ticket(number=str(5000 + n), title=f"Anfrage {n}", queue=queue, customer_id="ACME",
                   customer_user_login="dana")
            for n in range(1234)
        )  # fmt: skip
        self.log_in(client)
        german = client.get(reverse("portal:tickets") + "?scope=mine", headers={"accept-language": "de"})
        assert "1.234 Tickets" in german.text
        assert "Seite 1 von 50" in german.text
        english = client.get(reverse("portal:tickets") + "?scope=mine", headers={"accept-language": "en"})
        assert "1,234 tickets" in english.text

    def test_an_unknown_language_is_refused_naming_the_field(self, client, dana):
        self.log_in(client)
        page = client.post(reverse("portal:preferences"), {"form": "language", "language": "xx"})
        assert page.context["errors"] == {"language": ["Choose one of the languages offered."]}
        assert not CustomerUserPreference.objects.filter(login="dana", key="UserLanguage").exists()

    def test_form_errors_follow_the_language(self, client, dana):
        CustomerUserPreference.objects.create(login="dana", key="UserLanguage", value="de")
        self.log_in(client)
        page = client.post(reverse("portal:preferences"), {"form": "password", "old_password": "bad",
                                                           "new_password": "n1", "new_password_again": "n1"})  # fmt: skip
        assert page.context["errors"] == {"old_password": ["Das aktuelle Passwort stimmt nicht."]}

    def test_the_maps_checks_speak_the_language(self, client, dana, settings):
        settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1}
        form = {"UserFirstname": "", "UserLastname": "Neu", "UserEmail": "not-an-address"}
        page = client.post(reverse("portal:signup"), form, headers={"accept-language": "de"})
        assert page.status_code == 400
        assert "Vorname" in page.text  # the Map's label
        assert "Vorname ist erforderlich." in page.text

    def test_the_reset_mail_is_in_the_recipients_language(self, client, dana, mailbox):
        CustomerUserPreference.objects.create(login="dana", key="UserLanguage", value="de")
        client.post(reverse("portal:password_reset"), {"login": "dana"}, headers={"accept-language": "en"})
        [mail] = mailbox.messages
        assert mail["Subject"] == "Ihr Helpdesk-Passwort"
        assert "öffnen Sie diesen Link innerhalb von 60 Minuten" in mail.get_content()


@pytest.mark.django_db
def test_staff_screens_speak_the_browser_language(admin_client):
    page = admin_client.get(reverse("admin:index"), headers={"accept-language": "de"})
    assert '<html lang="de"' in page.text
    assert "Abmelden" in page.text  # Django's own admin catalogue
    center = admin_client.get(reverse("admin:information_center"), headers={"accept-language": "de"})
    assert "Kunden-Informationszentrale" in center.text  # ours
    users = admin_client.get(reverse("admin:customer_user_list"), headers={"accept-language": "de"})
    assert "Kundenbenutzer anlegen" in users.text
    assert "Alle Quellen" in users.text


@pytest.mark.django_db
def test_the_api_answers_in_the_clients_language(admin_client, settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    body = {"UserLogin": "neu", "UserFirstname": "Nina", "UserLastname": "Neu", "UserEmail": "nina@example.com",
            "UserCustomerID": "NOPE"}  # fmt: skip
    answer = admin_client.post("/api/v1/customer-users/", body, content_type="application/json",
                               headers={"accept-language": "de"})  # fmt: skip
    assert answer.status_code == 400
    assert "Es gibt keinen Kunden 'NOPE'." in answer.json()["fields"]["UserCustomerID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "field", "german"),
    [
        ("get", "/api/v1/customer-users/?search=a&limit=0", None, "limit",
         "Muss eine ganze Zahl von 1 bis"),
        ("get", "/api/v1/customer-users/?search=a&source=Nope", None, "source", "Es gibt keine Quelle 'Nope'."),
        ("get", "/api/v1/customer-users/", None, "search", "Geben Sie search, postmaster"),
        ("get", "/api/v1/customer-users/?search=a&valid=2", None, "valid", "Muss 0 oder 1 sein, nicht '2'."),
        ("post", "/api/v1/customer-users/", "[1]", "body", "Muss ein Objekt mit Attributen der Map sein."),
        ("post", "/api/v1/customer-users/", "{", "body", "Kein gültiges JSON"),
        ("get", "/api/v1/groups/nope/", None, None, "Es gibt keine Gruppe 'nope'."),
        ("get", "/api/v1/customers/NOPE/", None, None, "Es gibt keinen Kunden 'NOPE'."),
        ("delete", "/api/v1/customers/NOPE/", None, None, "Kunden werden nie gelöscht"),
    ],
)  # fmt: skip
def test_the_apis_own_refusals_are_in_the_clients_language(admin_client, method, path, body, field, german):
    """The API views' own checks (parameters, bodies, unknown names) answer in the Accept-Language."""
    answer = getattr(admin_client, method)(
        path, body or "", content_type="application/json", headers={"accept-language": "de"}
    )
    assert 400 <= answer.status_code < 500
    refusal = answer.json()
    told = refusal["fields"][field] if field is not None else [refusal["message"]]
    assert any(german in message for message in told), refusal


@pytest.mark.django_db
def test_a_taken_login_is_refused_in_the_clients_language(
    admin_client, settings, db_source_settings, customer_factory
):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    customer_factory(customer_id="ACME", name="Acme")
    body = {"UserLogin": "neu", "UserFirstname": "Nina", "UserLastname": "Neu", "UserEmail": "nina@example.com",
            "UserCustomerID": "ACME"}  # fmt: skip
    first = admin_client.post("/api/v1/customer-users/", body, content_type="application/json")
    assert first.status_code == 201
    again = admin_client.post("/api/v1/customer-users/", {**body, "UserEmail": "n2@example.com"},
                              content_type="application/json", headers={"accept-language": "de"})  # fmt: skip
    assert again.status_code == 400, again.json()
    assert again.json()["fields"].get("UserLogin") == ["Der Kundenbenutzer 'neu' existiert bereits."]
    assert again.json()["message"].startswith("Der Kundenbenutzer 'neu' wurde nicht gespeichert: der Login")


FORM_PAGES = [
    ("admin:customer_user_add", []), ("admin:customer_user_change", ["dana"]), ("admin:customers_customer_add", []),
    ("admin:customers_group_add", []), ("admin:customers_service_add", []), ("portal:login", []),
    ("portal:signup", []), ("portal:password_reset", []),
]  # fmt: skip
SAME_IN_BOTH = {
    "URL",
    "Name",
    "Login",
    "Fax",
    "Status",
    "Service",
}  # words German and English share  # German and English alike


def _labels(page) -> list[str]:
    texts = re.findall(r"<label\b[^>]*>(.*?)</label>", page.text, flags=re.S)
    return [re.sub(r"<[^>]+>|\s+|:$", " ", text).strip(" :") for text in texts]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), FORM_PAGES, ids=[name for name, _ in FORM_PAGES])
def test_every_form_is_rendered_in_german(admin_client, panel_customer_user, settings, name, args):
    """Issue 32, point 13: no English label on a German form (the Map's labels, the models' fields)."""
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1}
    panel_customer_user("dana", "Dana", "Deutsch", "Orchid-4-anad")
    client = admin_client if name.startswith("admin:") else admin_client.__class__()
    german = _labels(client.get(reverse(name, args=args), headers={"accept-language": "de"}))
    english = _labels(client.get(reverse(name, args=args), headers={"accept-language": "en"}))
    assert german
    assert [g for g, e in zip(german, english, strict=True) if g == e and g not in SAME_IN_BOTH] == []


def test_the_password_policy_speaks_the_language(settings):
    from django.utils import translation

    from customers.passwords import password_errors

    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "PasswordNeedDigit": 1}
    with translation.override("de"):
        problems = password_errors("Lavender-Secret", {})
    assert problems == ["Ihr Passwort muss mindestens 1 Ziffer enthalten."]
