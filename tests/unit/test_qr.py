"""QR images: decodable by a real decoder (zxing-cpp), level M, 4-module quiet zone, black on
white, deterministic; the SVG draws exactly the same modules as the PNG."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import PIL.Image
import PIL.ImageDraw
import pytest
import zxingcpp

from pointsbank.redeem import qr, shortcode, tokens

SVG_NS = "{http://www.w3.org/2000/svg}"
# qrcode's SvgPathImage writes one closed square per dark module: "Mx,yHx+1Vy+1Hxz"
_SQUARE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z")


@pytest.fixture(scope="module")
def token() -> str:
    key = tokens.generate_keypair()
    claims = tokens.Claims(voucher_id="oVSzdlnloiNz5ImtC7l86Q", community_id=12, points=500,
                           expires_at=1767225600)
    return tokens.sign(key, claims)


@pytest.fixture(scope="module")
def long_token() -> str:
    key = tokens.generate_keypair()
    claims = tokens.Claims(voucher_id="v" * tokens.MAX_VOUCHER_ID_LENGTH, community_id=2**31,
                           points=10**9, expires_at=2**40)
    return tokens.sign(key, claims)


def _decode(image: PIL.Image.Image) -> list:
    return zxingcpp.read_barcodes(image)


def _open_png(png: bytes) -> PIL.Image.Image:
    return PIL.Image.open(io.BytesIO(png))


def _svg_root(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)


def _rasterize_svg(svg: bytes, scale: int = 10) -> PIL.Image.Image:
    """Draw the SVG's white background and its one path of module squares, nothing else."""
    root = _svg_root(svg)
    x0, y0, width, height = (int(n) for n in root.get("viewBox").split())
    assert (x0, y0) == (0, 0) and width == height
    image = PIL.Image.new("L", (width * scale, height * scale), 255)
    draw = PIL.ImageDraw.Draw(image)
    path = root.find(f"{SVG_NS}path").get("d")
    squares = _SQUARE.findall(path)
    assert _SQUARE.sub("", path) == "", "path has commands this rasterizer does not know"
    for x, y, x1, y1, x2 in (tuple(map(int, s)) for s in squares):
        assert (x1 - x, y1 - y, x2) == (1, 1, x)
        draw.rectangle([x * scale, y * scale, (x + 1) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


def test_the_png_decodes_to_exactly_the_token(token):
    results = _decode(_open_png(qr.render_png(token)))
    assert [r.text for r in results] == [token]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


def test_the_png_uses_error_correction_level_m(token):
    assert _decode(_open_png(qr.render_png(token)))[0].ec_level == "M"


def test_a_realistic_token_fits_qr_version_9(token):
    box_size, border = 10, 4
    image = _open_png(qr.render_png(token, box_size=box_size, border=border))
    modules = image.width // box_size - 2 * border
    assert modules == 17 + 4 * 9  # 53 modules: big enough squares for a cheap camera


def test_the_png_is_one_bit_black_on_white(token):
    image = _open_png(qr.render_png(token))
    assert image.mode in ("1", "L")
    assert set(image.convert("L").tobytes()) == {0, 255}


@pytest.mark.parametrize("border", [4, 6])
def test_the_quiet_zone_is_white_for_border_modules(token, border):
    box_size = 10
    image = _open_png(qr.render_png(token, box_size=box_size, border=border)).convert("L")
    margin = border * box_size
    width, height = image.size
    assert width == height and width % box_size == 0
    inner = image.crop((margin, margin, width - margin, height - margin))
    for box in ((0, 0, width, margin), (0, height - margin, width, height),
                (0, 0, margin, height), (width - margin, 0, width, height)):
        assert set(image.crop(box).tobytes()) == {255}
    assert 0 in set(inner.tobytes())
    # the symbol starts right at the quiet zone: the finder pattern's corner module is dark
    assert image.getpixel((margin, margin)) == 0


def test_a_quiet_zone_thinner_than_four_modules_is_refused(token):
    with pytest.raises(ValueError):
        qr.render_png(token, border=3)
    with pytest.raises(ValueError):
        qr.render_svg(token, border=0)


@pytest.mark.parametrize("bad", ["", None])
def test_there_is_no_qr_code_of_nothing(bad):
    with pytest.raises(ValueError):
        qr.render_png(bad)


def test_png_images_are_deterministic(token):
    assert qr.render_png(token) == qr.render_png(token)
    assert qr.render_png(token) != qr.render_png(token + "x")


def test_a_long_token_still_decodes(long_token):
    assert len(long_token) > 230
    assert [r.text for r in _decode(_open_png(qr.render_png(long_token)))] == [long_token]


def test_a_long_token_still_decodes_at_small_module_size(long_token):
    assert [r.text for r in _decode(_open_png(qr.render_png(long_token, box_size=4)))] == [long_token]


def test_a_short_code_decodes_too():
    code = shortcode.generate()
    assert [r.text for r in _decode(_open_png(qr.render_png(code)))] == [code]


def test_the_svg_is_a_standalone_document_that_scales_to_the_screen(token):
    svg = qr.render_svg(token)
    assert svg.startswith(b"<?xml")
    root = _svg_root(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox"))
    assert (root.get("width"), root.get("height")) == ("100%", "100%")
    background, path = list(root)
    assert background.tag == f"{SVG_NS}rect" and background.get("fill") == "white"
    assert (background.get("width"), background.get("height")) == ("100%", "100%")
    assert path.tag == f"{SVG_NS}path" and path.get("fill") == "#000000" and path.get("d")
    assert path.get("shape-rendering") == "crispEdges"


def test_the_svg_viewbox_includes_the_quiet_zone(token):
    root = _svg_root(qr.render_svg(token, border=6))
    size = int(root.get("viewBox").split()[2])
    xs = [int(x) for x, *_ in _SQUARE.findall(root.find(f"{SVG_NS}path").get("d"))]
    assert min(xs) == 6 and max(xs) == size - 6 - 1


def test_the_svg_decodes_to_exactly_the_token(token):
    assert [r.text for r in _decode(_rasterize_svg(qr.render_svg(token)))] == [token]


def test_the_svg_draws_the_same_modules_as_the_png(token):
    png = _open_png(qr.render_png(token, box_size=10)).convert("L")
    svg = _rasterize_svg(qr.render_svg(token), scale=10)
    assert png.size == svg.size
    assert png.tobytes() == svg.tobytes()


def test_a_long_token_svg_decodes(long_token):
    assert [r.text for r in _decode(_rasterize_svg(qr.render_svg(long_token), scale=6))] == [long_token]


def test_svg_images_are_deterministic(token):
    assert qr.render_svg(token) == qr.render_svg(token)
    assert qr.render_svg(token) != qr.render_svg(token + "x")
