import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin login `admin` with a random password on first use, and print its credentials."

    def handle(self, *args, **options):
        credentials = Path(settings.VAR_DIR) / "admin-credentials.txt"
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            users.objects.create_superuser("admin", email="admin@example.com", password=password)
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.touch(mode=0o600)
            credentials.write_text(f"username: admin\npassword: {password}\n")
        if credentials.exists():
            username, password = (line.split(": ", 1)[1] for line in credentials.read_text().splitlines())
            self.stdout.write(
                f"Admin login on http://127.0.0.1:8000/admin/ — user {username!r}, password {password!r} "
                f"(kept in {credentials})"
            )
        else:
            self.stdout.write("The admin login `admin` exists; its password was set elsewhere.")
