"""QR codes in a picture (a case code's QR on paper, photographed or as a screenshot). Pure CPU
work with no I/O: it can take a while on a large photo, so callers run it in a thread."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, JpegImagePlugin

_QR = zxingcpp.barcode_formats_from_str("QRCode,MicroQRCode")
_SCAN_SIDE = 4000  # longest side scanned: a QR that fills a tenth of it is still ~400 px
_JPEG = b"\xff\xd8\xff"


class NotAPicture(ValueError):
    """The bytes are not an image Pillow can read (or one too large to decode safely)."""


def _open(data: bytes) -> Image.Image:
    """The image, not decoded yet. A JPEG is opened by its own plugin: `Image.open` refuses one
    over twice MAX_IMAGE_PIXELS by its full size, though `draft` decodes it at 1/2 … 1/8 of
    that (a 108 MP phone photo: 27 MP); `qr_texts` checks what is decoded instead."""
    if data.startswith(_JPEG):
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


def qr_texts(data: bytes) -> list[str]:
    """The texts of the QR codes in an image (PNG, JPEG, GIF, WebP, BMP), in reading order."""
    try:
        with _open(data) as img:
            img.draft("L", (_SCAN_SIDE, _SCAN_SIDE))  # JPEG: decode at a smaller scale
            # what will be decoded (a JPEG at up to 1/8 of its sides) still over Pillow's
            # MAX_IMAGE_PIXELS (~89 MP): refused, not decoded into gigabytes of memory
            if img.width * img.height > (Image.MAX_IMAGE_PIXELS or 0) > 0:
                raise NotAPicture(f"{img.width}x{img.height} pixels")
            gray = img.convert("L")
    except NotAPicture:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise NotAPicture(f"{type(e).__name__}: {e}") from e
    if max(gray.size) > _SCAN_SIDE:
        gray.thumbnail((_SCAN_SIDE, _SCAN_SIDE))
    found = zxingcpp.read_barcodes(gray, formats=_QR)
    return [b.text for b in found if b.text]
