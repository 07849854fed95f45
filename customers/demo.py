"""A small, deterministic demo data set: customers, customer users with international names, groups,
services and a few relations. Loaded by `manage.py load_demo_data`; loading twice changes nothing."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import transaction

from backends.registry import sources
from core.generations import forget_customer_user_answers
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserService,
    Group,
    Service,
    Validity,
)

DEMO_PASSWORD = "demo-customer"

CUSTOMERS = [
    ("ACME", "Acme Corporation", "Berlin", "Germany"),
    ("NORDWIND", "Nordwind Logistik GmbH", "Hamburg", "Germany"),
    ("SAKURA", "Sakura Trading K.K.", "Ōsaka", "Japan"),
    ("ANDES", "Andes Minería S.A.", "Santiago", "Chile"),
    ("LUMIERE", "Lumière & Fils SARL", "Lyon", "France"),
    ("OLD-CO", "Old Company Ltd", "Leeds", "United Kingdom"),
]

NAMES = [
    ("Anna", "Müller"), ("Jürgen", "Weiß"), ("Zoë", "Schröder"), ("Łukasz", "Wójcik"), ("Ólafur", "Þórsson"),
    ("Søren", "Kierkegård"), ("José", "Peña"), ("Inés", "Muñoz"), ("François", "Lefèvre"), ("Hélène", "Dubois"),
    ("Chloé", "Mercier"), ("Björn", "Åström"), ("Ewa", "Łęcka"), ("Dragan", "Đorđević"), ("Ayşe", "Yılmaz"),
    ("Mehmet", "Öztürk"), ("Γιώργος", "Παπαδόπουλος"), ("Ελένη", "Νικολάου"), ("Иван", "Петров"),
    ("Ольга", "Смирнова"), ("Taro", "Yamada"), ("花子", "山田"), ("Wei", "Zhang"), ("美玲", "王"),
    ("Min-jun", "Kim"), ("Seo-yeon", "Park"), ("Aarav", "Sharma"), ("Priya", "Patel"), ("Nguyễn", "Văn An"),
    ("Trần", "Thị Bình"), ("Oluwaseun", "Adébáyọ̀"), ("Chidi", "Okonkwo"), ("Fatima", "Al-Zahra"),
    ("Yusuf", "Haddad"), ("Noa", "Cohen"), ("David", "Levi"), ("Mateus", "Conceição"), ("Luíza", "Gonçalves"),
    ("Sebastián", "Núñez"), ("Camila", "Ibáñez"), ("Maximilian", "Müller-Lüdenscheidt"), ("Ines", "Müllner"),
    ("Käthe", "Keller"), ("Sven", "Teller"), ("Mia", "Heller"), ("Jan", "Novák"), ("Tereza", "Dvořáková"),
    ("Mikko", "Häkkinen"), ("Aino", "Järvinen"), ("Gaël", "Le Goff"), ("Eóin", "Ó Briain"), ("Siobhán", "Ní Dhuibhir"),
]  # fmt: skip

GROUPS = [("users", "Every customer user"), ("support", "Support tickets"), ("billing", "Invoices"),
          ("projects", "Project tickets")]  # fmt: skip
SERVICES = ["IT", "IT::Mail", "IT::VPN", "Billing", "Billing::Invoices"]


def _ascii_login(first: str, last: str, n: int) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKD", f"{first[0]}{last}").encode("ascii", "ignore").decode().lower()
    text = "".join(c for c in text if c.isalnum())
    return f"{text or 'user'}{n:02d}"


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    """Create the demo set unless it is there; return how many of each kind were created."""
    created = {"customers": 0, "customer users": 0, "groups": 0, "services": 0}
    for customer_id, name, city, country in CUSTOMERS:
        _, new = Customer.objects.get_or_create(
            customer_id=customer_id,
            defaults={
                "name": name, "city": city, "country": country, "url": f"https://{customer_id.lower()}.example",
                "validity": Validity.INVALID if customer_id == "OLD-CO" else Validity.VALID,
            },
        )  # fmt: skip
        created["customers"] += new
    groups = {}
    for name, comments in GROUPS:
        groups[name], new = Group.objects.get_or_create(name=name, defaults={"comments": comments})
        created["groups"] += new
    services = {}
    for name in SERVICES:
        services[name], new = Service.objects.get_or_create(name=name)
        created["services"] += new

    if not CustomerUser.objects.filter(login__endswith="00").exists():
        password = make_password(DEMO_PASSWORD)
        users = []
        for n, (first, last) in enumerate(NAMES):
            customer_id = CUSTOMERS[n % 5][0]
            login = _ascii_login(first, last, n)
            users.append(CustomerUser(
                login=login, email=f"{login}@{customer_id.lower()}.example", customer_id=customer_id,
                first_name=first, last_name=last, password=password, city=CUSTOMERS[n % 5][2],
                country=CUSTOMERS[n % 5][3],
                validity=Validity.INVALID_TEMPORARILY if n % 17 == 16 else Validity.VALID,
            ))  # fmt: skip
        CustomerUser.objects.bulk_create(users)
        created["customer users"] = len(users)
        first_login = users[0].login
        CustomerUserCustomer.objects.create(login=first_login, customer_id="NORDWIND")
        CustomerUserGroup.objects.bulk_create([
            CustomerUserGroup(login=first_login, group=groups["support"], permission="rw"),
            CustomerUserGroup(login=users[1].login, group=groups["billing"], permission="ro"),
        ])  # fmt: skip
        CustomerGroup.objects.bulk_create([
            CustomerGroup(customer_id="ACME", group=groups["projects"], permission="ro"),
            CustomerGroup(customer_id="NORDWIND", group=groups["support"], permission="rw"),
        ])  # fmt: skip
        CustomerUserService.objects.create(login=first_login, service=services["IT::Mail"])
    # Its rows are written here, not through the services: every cached answer is forgotten as they do.
    transaction.on_commit(lambda: forget_customer_user_answers(*sources.aliases))
    return created
