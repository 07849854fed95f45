"""Files on tickets in the panel (issue 35): attached to a new ticket or an answer, kept by Django's storage,
size-limited and checked by name and first bytes, handed only to customers who may read the ticket."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, CustomerUser, CustomerUserGroup, Group
from customers.services import set_customer_user_password
from tickets.models import Attachment, Queue, Ticket

pytestmark = [pytest.mark.django_db]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def panel(settings, db_source_settings, tmp_path, client):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPermissionTypes": ["ro", "create", "rw"],
                                  "CustomerGroupAlwaysGroups": [], "CustomerGroupCompanyAlwaysGroups": []}  # fmt: skip
    for cid in ("ACME", "OTHER"):
        Customer.objects.create(customer_id=cid, name=cid)
    support = Group.objects.create(name="support")
    Queue.objects.create(name="Support queue", group=support)
    for login, cid in (("dana", "ACME"), ("stranger", "OTHER")):
        CustomerUser.objects.create(login=login, customer_id=cid, email=f"{login}@example.com", first_name=login,
                                    last_name="X")  # fmt: skip
        set_customer_user_password(login=login, password=f"{login}-pass-12345", acting_user=None)
        CustomerUserGroup.objects.create(login=login, group=support, permission="rw")
    assert (
        client.post(reverse("portal:login"), {"login": "dana", "password": "dana-pass-12345"}).status_code
        == 302
    )
    return client


def _open(client, *files):
    queue = Queue.objects.get().pk
    return client.post(reverse("portal:new_ticket"), {"queue": queue, "title": "Printer", "body": "It jams.",
                                                      "attachments": list(files)})  # fmt: skip


def test_a_file_goes_with_a_new_ticket_and_comes_back_only_to_who_may_read_it(panel, client):
    opened = _open(client, SimpleUploadedFile("invoice.pdf", PDF, content_type="application/pdf"))
    assert opened.status_code == 302
    ticket = Ticket.objects.get()
    [kept] = Attachment.objects.all()
    assert (kept.filename, kept.content_type, kept.size) == ("invoice.pdf", "application/pdf", len(PDF))
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    url = reverse("portal:ticket_attachment", args=[ticket.number, kept.pk])
    assert url in page
    download = client.get(url)
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    client.post(reverse("portal:logout"))
    client.post(reverse("portal:login"), {"login": "stranger", "password": "stranger-pass-12345"})
    assert client.get(url).status_code == 404  # another company's ticket: not found, never the file


@pytest.mark.parametrize(("upload", "problem"), [
    (SimpleUploadedFile("big.pdf", PDF + b"x" * 2000), "big.pdf is 2.0\xa0KB; at most 1000\xa0bytes per file."),
    (SimpleUploadedFile("evil.pdf", b"#!/bin/sh\nrm -rf /\n"), "evil.pdf is not what its name says (application/pdf)."),
    (SimpleUploadedFile("tool.exe", b"MZ\x90\x00"), "tool.exe: files of this kind cannot be attached"),
])  # fmt: skip
def test_a_file_that_is_too_big_or_not_what_it_says_is_refused_naming_it(panel, client, upload, problem):
    refused = _open(client, upload)
    assert refused.status_code == 400
    html = refused.content.decode()
    assert problem in html
    assert 'aria-describedby="attachments-error"' in html
    assert not Ticket.objects.exists()  # nothing half-written
    assert not Attachment.objects.exists()


def test_an_answer_carries_files_too(panel, client):
    _open(client)
    ticket = Ticket.objects.get()
    client.post(reverse("portal:ticket", args=[ticket.number]),
                {"body": "Log attached.", "attachments": [SimpleUploadedFile("printer.log", b"error 42\n")]})  # fmt: skip
    assert list(Attachment.objects.values_list("filename", "content_type")) == [("printer.log", "text/plain")]


def test_anonymising_a_person_erases_the_files_they_attached(panel, client):
    from privacy.services import anonymise_person

    _open(client, SimpleUploadedFile("passport.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20))
    [kept] = Attachment.objects.all()
    stored = kept.file.path
    anonymise_person("dana", acting_user=None)
    assert not Attachment.objects.exists()
    assert not Path(stored).exists()
    assert Ticket.objects.exists()  # the ticket stays, without its person


def test_staff_who_read_tickets_download_a_file_and_the_export_lists_it(panel, client, django_user_model):
    from django.contrib.auth.models import Group as AuthGroup

    from privacy.services import export_person
    from staff.roles import AGENTS

    _open(client, SimpleUploadedFile("invoice.pdf", PDF))
    ticket, kept = Ticket.objects.get(), Attachment.objects.get()
    agent = django_user_model.objects.create_user("agent", password="Staff-Pass-123", is_staff=True)
    agent.groups.add(AuthGroup.objects.get(name=AGENTS))
    client.force_login(agent)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    url = reverse("admin:ticket_attachment", args=[kept.pk])
    assert url in page
    assert b"".join(client.get(url).streaming_content) == PDF
    nobody = django_user_model.objects.create_user("nobody", password="Staff-Pass-123", is_staff=True)
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    [exported] = export_person("dana", acting_user=None)["tickets"]
    assert exported["articles"][0]["files"] == [
        {"name": "invoice.pdf", "type": "application/pdf", "size": len(PDF)}
    ]


def test_a_persons_tickets_are_exported_in_a_fixed_number_of_queries(
    panel, client, django_assert_max_num_queries
):
    from tickets.selectors import tickets_of_person

    for n in range(3):
        _open(client, SimpleUploadedFile(f"file{n}.txt", b"text\n"))
        ticket = Ticket.objects.order_by("-pk").first()
        client.post(reverse("portal:ticket", args=[ticket.number]),
                    {"body": "More.", "attachments": [SimpleUploadedFile(f"more{n}.txt", b"more\n")]})  # fmt: skip
    with django_assert_max_num_queries(4):
        exported = tickets_of_person("dana")
    assert [len(t["articles"]) for t in exported] == [2, 2, 2]
    assert exported[0]["articles"][1]["files"] == [{"name": "more0.txt", "type": "text/plain", "size": 5}]
