"""Entry point for gunicorn (`wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""

from service import create_app
from service.platform.heap import freeze_startup_objects

app = create_app()
freeze_startup_objects()
