"""Source configuration: R10 order, the Map (R12), system checks and the TOML file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

from backends.checks import check_customer_user_sources
from backends.config import MapRow, SourceConfig, ordered_aliases
from backends.registry import SourceHandler
from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE, load_helpdesk_config

pytestmark = pytest.mark.sqlite
OBJ = "settings.CUSTOMER_USER_BACKENDS"
ROOT = Path(__file__).resolve().parents[2]


def test_sources_are_ordered_numerically():
    """R10: CustomerUser, CustomerUser1 … CustomerUser10; CustomerUser10 is last; others ignored."""
    raw = dict.fromkeys(
        ["CustomerUser10", "CustomerUser2", "CustomerUser", "CustomerUser1", "Other", "CustomerUser11"]
    )
    assert ordered_aliases(raw) == ["CustomerUser", "CustomerUser1", "CustomerUser2", "CustomerUser10"]


def test_map_row_from_positional_columns():
    """R12: attribute, label, storage, shown, required, type, http link, readonly, link target."""
    row = MapRow.from_row(["UserEmail", "Email", "email", 1, 1, "var", "mailto:$UserEmail", 0, "_blank"])
    assert row == MapRow(
        attribute="UserEmail", label="Email", storage="email", shown=1, required=True, storage_type="var",
        http_link="mailto:$UserEmail", read_only=False, link_target="_blank", link_class="",
    )  # fmt: skip


def test_shipped_source_gets_the_reference_defaults():
    config = SourceConfig.from_settings("CustomerUser", DEFAULT_CUSTOMER_USER_SOURCE)
    assert config.module_path == "backends.sql.DBSource"
    assert config.search_list_limit == 250
    assert (config.search_prefix, config.search_suffix) == ("*", "*")
    assert config.read_only is False
    assert config.row("UserLogin").storage == "login"


@pytest.mark.parametrize("module", ["DB", "Kernel::System::CustomerUser::DB", "backends.sql.DBSource"])
def test_module_short_and_reference_names(module):
    config = SourceConfig.from_settings("CustomerUser", {**DEFAULT_CUSTOMER_USER_SOURCE, "Module": module})
    assert config.module_path == "backends.sql.DBSource"


def errors_for(settings, **sources):
    settings.CUSTOMER_USER_BACKENDS = sources
    return check_customer_user_sources()


def test_the_shipped_config_passes_the_checks(settings):
    assert errors_for(settings, CustomerUser=DEFAULT_CUSTOMER_USER_SOURCE) == []


def test_unknown_key_is_named_with_a_suggestion(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "CustomerKee": "login"}
    assert errors_for(settings, CustomerUser3=raw) == [
        Error("CUSTOMER_USER_BACKENDS['CustomerUser3']['CustomerKee']: unknown key",
              hint="Did you mean 'CustomerKey'?", obj=OBJ, id="backends.E010")
    ]  # fmt: skip


def test_map_without_required_attributes(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE}
    raw["Map"] = [row for row in raw["Map"] if row[0] != "UserEmail"]
    raw["CustomerUserPostMasterSearchFields"] = []
    raw["CustomerUserListFields"] = ["first_name"]
    assert errors_for(settings, CustomerUser=raw) == [
        Error("CUSTOMER_USER_BACKENDS['CustomerUser']['Map']: has no UserEmail row",
              hint="Every Map needs UserLogin, UserEmail and UserCustomerID (R12).", obj=OBJ, id="backends.E024")
    ]  # fmt: skip


def test_an_eleventh_source_is_an_error_and_a_stray_name_a_warning(settings):
    assert errors_for(settings, CustomerUser=DEFAULT_CUSTOMER_USER_SOURCE, CustomerUser11={}, Foo={}) == [
        Error("CUSTOMER_USER_BACKENDS['CustomerUser11']: at most 11 sources are supported",
              hint="Use CustomerUser or CustomerUser1 … CustomerUser10.", obj=OBJ, id="backends.E004"),
        Warning("CUSTOMER_USER_BACKENDS['Foo']: not a source name, ignored",
                hint="Use CustomerUser or CustomerUser1 … CustomerUser10.", obj=OBJ, id="backends.W001"),
    ]  # fmt: skip


def test_search_field_neither_in_the_map_nor_a_column(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "CustomerUserSearchFields": ["login", "nickname"]}
    [error] = errors_for(settings, CustomerUser=raw)
    assert (
        error.msg == "CUSTOMER_USER_BACKENDS['CustomerUser']['CustomerUserSearchFields']: "
        "'nickname' is neither a storage name of the Map nor a column of customer_user"
    )
    assert error.id == "backends.E025"


def test_list_and_search_fields_may_be_columns_outside_the_map(settings):
    """The reference reads these lists as column names, without the Map (the manual's examples rely on
    it); the JSON column of extra attributes is none of them."""
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "Map": [r for r in DEFAULT_CUSTOMER_USER_SOURCE["Map"]
                                                    if r[2] != "title"]}  # fmt: skip
    raw |= {"CustomerUserListFields": ["title", "last_name"], "CustomerUserSearchFields": ["login", "title"]}
    assert errors_for(settings, CustomerUser=raw) == []
    [error] = errors_for(settings, CustomerUser={**raw, "CustomerUserSearchFields": ["extra_attributes"]})
    assert error.id == "backends.E025"
    assert "'extra_attributes' is neither" in error.msg


def test_module_that_does_not_import(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "Module": "nowhere.Source"}
    [error] = errors_for(settings, CustomerUser=raw)
    assert error.msg.startswith(
        "CUSTOMER_USER_BACKENDS['CustomerUser']['Module']: 'nowhere.Source' does not import"
    )
    assert error.id == "backends.E012"


def test_bad_values_are_named(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "CustomerUserSearchListLimit": "many", "ReadOnly": 2}
    raw["Map"] = [*raw["Map"], ["UserX", "X", "x", 1, 0, "blob"]]
    assert [e.msg for e in errors_for(settings, CustomerUser=raw)] == [
        "CUSTOMER_USER_BACKENDS['CustomerUser']['CustomerUserSearchListLimit']: must be a whole number ≥ 0, not 'many'",
        "CUSTOMER_USER_BACKENDS['CustomerUser']['ReadOnly']: must be 0 or 1, not 2",
        "CUSTOMER_USER_BACKENDS['CustomerUser']['Map'][16][5]: storage type 'blob' is not one of var, int, dynamic_field",
    ]  # fmt: skip


def test_db_source_names_its_table(settings):
    raw = {**DEFAULT_CUSTOMER_USER_SOURCE, "Params": {"Table": "customers"}}
    [error] = errors_for(settings, CustomerUser=raw)
    assert (
        error.msg == "CUSTOMER_USER_BACKENDS['CustomerUser']['Params']['Table']: 'customers' is not a table "
        "this source can read"
    )


def test_registry_refuses_a_bad_config_with_the_same_words():
    registry = SourceHandler({"CustomerUser": {**DEFAULT_CUSTOMER_USER_SOURCE, "CustomerKee": "x"}})
    with pytest.raises(ImproperlyConfigured, match=r"\['CustomerUser'\]\['CustomerKee'\]: unknown key"):
        registry["CustomerUser"]


def test_toml_config_gives_sources_and_settings(tmp_path):
    path = tmp_path / "helpdesk.toml"
    path.write_text(
        '[CustomerUser]\nName = "Ours"\nModule = "DB"\nCustomerKey = "login"\nCustomerID = "customer_id"\n'
        'Map = [["UserLogin", "Username", "login", 1, 1, "var", "", 0],\n'
        '       ["UserEmail", "Email", "email", 1, 1, "var", "", 0],\n'
        '       ["UserCustomerID", "CustomerID", "customer_id", 0, 1, "var", "", 0]]\n'
        'CustomerUserSearchFields = ["login"]\nCustomerUserListFields = ["login", "email"]\n'
        'CustomerUserNameFields = ["login"]\n'
        '[CustomerUser.Params]\nTable = "customer_user"\n'
        '[Settings]\nCustomerGroupAlwaysGroups = ["everyone"]\n'
    )
    config = load_helpdesk_config(str(path))
    assert config.customer_user_backends["CustomerUser"]["Params"] == {"Table": "customer_user"}
    assert config.settings["CustomerGroupAlwaysGroups"] == ["everyone"]
    assert config.settings["CustomerPermissionTypes"] == ["ro", "rw"]
    source = SourceConfig.from_settings("CustomerUser", config.customer_user_backends["CustomerUser"])
    assert source.name == "Ours"


def test_broken_toml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[CustomerUser]\nName = \n")
    with pytest.raises(ImproperlyConfigured, match=r"HELPDESK_CONFIG='.*bad.toml': not valid TOML: .*line 2"):
        load_helpdesk_config(str(path))


def manage_py_check(config: Path) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own, with this HELPDESK_CONFIG (SQLite, debug)."""
    env = {
        **os.environ,
        "HELPDESK_CONFIG": str(config),
        "DJANGO_DEBUG": "1",
        "HELPDESK_VAR_DIR": str(config.parent),
    }
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_manage_py_check_reports_a_broken_source_by_name_and_key(tmp_path):
    path = tmp_path / "helpdesk.toml"
    path.write_text(
        '[CustomerUser2]\nModule = "DB"\nCustomerKee = "login"\nCustomerID = "customer_id"\n'
        'Map = [["UserLogin", "Username", "login", 1, 1, "var", "", 0]]\n'
    )
    result = manage_py_check(path)
    assert result.returncode == 1
    assert "CUSTOMER_USER_BACKENDS['CustomerUser2']['CustomerKee']: unknown key" in result.stderr
    assert "HINT: Did you mean 'CustomerKey'?" in result.stderr
    assert "CUSTOMER_USER_BACKENDS['CustomerUser2']['Map']: has no UserEmail row" in result.stderr


