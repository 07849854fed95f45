"""Bulk import and export commands against the real database."""

import csv
import json
import sys
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.imports import CustomerUserImporter
from customers.models import Customer, CustomerUser, Validity

pytestmark = [pytest.mark.django_db]

HEADER = [
    "UserLogin",
    "UserFirstname",
    "UserLastname",
    "UserEmail",
    "UserCustomerID",
    "UserPassword",
    "ValidID",
]


@pytest.fixture
def own_table(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="taken", email="taken@example.com", customer_id="ACME", first_name="T",
                                last_name="T")  # fmt: skip


def write_csv(path, rows, header=HEADER):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def refuse_login(cursor, login):
    """A trigger that makes the database fail on one row, as a full disk would."""
    cursor.execute(f"""
        CREATE FUNCTION refuse_login() RETURNS trigger AS $$ BEGIN
          IF NEW.login = '{login}' THEN RAISE EXCEPTION 'disk full (simulated by a trigger)'; END IF;
          RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_login BEFORE INSERT ON customer_user FOR EACH ROW EXECUTE FUNCTION refuse_login();
    """)  # fmt: skip


def report(path):
    with path.with_name(path.name + ".errors.csv").open(encoding="utf-8") as handle:
        return [(int(r["line"]), r["field"], r["reason"]) for r in csv.DictReader(handle)]


@pytest.mark.sqlite
def test_import_writes_good_rows_and_reports_every_bad_one(tmp_path, own_table):
    path = write_csv(tmp_path / "users.csv", [
        ["zoe", "Zoë", "Schröder", "zoe@example.com", "ACME", "", "1"],
        ["sha", "Sha", "One", "sha@example.com", "ACME", "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4", "1"],
        ["", "No", "Login", "nologin@example.com", "ACME", "", "1"],
        ["bad", "Bad", "Mail", "not-an-address", "ACME", "", "1"],
        ["ghost", "G", "H", "ghost@example.com", "NOPE", "", "1"],
        ["ZOE", "Zoë", "Again", "zoe2@example.com", "ACME", "", "1"],
        ["Taken", "T", "T", "t2@example.com", "ACME", "", "1"],
        ["clear", "C", "P", "clear@example.com", "ACME", "my secret", "1"],
        ["inval", "I", "V", "iv@example.com", "ACME", "", "7"],
    ])  # fmt: skip
    with pytest.raises(CommandError, match="7 rows were not imported"):
        call_command("import_customer_users", str(path), verbosity=0)
    assert sorted(CustomerUser.objects.values_list("login", flat=True)) == ["sha", "taken", "zoe"]
    assert CustomerUser.objects.get(login="sha").password == "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4"
    assert report(path) == [
        (4, "UserLogin", "Login is required."),
        (5, "UserEmail", "'not-an-address' is not a valid e-mail address."),
        (6, "UserCustomerID", "There is no customer 'NOPE'."),
        (7, "UserLogin", "UserLogin appears twice in the file."),
        (8, "UserLogin", "Customer user 'Taken' already exists."),
        (
            9,
            "UserPassword",
            "UserPassword must be a password hash (Django's or the reference's formats), not a clear password.",
        ),
        (10, "ValidID", "ValidID must be 1 (valid), 2 (invalid) or 3 (invalid-temporarily)."),
    ]  # in file order, though the database's verdicts come after the batch's own


@pytest.mark.sqlite
def test_dry_run_validates_and_writes_nothing(tmp_path, own_table):
    path = write_csv(tmp_path / "users.csv", [["new", "N", "U", "new@example.com", "ACME", "", "1"],
                                              ["new2", "", "U", "new2@example.com", "ACME", "", "1"]])  # fmt: skip
    with pytest.raises(CommandError):
        call_command("import_customer_users", str(path), "--dry-run", verbosity=0)
    assert not CustomerUser.objects.filter(login__startswith="new").exists()
    assert report(path) == [(3, "UserFirstname", "First name is required.")]


