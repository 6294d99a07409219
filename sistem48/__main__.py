"""Allow ``python -m sistem48``."""

from sistem48.cli import main

main()
