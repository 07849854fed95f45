"""The shipped staff roles (staff/roles.py); post_migrate keeps them in sync afterwards."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():  # the permissions exist only after migrate, otherwise
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    from staff.roles import sync_roles

    sync_roles(apps, using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    from staff.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0008_staff_permissions"),
        ("permissions", "0002_staff_permissions"),
        ("tickets", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