@pytest.mark.sqlite
def test_json_lines_and_customers(tmp_path, own_table):
    customers = tmp_path / "customers.jsonl"
    customers.write_text("\n".join([
        json.dumps({"CustomerID": "NORD", "CustomerCompanyName": "Nordwind", "CustomerCompanyCity": "Kiel"}),
        json.dumps({"CustomerID": "ACME", "CustomerCompanyName": "Acme again"}),
        "not json",
        json.dumps({"CustomerID": "X", "CustomerCompanyName": "X", "Colour": "blue"}),
    ]) + "\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(CommandError, match="3 rows were not imported"):
        call_command("import_customers", str(customers), verbosity=0)
    assert Customer.objects.get(customer_id="NORD").city == "Kiel"
    reasons = [r[2] for r in report(customers)]
    assert "Customer ID 'ACME' is taken by customer 'ACME'; IDs are compared case-blind." in reasons
    assert any(r.startswith("Line 3 is not JSON") for r in reasons)
    assert any(r.startswith("Colour is not a customer field") for r in reasons)
    users = tmp_path / "users.jsonl"
    users.write_text(json.dumps({"UserLogin": "kai", "UserFirstname": "Kai", "UserLastname": "K",
                                 "UserEmail": "kai@example.com", "UserCustomerID": "NORD"}) + "\n")  # fmt: skip
    call_command("import_customer_users", str(users), verbosity=0)
    assert CustomerUser.objects.get(login="kai").customer_id == "NORD"


@pytest.mark.sqlite
def test_values_arrive_as_written_whatever_their_characters(tmp_path, settings, db_source_settings):
    """COPY's text format needs backslash, tab, newline and carriage return escaped; extra attributes
    (Map rows with no column) arrive in extra_attributes, empty when the file has no such column."""
    source = db_source_settings(CacheTTL=0)
    source["Map"] = [*source["Map"], ["UserDepartment", "Department", "department", 1, 0, "var", "", 0]]
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": source}
    Customer.objects.create(customer_id="ACME", name="Acme")
    awkward = 'C:\\new\\table\ta "tab"\nand a line\r\nend \\N'
    path = write_csv(tmp_path / "users.csv", [
        ["odd", "Ödön", awkward, "odd@example.com", "ACME", "", "1", "Lager\tSüd"],
    ], header=[*HEADER, "UserDepartment"])  # fmt: skip
    call_command("import_customer_users", str(path), verbosity=0)
    odd = CustomerUser.objects.get(login="odd")
    assert (odd.first_name, odd.last_name) == ("Ödön", awkward)
    assert odd.extra_attributes == {"department": "Lager\tSüd"}
    plain = write_csv(tmp_path / "plain.csv", [["plain", "P", "L", "plain@example.com", "ACME", "", "1"]])
    call_command("import_customer_users", str(plain), verbosity=0)
    assert CustomerUser.objects.get(login="plain").extra_attributes == {"department": ""}


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([*HEADER, "UserLogin"], "UserLogin is a column of the file twice."),
        (
            ["login", *HEADER[1:]],
            "login is not an attribute of the Map of CustomerUser. "
            "The header lacks required columns: UserLogin (Username).",
        ),
        (
            [],
            "The header lacks required columns: UserFirstname (Firstname), UserLastname (Lastname), "
            "UserLogin (Username), UserEmail (Email), UserCustomerID (CustomerID).",
        ),
    ],
    ids=["twice", "unknown-and-missing", "empty-file"],
)
def test_a_csv_header_no_row_can_fit_is_refused_before_any_row_is_read(tmp_path, own_table, header, message):
    """One error for the file, not the same errors for each of a million rows; nothing written."""
    path = tmp_path / "users.csv"
    if header:
        write_csv(
            path, [["fits", "F", "I", "fits@example.com", "ACME", "", "1", "x"][: len(header)]] * 3, header
        )
    else:
        path.write_text("", encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("import_customer_users", str(path), verbosity=0)
    assert str(refused.value) == f"{path} line 1, the header: {message} Nothing was imported."
    assert not CustomerUser.objects.filter(login="fits").exists()
    assert not path.with_name("users.csv.errors.csv").exists()
    assert not path.with_name("users.csv.progress").exists()


@pytest.mark.sqlite
def test_a_customers_header_no_row_can_fit_is_refused(tmp_path, own_table):
    path = write_csv(tmp_path / "customers.csv", [["NORD", "Nordwind"]], header=["customer_id", "name"])
    with pytest.raises(CommandError) as refused:
        call_command("import_customers", str(path), "--dry-run", verbosity=0)
    message = str(refused.value)
    assert message.startswith(
        f"{path} line 1, the header: customer_id is not a customer field; known: CustomerID,"
    )
    assert "name is not a customer field" in message
    assert message.endswith(
        "The header lacks required columns: CustomerID, CustomerCompanyName. Nothing was imported."
    )
    assert not Customer.objects.filter(customer_id="NORD").exists()


@pytest.mark.sqlite
def test_a_json_line_with_an_unknown_or_missing_key_is_an_error_of_that_line(tmp_path, own_table):
    """JSON lines have no header: each line names its own attributes, and answers for them."""
    path = tmp_path / "users.jsonl"
    good = {"UserLogin": "good", "UserFirstname": "G", "UserLastname": "D", "UserEmail": "good@example.com",
            "UserCustomerID": "ACME"}  # fmt: skip
    odd = {**good, "UserLogin": "odd", "UserEmail": "odd@example.com", "Colour": "blue"}
    no_login = {"UserFirstname": "No", "UserLastname": "Login"}
    path.write_text("".join(json.dumps(row) + "\n" for row in (good, odd, no_login)), encoding="utf-8")
    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_customer_users", str(path), verbosity=0)
    assert report(path) == [
        (2, "Colour", "Colour is not an attribute of the Map of CustomerUser."),
        (3, "UserLogin", "Login is required."),
        (3, "UserEmail", "E-mail address is required."),
        (3, "UserCustomerID", "Customer ID is required."),
    ]
    assert CustomerUser.objects.filter(login="good").exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_failure_mid_way_leaves_no_partial_batch_and_resume_finishes(tmp_path, own_table):
    rows = [[f"bulk{n:03d}", "B", "U", f"bulk{n:03d}@example.com", "ACME", "", "1"] for n in range(25)]
    path = write_csv(tmp_path / "users.csv", rows)
    with connection.cursor() as cursor:  # the database refuses one row of the third batch
        refuse_login(cursor, "bulk012")
    with pytest.raises(CommandError, match="the database failed at lines 12–16"):
        call_command("import_customer_users", str(path), "--batch-size", "5", verbosity=0)
    assert (
        CustomerUser.objects.filter(login__startswith="bulk").count() == 10
    )  # two whole batches, no part of the third
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_login ON customer_user; DROP FUNCTION refuse_login();")
    call_command("import_customer_users", str(path), "--batch-size", "5", "--resume", verbosity=0)
    assert CustomerUser.objects.filter(login__startswith="bulk").count() == 25
    assert not path.with_name("users.csv.progress").exists()


@pytest.mark.sqlite
def test_export_streams_every_source_with_the_map_attributes(tmp_path, own_table):
    out = tmp_path / "out.jsonl"
    call_command("export_customer_users", "--format", "jsonl", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["Source"], r["UserLogin"], r["UserEmail"]) for r in rows] == [
        ("CustomerUser", "taken", "taken@example.com")
    ]
    assert "UserPassword" not in rows[0]
    csv_out = tmp_path / "out.csv"
    call_command("export_customer_users", "--output", str(csv_out))
    assert csv_out.read_text(encoding="utf-8").splitlines()[0].startswith("Source,UserTitle,UserFirstname")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_batches_are_written_by_a_second_connection_in_order(tmp_path, own_table):
    """The pipelined writer: each batch is checked when it is written, so a key of an earlier batch is
    found in the table; a failing batch stops the run after the batches before it, and --resume ends it."""
    rows = [[f"pipe{n:03d}", "P", "I", f"pipe{n:03d}@example.com", "ACME", "", "1"] for n in range(23)]
    rows[20] = ["Taken", "T", "T", "t3@example.com", "ACME", "", "1"]
    path = write_csv(tmp_path / "users.csv", rows)
    with connection.cursor() as cursor:  # the database refuses one row of the fourth batch
        refuse_login(cursor, "pipe017")
    with pytest.raises(CommandError, match="the database failed at lines 17–21"):
        call_command("import_customer_users", str(path), "--batch-size", "5", verbosity=0)
    assert CustomerUser.objects.filter(login__startswith="pipe").count() == 15  # three whole batches
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_login ON customer_user; DROP FUNCTION refuse_login();")
    with pytest.raises(CommandError, match="1 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "5", "--resume", verbosity=0)
    assert CustomerUser.objects.filter(login__startswith="pipe").count() == 22
    assert report(path) == [(22, "UserLogin", "Customer user 'Taken' already exists.")]
    rows_again = [["late", "L", "A", "late@example.com", "ACME", "", "1"]] * 7  # the same user, 7 times
    path = write_csv(tmp_path / "again.csv", rows_again)
    with pytest.raises(CommandError, match="6 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "3", verbosity=0)
    assert {reason for _, _, reason in report(path)} == {
        "UserLogin appears twice in the file.",
        "UserEmail appears twice in the file.",
    }
    assert CustomerUser.objects.filter(login="late").count() == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_the_pipelined_writer_reports_keys_of_earlier_batches_as_twice_in_the_file(
    tmp_path, own_table, monkeypatch
):
    writers = set()
    commit = CustomerUserImporter.commit

    def observed_commit(self, batch, after=None):
        writers.add(threading.current_thread().name)
        return commit(self, batch, after)

    monkeypatch.setattr(CustomerUserImporter, "commit", observed_commit)
    switch_interval = sys.getswitchinterval()
    rows = [[f"pipe{n:03d}", "P", "I", f"pipe{n:03d}@example.com", "ACME", "", "1"] for n in range(12)]
    rows[9] = ["PIPE001", "P", "I", "other@example.com", "ACME", "", "1"]  # line 11: the login of line 3
    rows[10] = ["again", "A", "G", "PIPE002@example.com", "ACME", "", "1"]  # line 12: the e-mail of line 4
    path = write_csv(tmp_path / "users.csv", rows)
    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "3", verbosity=0)
    assert report(path) == [
        (11, "UserLogin", "UserLogin appears twice in the file."),
        (12, "UserEmail", "UserEmail appears twice in the file."),
    ]
    assert CustomerUser.objects.filter(login__startswith="pipe").count() == 10
    assert {name.split("_")[0] for name in writers} == {"import-writer-0", "import-writer-1"}  # in turn
    assert sys.getswitchinterval() == switch_interval  # shortened only while the writer runs


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_e_mails_are_screened_against_the_table_and_the_batch_still_in_flight(
    tmp_path, own_table, monkeypatch
):
    """The main thread screens the e-mails of a batch while the writer may still hold the batch before it
    uncommitted: the table cannot show that batch's e-mails yet, so they are compared in memory."""
    first_uncommitted_at_second_screen = []
    second_screened = threading.Event()
    store, screen = CustomerUserImporter.store, CustomerUserImporter.screen

    def held_store(self, rows, *, screened):
        assert second_screened.wait(10)  # batch 1 stays uncommitted until batch 2 has been screened
        return store(self, rows, screened=screened)

    def observed_screen(self, rows):
        if rows[0][0] > 4:  # batch 2
            first_uncommitted_at_second_screen.append(not CustomerUser.objects.filter(login="a1").exists())
            try:
                return screen(self, rows)
            finally:
                second_screened.set()
        return screen(self, rows)

    monkeypatch.setattr(CustomerUserImporter, "store", held_store)
    monkeypatch.setattr(CustomerUserImporter, "screen", observed_screen)
    path = write_csv(tmp_path / "users.csv", [
        ["a1", "A", "One", "a1@example.com", "ACME", "", "1"],
        ["a2", "A", "Two", "a2@example.com", "ACME", "", "1"],
        ["a3", "A", "Three", "a3@example.com", "ACME", "", "1"],
        ["b1", "B", "One", "A2@Example.com", "ACME", "", "1"],  # line 5: the e-mail of line 3, in flight
        ["b2", "B", "Two", "TAKEN@example.com", "ACME", "", "1"],  # line 6: in the table before the run
        ["b3", "B", "Three", "b3@example.com", "ACME", "", "1"],
    ])  # fmt: skip
    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "3", verbosity=0)
    assert first_uncommitted_at_second_screen == [True]
    assert report(path) == [
        (5, "UserEmail", "UserEmail appears twice in the file."),
        (6, "UserEmail", "This email address is already in use for another customer user."),
    ]
    assert sorted(CustomerUser.objects.values_list("login", flat=True)) == ["a1", "a2", "a3", "b3", "taken"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_batches_in_flight_never_share_a_login(tmp_path, own_table, monkeypatch):
    """Two writers hold batches 1 and 2 at once, and batch 2 may be copied first. Had it copied a login of
    batch 1, batch 1 would wait for batch 2's commit, which waits for batch 1's: the main thread screens
    logins against the batches in flight, so batch 2 never carries one (a lock timeout ends the test if
    it did)."""
    second_copied = threading.Event()
    store = CustomerUserImporter.store

    def ordered_store(self, rows, *, screened):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
        if rows[0][0] <= 4:  # batch 1 waits until batch 2 is copied
            assert second_copied.wait(10)
            return store(self, rows, screened=screened)
        try:
            return store(self, rows, screened=screened)
        finally:
            second_copied.set()

    monkeypatch.setattr(CustomerUserImporter, "store", ordered_store)
    path = write_csv(tmp_path / "users.csv", [
        ["a1", "A", "One", "a1@example.com", "ACME", "", "1"],
        ["a2", "A", "Two", "a2@example.com", "ACME", "", "1"],
        ["a3", "A", "Three", "a3@example.com", "ACME", "", "1"],
        ["b1", "B", "One", "b1@example.com", "ACME", "", "1"],
        ["A2", "B", "Two", "b2@example.com", "ACME", "", "1"],  # line 6: the login of line 3, in flight
        ["b3", "B", "Three", "b3@example.com", "ACME", "", "1"],
    ])  # fmt: skip
    with pytest.raises(CommandError, match="1 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "3", verbosity=0)
    assert report(path) == [(6, "UserLogin", "UserLogin appears twice in the file.")]
    assert sorted(CustomerUser.objects.values_list("login", flat=True)) == [
        "a1",
        "a2",
        "a3",
        "b1",
        "b3",
        "taken",
    ]


def import_beside_an_invalid_user(tmp_path):
    """R56(5)/R57: an e-mail is taken when any user of the source holds it, invalid ones too, whatever
    its case; R56(6): an invalid user may carry a malformed e-mail."""
    CustomerUser.objects.create(login="gone", email="gone@example.com", customer_id="ACME", first_name="G",
                                last_name="One", validity=Validity.INVALID)  # fmt: skip
    path = write_csv(tmp_path / "users.csv", [
        ["back", "B", "Ack", "GONE@Example.com", "ACME", "", "1"],
        ["odd", "O", "Dd", "not-an-address", "ACME", "", "2"],
    ])  # fmt: skip
    with pytest.raises(CommandError, match="1 rows were not imported"):
        call_command("import_customer_users", str(path), verbosity=0)
    assert report(path) == [
        (2, "UserEmail", "This email address is already in use for another customer user.")
    ]
    assert CustomerUser.objects.get(login="odd").email == "not-an-address"
    assert not CustomerUser.objects.filter(login="back").exists()


@pytest.mark.sqlite
def test_e_mails_of_invalid_users_are_taken_in_a_transaction(tmp_path, own_table):
    import_beside_an_invalid_user(tmp_path)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_e_mails_of_invalid_users_are_taken_when_pipelined(tmp_path, own_table):
    import_beside_an_invalid_user(tmp_path)


@pytest.mark.sqlite
def test_resume_refuses_a_progress_file_it_did_not_write(tmp_path, own_table):
    path = write_csv(tmp_path / "users.csv", [["n1", "N", "O", "n1@example.com", "ACME", "", "1"]])
    path.with_name("users.csv.progress").write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match=r"users.csv.progress cannot be read .* Remove it"):
        call_command("import_customer_users", str(path), "--resume", verbosity=0)
    assert not CustomerUser.objects.filter(login="n1").exists()


@pytest.mark.sqlite
def test_a_resumed_run_keeps_the_report_of_the_lines_before_it(tmp_path, own_table):
    rows = [[f"r{n}", "R", "E", f"r{n}@example.com", "ACME", "", "1"] for n in range(6)]
    rows[1][3] = "not-an-address"
    rows[5][1] = ""
    path = write_csv(tmp_path / "users.csv", rows[:4])
    with pytest.raises(CommandError, match="1 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "2", verbosity=0)
    # As if that run had been stopped after line 5 of the whole file, and the file were that whole file.
    write_csv(path, rows)
    report_path = path.with_name("users.csv.errors.csv")
    path.with_name("users.csv.progress").write_text(json.dumps({"line": 5, "written": 3, "error_rows": 1,
                                                    "report_bytes": report_path.stat().st_size}))  # fmt: skip
    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_customer_users", str(path), "--batch-size", "2", "--resume", verbosity=0)
    assert report(path) == [
        (3, "UserEmail", "'not-an-address' is not a valid e-mail address."),
        (7, "UserFirstname", "First name is required."),
    ]
    assert set(CustomerUser.objects.filter(login__startswith="r").values_list("login", flat=True)) == {
        "r0", "r2", "r3", "r4"
    }  # fmt: skip


@pytest.mark.sqlite
def test_a_customer_id_taken_in_another_case_is_a_reported_row_not_a_stopped_import(tmp_path, own_table):
    """Issue 32, point 1: `acme` beside `ACME` is one reported row; BETA and GAMMA are written."""
    path = tmp_path / "customers.csv"
    path.write_text(
        "CustomerID,CustomerCompanyName\nBETA,Beta\nacme,Acme two\nGAMMA,Gamma\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match="1 rows were not imported"):
        call_command("import_customers", str(path), verbosity=0)
    assert sorted(Customer.objects.values_list("customer_id", flat=True)) == ["ACME", "BETA", "GAMMA"]
    assert report(path) == [
        (3, "CustomerID", "Customer ID 'acme' is taken by customer 'ACME'; IDs are compared case-blind.")
    ]
