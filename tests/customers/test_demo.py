"""`make run` loads the demo set once; a second load changes nothing."""

import pytest
from django.core.management import call_command

from customers.models import Customer, CustomerUser, Group, Service

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_demo_data_is_loaded_once(capsys):
    call_command("load_demo_data")
    counts = (Customer.objects.count(), CustomerUser.objects.count(), Group.objects.count(),
              Service.objects.count())  # fmt: skip
    call_command("load_demo_data")

    assert counts == (6, 52, 4, 5)
    assert (Customer.objects.count(), CustomerUser.objects.count()) == counts[:2]
    assert "Demo data already present." in capsys.readouterr().out
    assert CustomerUser.objects.filter(last_name="Müller").exists()
    from tickets.models import Ticket

    assert Ticket.objects.count() == 8  # a few tickets for the customer panel, loaded once


def test_demo_users_can_be_found_through_the_registry(registry):
    from customers.selectors import search_customer_users

    call_command("load_demo_data")
    page = search_customer_users(term="müller*", registry=registry)
    assert [row["UserLastname"] for row in page.rows] == ["Müller", "Müller-Lüdenscheidt"]
    assert registry["CustomerUser"].check_password(page.rows[0].login, "demo-customer") is True


def test_ensure_admin_prints_credentials_once_created(settings, tmp_path, capsys, django_user_model):
    settings.VAR_DIR = tmp_path
    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    assert capsys.readouterr().out == first
    password = first.split("password '")[1].split("'")[0]
    assert django_user_model.objects.get(username="admin").check_password(password)