def test_the_documented_example_config_passes_the_checks(settings):
    config = load_helpdesk_config(str(ROOT / "docs" / "helpdesk.example.toml"))
    settings.CUSTOMER_USER_BACKENDS = config.customer_user_backends
    assert check_customer_user_sources() == []
    assert config.settings["CustomerPermissionTypes"] == ["ro", "create", "rw"]


def test_the_reference_names_of_global_settings_are_accepted(tmp_path):
    """As the reference's manuals write them; flags as TOML booleans too (measured: `false` stopped the app)."""
    path = tmp_path / "helpdesk.toml"
    path.write_text(
        '[CustomerUser]\nModule = "DB"\n[CustomerUser1]\nModule = "DB"\nCustomerGroupSupport = 0\n'
        "[Settings]\n"
        '"System::Customer::Permission" = ["ro", "create", "rw"]\n'
        '"DynamicFieldFromCustomerUser::Mapping" = {UserFirstname = "CustomerFirstname"}\n'
        "CustomerGroupSupport = true\n"
        "CustomerDisableCompanyTicketAccess = false\n"
        'CustomerGroupAlwaysGroups = ["users"]\n'
        'CustomerGroupCompanyAlwaysGroups = ["users"]\n'
    )
    config = load_helpdesk_config(str(path))
    assert config.problems == ()
    assert config.settings["CustomerPermissionTypes"] == ["ro", "create", "rw"]
    assert config.settings["DynamicFieldFromCustomerUserMapping"] == {"UserFirstname": "CustomerFirstname"}
    assert config.settings["CustomerDisableCompanyTicketAccess"] == 0
    assert "CustomerGroupSupport" not in config.settings  # OTRS 3's global switch is every source's default
    assert config.customer_user_backends["CustomerUser"]["CustomerGroupSupport"] == 1
    assert config.customer_user_backends["CustomerUser1"]["CustomerGroupSupport"] == 0  # its own wins


