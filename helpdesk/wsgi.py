import os

from django.core.wsgi import get_wsgi_application

from helpdesk.bodies import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

application = ChunkedBodies(get_wsgi_application())
