"""The audit log of permission changes becomes part of the one history (core.HistoryEntry)."""

from django.db import migrations

OBJECT_TYPES = {
    "group_permission": "customer_user", "customer_group": "customer",
    "customer_user_customer": "customer_user", "customer_user_service": "customer_user",
    "default_service": "setting", "setting": "setting",
    "group": "group", "service": "service",
}  # fmt: skip


def copy_entries(apps, schema_editor):
    old = apps.get_model("permissions", "AuditEntry")
    new = apps.get_model("core", "HistoryEntry")
    new._meta.get_field(
        "at"
    ).auto_now_add = False  # keep when each change happened (this model is the migration's own)
    batch = []
    for entry in old.objects.select_related("actor").order_by("pk").iterator(chunk_size=2000):
        kind = OBJECT_TYPES.get(entry.action.split(".")[0], "setting")
        for key in entry.target.split(",") if kind == "customer_user" else [entry.target]:
            batch.append(new(
                at=entry.at, actor=entry.actor, actor_name=entry.actor.username if entry.actor else "system",
                path="system", action=entry.action, object_type=kind, object_key=key, detail=entry.detail,
            ))  # fmt: skip
        if len(batch) >= 2000:
            new.objects.bulk_create(batch)
            batch = []
    new.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("permissions", "0002_staff_permissions"), ("core", "0002_history")]

    operations = [
        migrations.RunPython(copy_entries, migrations.RunPython.noop),
        migrations.DeleteModel(name="AuditEntry"),
    ]
