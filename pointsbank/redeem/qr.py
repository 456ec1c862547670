"""QR images of voucher tokens, made to be read off one phone's screen by another's camera.

Invariants:

* Error correction level M (15 % of codewords recoverable): enough for glare and a scratched
  screen while keeping modules large; level H would make a ~180-character token a denser
  version that cheap cameras struggle with.
* A quiet zone of at least 4 modules (the QR specification's minimum); asking for less is a
  ``ValueError``, because a scanner that cannot find the edge reads nothing.
* Black modules on a white background, never inverted or coloured; PNGs are 1-bit.
* The same text always gives the same bytes, so images can be cached and compared.

Example::

    png = render_png(tokens.sign(key, claims))            # b"\\x89PNG..." 1-bit, 10 px per module
    svg = render_svg(tokens.sign(key, claims))            # b"<?xml ...><svg ... viewBox=...>"

The SVG is sized ``100%`` with a ``viewBox`` in module units, so the voucher page can show it
full screen at any resolution; ``shape-rendering="crispEdges"`` stops browsers from drawing
hairline seams between adjacent modules.
"""

from __future__ import annotations

import io

import qrcode
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage, SvgPathImage

__all__ = ["render_png", "render_svg", "MIN_BORDER"]

#: quiet zone, in modules, that the QR specification requires around the symbol
MIN_BORDER = 4
# qrcode's SVG unit is box_size / 10 mm, so 10 makes one module one viewBox unit.
_SVG_BOX_SIZE = 10


class _FullScreenSvg(SvgPathFillImage):
    """One ``<path>`` on a white ``<rect>``, scaled by its container rather than fixed in mm."""

    QR_PATH_STYLE = {**SvgPathImage.QR_PATH_STYLE, "shape-rendering": "crispEdges"}

    def _svg(self, viewBox=None, **kwargs):  # noqa: N803 - qrcode's own parameter name
        svg = super()._svg(viewBox=viewBox, **kwargs)
        svg.set("width", "100%")
        svg.set("height", "100%")
        return svg


def _qr(text: str, *, box_size: int, border: int, image_factory: type) -> qrcode.QRCode:
    if not isinstance(text, str) or not text:
        raise ValueError("a QR code needs some text")
    if type(border) is not int or border < MIN_BORDER:
        raise ValueError(f"the quiet zone must be at least {MIN_BORDER} modules")
    if type(box_size) is not int or box_size < 1:
        raise ValueError("box_size is a positive number of pixels per module")
    code = qrcode.QRCode(
        version=None,  # the smallest version that holds the text
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=image_factory,
    )
    code.add_data(text)
    code.make(fit=True)
    return code


def render_png(text: str, *, box_size: int = 10, border: int = MIN_BORDER) -> bytes:
    """A 1-bit PNG of ``text``: ``box_size`` pixels per module, ``border`` modules of white."""
    code = _qr(text, box_size=box_size, border=border, image_factory=PilImage)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, kind="PNG")
    return out.getvalue()


def render_svg(text: str, *, border: int = MIN_BORDER) -> bytes:
    """A standalone SVG document of ``text`` (UTF-8 bytes), ``viewBox`` in module units."""
    code = _qr(text, box_size=_SVG_BOX_SIZE, border=border, image_factory=_FullScreenSvg)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()
