"""Exact counts of the DB source, kept by the tally triggers on PostgreSQL (customers migration 0012).

Every way rows are written is counted: the ORM, bulk statements, COPY (the importer), validity changes,
deletes, concurrent writers; the tally always equals `count(*)`, and piled-up rows fold into one each.
"""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections

from backends.registry import SourceHandler
from backends.sql import source as sql_source
from customers.models import Customer, CustomerUser
from customers.selectors import get_sources_status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the tally is PostgreSQL's"),
]


def people(first: int, count: int, validity: int = 1) -> list[CustomerUser]:
    return [
        CustomerUser(login=f"p{n:05d}", first_name="P", last_name="Q", customer_id="C", email=f"p{n}@x.example",
                     validity=validity)
        for n in range(first, first + count)
    ]  # fmt: skip


def counted(source) -> tuple[int, int]:
    return source.count(), source.count(valid_only=True)


def actual() -> tuple[int, int]:
    return CustomerUser.objects.count(), CustomerUser.objects.filter(validity=1).count()


def tally_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customer_user_tally")
        return cursor.fetchone()[0]


@pytest.fixture
def source(db_source_settings):
    return SourceHandler({"CustomerUser": db_source_settings(CacheTTL=0)})["CustomerUser"]


def test_every_kind_of_write_is_counted(source, tmp_path):
    assert counted(source) == (0, 0)
    CustomerUser.objects.bulk_create(people(0, 30) + people(30, 5, validity=2))
    CustomerUser.objects.create(
        login="one", first_name="O", last_name="N", customer_id="C", email="o@x.example"
    )
    assert counted(source) == actual() == (36, 31)
    CustomerUser.objects.filter(login__in=["p00001", "p00002"]).update(validity=3)  # valid → invalid
    CustomerUser.objects.filter(login="p00031").update(validity=1)  # and back
    CustomerUser.objects.filter(login="one").update(first_name="Only")  # no move
    assert counted(source) == actual() == (36, 30)
    with connection.cursor() as cursor:  # the product never deletes (R2); a DBA's statement still counts
        cursor.execute("DELETE FROM customer_user WHERE login LIKE 'p0003%%'")
    assert counted(source) == actual() == (31, 29)
    rows = tmp_path / "users.csv"
    rows.write_text("UserLogin,UserFirstname,UserLastname,UserEmail,UserCustomerID\n" + "".join(
        f"imp{n},I,M,imp{n}@x.example,C\n" for n in range(1200)), encoding="utf-8")  # fmt: skip
    Customer.objects.create(customer_id="C", name="C")  # the importer checks each row's customer
    call_command("import_customer_users", str(rows), "-v0")  # COPY
    assert counted(source) == actual() == (1231, 1229)


def test_a_status_says_how_many_are_valid(db_source_settings, settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    CustomerUser.objects.bulk_create(people(0, 7) + people(7, 2, validity=2))
    (status,) = get_sources_status().sources
    assert (status.count, status.valid_count, status.count_complete) == (9, 7, True)


def test_concurrent_writers_neither_wait_for_each_other_nor_lose_a_count(source):
    barrier = threading.Barrier(4)
    failures = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for k in range(25):
                CustomerUser.objects.bulk_create(people(n * 1000 + k * 4, 4, validity=1 + (k % 2)))
                CustomerUser.objects.filter(login=f"p{n * 1000 + k * 4:05d}").update(validity=2)
        except Exception as exc:  # reported below, with the thread's number
            failures.append((n, exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert counted(source) == actual() == (400, actual()[1])


def test_piled_up_rows_fold_into_one_per_validity(source, monkeypatch):
    monkeypatch.setattr(sql_source, "TALLY_FOLD", 5)
    for n in range(12):
        CustomerUser.objects.bulk_create(people(n * 10, 10, validity=1 + n % 2))
    assert tally_rows() >= 12
    assert counted(source) == actual() == (120, 60)
    assert tally_rows() == 2


def test_a_truncated_table_counts_nothing(source):
    CustomerUser.objects.bulk_create(people(0, 3))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customer_user CASCADE")
    assert counted(source) == (0, 0)
