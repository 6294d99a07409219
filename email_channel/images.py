"""Photos from citizens: read the EXIF location, then keep only a re-encoded copy without any metadata.

The only Pillow import. Re-encoding (rather than cutting EXIF segments) also turns the rotation flag
into real pixels, and a file that merely claims to be an image is not kept as one.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # a 40-megapixel photo; bigger is a decompression bomb, not a complaint
GPS_IFD = 0x8825
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
           "GIF": ("image/png", "png"), "BMP": ("image/png", "png"), "TIFF": ("image/jpeg", "jpg")}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CleanImage:
    """A photo with its metadata removed, and the location its EXIF carried (if any)."""

    data: bytes
    content_type: str
    extension: str
    latitude: float | None
    longitude: float | None


class NotAnImage(ValueError):
    """The bytes are not an image we accept."""


def _degrees(value: object, ref: object) -> float | None:
    """Convert an EXIF (degrees, minutes, seconds) triple and its N/S/E/W reference to decimal degrees."""
    try:
        d, m, s = (float(x) for x in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    if str(ref).strip().upper() in ("S", "W"):
        result = -result
    return round(result, 6) if -180 <= result <= 180 else None


def read_location(image: Image.Image) -> tuple[float | None, float | None]:
    """Return (latitude, longitude) from EXIF GPS tags, or (None, None)."""
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
    except (ValueError, TypeError, KeyError, SyntaxError, OSError):
        return None, None
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat, lon = _degrees(gps.get(2), gps.get(1, "N")), _degrees(gps.get(4), gps.get(3, "E"))
    if lat is None or lon is None or abs(lat) > 90:
        return None, None
    return lat, lon


def clean_image(data: bytes) -> CleanImage:
    """Read the location, then re-encode the picture without EXIF, XMP, ICC text or comments."""
    with warnings.catch_warnings():
        # DecompressionBombWarning is a ValueError for us: the size check below refuses it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                if fmt not in FORMATS:
                    raise NotAnImage(f"unsupported image format {fmt!r}")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"{width}x{height} pixels is too large")
                lat, lon = read_location(image)
                content_type, extension = FORMATS[fmt]
                image.seek(0)
                pixels = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if extension == "jpg":
                    pixels.convert("RGB").save(out, "JPEG", quality=88)
                elif extension == "webp":
                    pixels.save(out, "WEBP", quality=88)
                else:
                    mode = "RGBA" if pixels.mode in ("RGBA", "LA", "P") else "RGB"
                    pixels.convert(mode).save(out, "PNG")
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise NotAnImage(str(exc)[:200]) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            if isinstance(exc, NotAnImage):
                raise
            raise NotAnImage(f"{type(exc).__name__}: {exc}"[:200]) from exc
    return CleanImage(data=out.getvalue(), content_type=content_type, extension=extension, latitude=lat, longitude=lon)
