"""Fixtures giving the tests parsed copies of asterisk_conf/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.asterisk_conf.asterisk_conf_reader import (
    CONF_DIR,
    Context,
    Pjsip,
    Section,
    parse_conf,
    parse_dialplan,
    sections_named,
)


@pytest.fixture(scope="session")
def conf_dir() -> Path:
    """Return the directory holding the committed Asterisk configuration."""
    assert CONF_DIR.is_dir(), CONF_DIR
    return CONF_DIR


@pytest.fixture(scope="session")
def load_conf(conf_dir: Path) -> Callable[[str], list[Section]]:
    """Return a function that parses one file of asterisk_conf/ by name."""

    def load(name: str) -> list[Section]:
        """Parse ``asterisk_conf/<name>``."""
        return parse_conf((conf_dir / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def dialplan(load_conf: Callable[[str], list[Section]]) -> dict[str, Context]:
    """Return the contexts of extensions.conf."""
    return parse_dialplan(load_conf("extensions.conf"))


@pytest.fixture(scope="session")
def dialplan_globals(load_conf: Callable[[str], list[Section]]) -> dict[str, str]:
    """Return the ``[globals]`` of extensions.conf as a dict."""
    (section,) = sections_named(load_conf("extensions.conf"), "globals")
    return dict(section.items)


@pytest.fixture(scope="session")
def pjsip(load_conf: Callable[[str], list[Section]]) -> Pjsip:
    """Return pjsip.conf with template lookup."""
    return Pjsip(load_conf("pjsip.conf"))
