"""Photos from e-mail: the EXIF location is read, and the stored copy carries no metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from email_channel.images import NotAnImage, clean_image


def gps_jpeg(
    lat: tuple[float, float, float] = (44.0, 37.0, 30.0), lon: tuple[float, float, float] = (17.0, 22.0, 12.0)
) -> bytes:
    """Make a small JPEG with EXIF GPS (Kotor Varoš), a camera model and an orientation flag."""
    image = Image.new("RGB", (64, 32), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "Telefon X"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° on display
    exif.get_ifd(0x8825).update({1: "N", 2: lat, 3: "E", 4: lon})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_gps_read_then_stripped() -> None:
    """Latitude/longitude come out in decimal degrees; the cleaned JPEG has no EXIF at all."""
    cleaned = clean_image(gps_jpeg())
    assert cleaned.latitude == pytest.approx(44.625, abs=1e-6)
    assert cleaned.longitude == pytest.approx(17.37, abs=1e-6)
    assert cleaned.content_type == "image/jpeg"
    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        assert image.size == (32, 64)  # the orientation flag became real pixels


def test_no_gps_no_location() -> None:
    """A PNG without EXIF has no location and stays a PNG."""
    out = io.BytesIO()
    Image.new("RGBA", (4, 4)).save(out, "PNG")
    cleaned = clean_image(out.getvalue())
    assert (cleaned.latitude, cleaned.longitude, cleaned.content_type) == (None, None, "image/png")


@pytest.mark.parametrize("data", [b"", b"GIF89a-not-really", b"<svg onload=alert(1)></svg>", b"\xff\xd8\xff\xe0broken"])
def test_not_images_refused(data: bytes) -> None:
    """Truncated, fake or SVG 'images' are not images."""
    with pytest.raises(NotAnImage):
        clean_image(data)


def test_decompression_bomb_refused() -> None:
    """A picture claiming 100 megapixels is refused before decoding."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")
    with pytest.raises(NotAnImage):
        clean_image(out.getvalue())
