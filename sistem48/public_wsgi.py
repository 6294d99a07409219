"""The WSGI entry point of the public node, imported by each uWSGI worker after the fork.

``sistem48 public`` runs uWSGI with ``--lazy-apps --module sistem48.public_wsgi:app``, so this module
is imported once per worker: every worker builds its own app, core and database pools. An engine or a
psycopg connection created before the fork would be shared by processes that interleave their bytes
on one socket.
"""

from __future__ import annotations

from callcenter_ui import create_app
from core.config import load_settings
from sistem48.runtime import configure_logging

configure_logging()  # errors go to stderr in the one house format, whoever started the interpreter
app = create_app(load_settings(), public_only=True)
