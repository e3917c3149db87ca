"""The app object for gunicorn and ``flask --app wsgi``."""

import sys

from webapp import create_app
from webapp.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"Parley cannot start: {error}")
