"""A reader for the Asterisk configuration files in asterisk_conf/ (no Asterisk needed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[3] / "asterisk_conf"

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<opts>[^)]*)\))?\s*$")


@dataclass
class Section:
    """One ``[name](options)`` block of an Asterisk config file, in file order."""

    name: str
    options: tuple[str, ...]
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """Return the last value of ``key`` (Asterisk's "last one wins"), or None."""
        values = self.getall(key)
        return values[-1] if values else None

    def need(self, key: str) -> str:
        """Return the last value of ``key``; fail the test when it is not set."""
        value = self.get(key)
        assert value is not None, f"[{self.name}] has no {key}"
        return value

    def getall(self, key: str) -> list[str]:
        """Return every value of ``key`` in order (repeatable options like permit)."""
        return [value for k, value in self.items if k == key]


@dataclass
class Step:
    """One dialplan priority: extension, priority label, application and its data."""

    exten: str
    priority: str
    app: str
    data: str


@dataclass
class Context:
    """One dialplan context: its steps in order and its includes."""

    name: str
    steps: list[Step] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def extension(self, exten: str) -> list[Step]:
        """Return the steps of one extension in order."""
        return [step for step in self.steps if step.exten == exten]


def strip_comment(line: str) -> str:
    """Remove an unescaped ``;`` comment and surrounding whitespace from a line."""
    out = []
    escaped = False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out).strip()


def parse_conf(text: str) -> list[Section]:
    """Parse Asterisk's INI dialect: ``[s](opts)``, ``key = v``, ``key => v``, ``;`` comments."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = strip_comment(raw)
        if not line:
            continue
        if line.startswith("#"):
            raise AssertionError(f"#include/#exec not expected in asterisk_conf: {raw!r}")
        header = _SECTION.match(line)
        if header:
            opts = tuple(o.strip() for o in (header["opts"] or "").split(",") if o.strip())
            sections.append(Section(header["name"].strip(), opts))
            continue
        if not sections:
            raise AssertionError(f"option outside any section: {raw!r}")
        key, sep, value = line.partition("=")
        if not sep:
            raise AssertionError(f"line without '=': {raw!r}")
        value = value.removeprefix(">")
        sections[-1].items.append((key.strip(), value.strip()))
    return sections


def parse_dialplan(sections: list[Section]) -> dict[str, Context]:
    """Turn extensions.conf sections into contexts of steps (``exten`` and ``same``)."""
    contexts: dict[str, Context] = {}
    for section in sections:
        if section.name in ("general", "globals"):
            continue
        ctx = contexts.setdefault(section.name, Context(section.name))
        current = ""
        for key, value in section.items:
            if key == "include":
                ctx.includes.append(value)
                continue
            if key == "exten":
                current, priority, rest = value.split(",", 2)
            elif key == "same":
                priority, rest = value.split(",", 1)
            else:
                continue
            app, _, data = rest.partition("(")
            ctx.steps.append(Step(current, priority, app.strip(), data[:-1] if data.endswith(")") else data))
    return contexts


def sections_named(sections: list[Section], name: str) -> list[Section]:
    """Return every section called ``name`` (pjsip.conf reuses names across types)."""
    return [s for s in sections if s.name == name]


class Pjsip:
    """pjsip.conf with template inheritance resolved on lookup."""

    def __init__(self, sections: list[Section]) -> None:
        """Index the templates of ``sections``."""
        self.sections = sections
        self.templates = {s.name: s for s in sections if "!" in s.options}

    def objects(self, type_: str) -> list[Section]:
        """Return every non-template section whose resolved ``type`` is ``type_``."""
        return [s for s in self.sections if "!" not in s.options and self.value(s, "type") == type_]

    def section(self, name: str, type_: str) -> Section:
        """Return the section ``name`` of pjsip object type ``type_``."""
        for section in self.objects(type_):
            if section.name == name:
                return section
        raise AssertionError(f"pjsip.conf has no [{name}] of type {type_}")

    def need(self, section: Section, key: str) -> str:
        """Return ``key`` of a section (templates included); fail the test when it is not set."""
        value = self.value(section, key)
        assert value is not None, f"[{section.name}] has no {key}"
        return value

    def value(self, section: Section, key: str) -> str | None:
        """Return ``key`` of a section, falling back to the templates it names (last wins)."""
        own = section.get(key)
        if own is not None:
            return own
        for opt in reversed(section.options):
            template = self.templates.get(opt)
            if template is not None and (inherited := self.value(template, key)) is not None:
                return inherited
        return None
