"""WSGI entry point for the server process."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
application = get_wsgi_application()
