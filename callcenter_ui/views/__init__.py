"""Blueprints, one per feature."""

from __future__ import annotations

import importlib

from flask import Blueprint

# Feature modules that each define ``bp``: calls (telephony), voicemail (transcripts and audio),
# sms, public (portal, tracking pages, weekly overview), open311, feed, mail, reports, console (the
# operators' screens) and admin.
FEATURES = ("console", "admin", "calls", "voicemail", "sms", "public", "open311", "mail", "reports")


def FEATURE_BLUEPRINTS(features: tuple[str, ...] = FEATURES) -> list[Blueprint]:  # noqa: N802  reads as a constant
    """Return the blueprints of the feature modules present in this build (of ``features``, in that order)."""
    found: list[Blueprint] = []
    for name in features:
        try:
            module = importlib.import_module(f"callcenter_ui.views.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"callcenter_ui.views.{name}":
                raise  # a feature that exists but fails to import is a bug, not an absent feature
            continue
        found.append(module.bp)
    return found
