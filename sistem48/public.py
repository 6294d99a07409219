"""The public node: the portal, tracking pages and Open311 under uWSGI, apart from the operators' console.

uWSGI runs inside this Python process (the ``pyuwsgi`` wheel): this process becomes the uWSGI master
and forks the workers, and each worker imports ``sistem48.public_wsgi`` to build its own app. The wheel's
``uwsgi`` script does nothing else (it calls ``pyuwsgi.run``), so exec'ing it would only cost a second
interpreter start and lose the logging set up here.
"""

from __future__ import annotations

import logging
import sys

from core.config import Settings

log = logging.getLogger(__name__)

WSGI_MODULE = "sistem48.public_wsgi:app"


def bind_address(host: str, port: int) -> str:
    """Return uWSGI's ``HOST:PORT`` for a socket, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def uwsgi_args(settings: Settings) -> list[str]:
    """Return the uWSGI command line of the public node (measured under load; see docs/architecture.md)."""
    return [
        "--strict",  # an unknown or misspelt option stops the start instead of being ignored
        # uWSGI's HTTP router: one asynchronous C process holds the clients' connections (HTTP/1.1
        # keep-alive) and hands complete requests to the workers over an internal uwsgi socket. Measured
        # against the workers' own http11 socket: idle keep-alive connections held a worker thread each
        # (a new visitor waited 4 s behind six idle ones), and six slow-header clients (slowloris) stalled
        # the node outright; through the router both answer in under 2 ms. Tracking pages and look-ups
        # by id are as fast; a 1000-row listing is about 15 % slower, the price of the extra copy.
        "--http",
        bind_address(settings.public_host, settings.public_port),
        "--http-keepalive",
        # The router's read buffer (default one 4 KB page): an Open311 listing of 1000 requests is about
        # 680 KB, and copying it through in pages cost the listing a third of its throughput (measured:
        # 392 req/s with 4 KB, 846 with 64 KB, about 1,100-1,260 with 256 KB or 1 MB). Memory is only
        # touched as far as it is filled.
        "--http-buffer-size",
        "262144",
        "--processes",
        str(settings.public_processes),
        "--threads",
        str(settings.public_threads),
        "--master",
        # Each worker builds its own app, core and database pools after the fork: SQLAlchemy engines
        # and psycopg connections must never be shared across a fork.
        "--lazy-apps",
        "--module",
        WSGI_MODULE,
        "--need-app",  # a worker that cannot build the app stops the node rather than answering 500s
        "--die-on-term",  # SIGTERM (docker stop) stops the node; uWSGI's default is to reload
        # Measured (on the workers' own http11 socket, before the router): a Flask static file sent
        # through wsgi.file_wrapper stalled its keep-alive connection for about 5 s. Kept off: the node's
        # only static files are small CSS and JS, which Python reads in no measurable time.
        "--wsgi-disable-file-wrapper",
        # No access log: it would hold citizens' tracking codes and the addresses in their searches.
        # Errors still go to stderr.
        "--disable-logging",
        "--buffer-size",  # bounded request headers: anything larger is hostile and refused
        "8192",
        "--harakiri",  # a request stuck for 30 s gets its worker killed and replaced
        "30",
        "--vacuum",
        "--enable-threads",
        # A reload (SIGHUP) re-executes the master. uWSGI would otherwise resolve the interpreter through
        # /proc/self/exe to the base Python outside the virtualenv, where neither pyuwsgi nor this
        # project is installed, and the node would die instead of reloading.
        "--binary-path",
        sys.executable,
    ]


def serve(settings: Settings) -> None:
    """Run uWSGI in this process until SIGTERM; never returns while serving.

    The workers read their settings again with ``load_settings()`` from the same environment and
    working directory (the module is imported by name, nothing is passed through the fork). The caller
    has already loaded them once here, so the generated ``var/secret_key`` exists before the workers
    start and they do not race to create it.
    """
    import pyuwsgi  # type: ignore[import-not-found]  # a C extension without type stubs

    log.info("public on http://%s/", bind_address(settings.public_host, settings.public_port))
    pyuwsgi.run(uwsgi_args(settings))
