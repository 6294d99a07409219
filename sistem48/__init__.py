"""Process entry points of Sistem 48: the CLI, the Celery worker, the sweeper and ``sistem48 up``."""
