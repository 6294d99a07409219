"""Attachments on disk: content-addressed names under ``var/attachments``, written atomically.

The citizen's file name is only ever a label in the database; the disk name is the SHA-256 of the
stored bytes plus a fixed extension, so ``../``, ``x.jpg.exe`` or a name with NULs cannot reach the
file system. Photos are stored only as their metadata-free re-encoding.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from core.services.mail import StoredAttachment
from email_channel.images import NotAnImage, clean_image
from email_channel.parse import AttachmentPart

IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")
# Types kept as declared; everything else is stored and served as an opaque download.
KEPT_TYPES = frozenset({"application/pdf", "text/plain"})


def attachments_dir(var_dir: Path) -> Path:
    """Return the attachments root."""
    return var_dir / "attachments"


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, then rename: never a truncated file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_attachment(var_dir: Path, part: AttachmentPart) -> StoredAttachment:
    """Store one attachment (photos cleaned of EXIF) and describe it for the database."""
    data = part.data
    content_type = part.declared_type if part.declared_type in KEPT_TYPES else "application/octet-stream"
    extension = "bin"
    latitude = longitude = None
    if part.declared_type.startswith("image/") or data.startswith(IMAGE_MAGIC):
        try:
            image = clean_image(data)
        except NotAnImage:
            pass  # kept as an opaque file: staff can still download it, nothing renders it inline
        else:
            data, content_type, extension = image.data, image.content_type, image.extension
            latitude, longitude = image.latitude, image.longitude
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / f"{digest}.{extension}"
    target = attachments_dir(var_dir) / relative
    if not target.is_file() or target.stat().st_size != len(data):
        _write_atomic(target, data)
    return StoredAttachment(
        filename=part.filename,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        storage_path=str(relative),
        latitude=latitude,
        longitude=longitude,
    )
