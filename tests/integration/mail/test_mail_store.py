"""Attachments on disk: clean copies under content-addressed names."""

from __future__ import annotations

from pathlib import Path

import pytest

from email_channel.parse import AttachmentPart
from email_channel.store import store_attachment
from tests.unit.test_mail_images import gps_jpeg


def test_store_keeps_only_the_clean_copy(tmp_path: Path) -> None:
    """The stored file is the EXIF-free re-encoding under a content-addressed name; odd files are opaque."""
    photo = store_attachment(
        tmp_path, AttachmentPart(filename="IMG 1.jpg", declared_type="image/jpeg", data=gps_jpeg())
    )
    stored = tmp_path / "attachments" / photo.storage_path
    assert stored.name == f"{photo.sha256}.jpg"
    assert photo.latitude == pytest.approx(44.625)
    assert photo.content_type == "image/jpeg"
    assert b"Telefon X" not in stored.read_bytes()
    assert b"Exif" not in stored.read_bytes()
    svg = store_attachment(tmp_path, AttachmentPart(filename="x.svg", declared_type="image/svg+xml", data=b"<svg/>"))
    assert (svg.content_type, Path(svg.storage_path).suffix) == ("application/octet-stream", ".bin")
    exe = store_attachment(tmp_path, AttachmentPart(filename="x.jpg.exe", declared_type="image/jpeg", data=b"MZ\x90"))
    assert exe.content_type == "application/octet-stream"
    assert list((tmp_path / "attachments").rglob(".part-*")) == []