def test_settings_problems_are_system_checks_beside_the_source_errors(tmp_path):
    """Measured: a bad [Settings] key was a 55-line traceback that also hid the source errors behind it."""
    path = tmp_path / "helpdesk.toml"
    path.write_text(
        '[CustomerUser2]\nModule = "DB"\nCustomerKee = "login"\nCustomerID = "customer_id"\n'
        'Map = [["UserLogin", "Username", "login", 1, 1, "var", "", 0]]\n'
        '[Settings]\nCustomerGroupAlwaysGroup = ["users"]\nCustomerLoginMaxFailed = "five"\n'
        '"System::Customer::Permission" = ["ro", "rw"]\nCustomerPermissionTypes = ["ro", "rw"]\n'
    )
    result = manage_py_check(path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "(helpdesk.E001) [Settings] CustomerGroupAlwaysGroup: unknown key" in result.stderr
    assert "HINT: Did you mean 'CustomerGroupAlwaysGroups'?" in result.stderr
    assert "[Settings] CustomerLoginMaxFailed: must be a whole number ≥ 0, not 'five'" in result.stderr
    assert (
        "[Settings] CustomerPermissionTypes: the same setting as 'System::Customer::Permission'"
        in result.stderr
    )
    assert "CUSTOMER_USER_BACKENDS['CustomerUser2']['CustomerKee']: unknown key" in result.stderr
