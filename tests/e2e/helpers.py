"""Tools of the browser tests: the fake camera's video, the accessibility check, the guard
against requests to other hosts, and the page visits that check and photograph every page.

* :func:`write_y4m` turns a QR image (PNG bytes) into a short YUV4MPEG2 video that Chromium's
  fake camera plays in a loop (``--use-file-for-fake-video-capture``).
* :class:`HostGuard` is a route handler for a browser context: a request to any host but the
  app's own is aborted and remembered; :meth:`HostGuard.check` fails the test with the list.
* :class:`Visits` is what a test calls on each page it reaches: axe-core (served by the app,
  injected as a ``<script src>`` so the page's Content-Security-Policy stays on) must find no
  serious or critical violation, in both languages, and a full-page screenshot of each
  language goes to ``artifacts/e2e/<name>-<lang>.png``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
#: Debian's Chromium (``POINTSBANK_E2E_CHROMIUM`` names another build of it)
CHROMIUM = os.environ.get("POINTSBANK_E2E_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}
LANGUAGES = ("zh_CN", "en")
#: axe-core impacts that fail a page
BLOCKING_IMPACTS = ("serious", "critical")


# --- the browser ------------------------------------------------------------------------------

def browser_available(path: str = CHROMIUM, ci: str | None = None) -> None:
    """Return when Chromium is there; otherwise skip, or fail when ``CI`` is set."""
    if os.path.exists(path) and os.access(path, os.X_OK):
        return
    message = f"{path} is missing: run scripts/install-browser.sh (Debian's chromium and fonts-noto-cjk)"
    if ci if ci is not None else os.environ.get("CI"):
        pytest.fail(message + " — CI is set, so a missing browser fails the run", pytrace=False)
    pytest.skip(message)


# --- the fake camera ------------------------------------------------------------------------

def write_y4m(png: bytes, path: Path, *, width: int = 640, height: int = 480, frames: int = 5,
              margin: int = 20) -> Path:
    """A ``width``×``height`` YUV4MPEG2 (C420) video of ``frames`` identical frames: the image
    scaled (nearest neighbour, so modules stay sharp) to fit with ``margin`` pixels to spare,
    centred on white. Black stays black: Y=16, white Y=235 (studio range), chroma neutral."""
    if width % 2 or height % 2:
        raise ValueError("4:2:0 needs even dimensions")
    image = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 2 * margin
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.NEAREST)
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(image, ((width - size[0]) // 2, (height - size[1]) // 2))
    # full-range grey (0..255) to studio-range luma (16..235)
    luma = bytes(16 + (value * 219 + 127) // 255 for value in canvas.tobytes())
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    frame = b"FRAME\n" + luma + chroma + chroma
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420\n".encode("ascii"))
        for _ in range(frames):
            out.write(frame)
    return path


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in an image (zxing-cpp), to compare what two images carry."""
    import zxingcpp

    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def read_y4m_frame(path: Path) -> Image.Image:
    """The first frame's luma of a file written by :func:`write_y4m` (to check it decodes)."""
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    fields = {item[:1]: item[1:] for item in header.split()[1:]}
    width, height = int(fields[b"W"]), int(fields[b"H"])
    assert rest.startswith(b"FRAME\n"), "the first frame is missing"
    return Image.frombytes("L", (width, height), rest[6:6 + width * height])


# --- no request to another host -------------------------------------------------------------

class HostGuard:
    """``context.route("**/*", guard)``: only ``origin`` (scheme, host and port) is allowed."""

    def __init__(self, origin: str) -> None:
        self.allowed = urlsplit(origin)[:2]
        self.refused: list[str] = []

    def __call__(self, route: Any, request: Any) -> None:
        if urlsplit(request.url)[:2] == self.allowed:
            route.continue_()
        else:
            self.refused.append(f"{request.method} {request.url} (from {_frame_url(request)})")
            route.abort("blockedbyclient")

    def check(self) -> None:
        assert not self.refused, "pages requested other hosts than the app's own:\n" + "\n".join(self.refused)


def _frame_url(request: Any) -> str:
    try:
        return request.frame.url
    except Exception:  # noqa: BLE001 - a service worker's request has no frame
        return "?"


class PageErrors:
    """Uncaught JavaScript errors and Content-Security-Policy refusals seen by a page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: uncaught {error}"))
        page.on("console", self._console(page))
        return page

    def _console(self, page: Any) -> Any:
        def seen(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                self.errors.append(f"{page.url}: {message.text}")
        return seen

    def check(self) -> None:
        assert not self.errors, "the pages had script errors:\n" + "\n".join(self.errors)


# --- accessibility and screenshots --------------------------------------------------------

def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (the app's vendored copy, loaded like any of its scripts) on the page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/assets/vendor/axe.min.js")
    return page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ["violations"]});
        return results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
    }""")


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=1)


class Visits:
    """Every page a test reaches goes through :meth:`check`: axe and a screenshot in both
    languages. Problems are collected (the flow goes on) and :meth:`assert_clean` fails the test
    with all of them, so one run reports every page that needs work."""

    def __init__(self, base_url: str, directory: Path = ARTIFACTS) -> None:
        self.base_url = base_url
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Any, name: str, *, both_languages: bool = True) -> None:
        """Check the page as it is (in the language the session has: Chinese unless switched),
        then, if ``both_languages``, switch with the header's language links to the other
        language, check it there, and switch back. ``both_languages=False`` is for a page that
        a reload would change (a result shown once); its other language is checked elsewhere."""
        first = self._language(page)
        self._check_one(page, name, first)
        if both_languages:
            other = "en" if first == "zh_CN" else "zh_CN"
            self.switch_language(page, other)
            self._check_one(page, name, other)
            self.switch_language(page, first)

    def switch_language(self, page: Any, lang: str) -> None:
        """Click the language switch in the header, as a person would."""
        page.locator(f'nav.lang a[hreflang="{lang.replace("_", "-")}"]').click()
        page.wait_for_load_state("load")
        assert self._language(page) == lang, f"the language switch did not switch {page.url} to {lang}"

    def _language(self, page: Any) -> str:
        html_lang = page.evaluate("() => document.documentElement.lang")
        return "en" if html_lang.startswith("en") else "zh_CN"

    def _check_one(self, page: Any, name: str, lang: str) -> None:
        page.wait_for_load_state("load")
        self.pages.append(f"{name}-{lang}")
        page.screenshot(path=str(self.directory / f"{name}-{lang}.png"), full_page=True)
        found = blocking(axe_violations(page))
        if found:
            self.problems.append(f"axe on {name} ({lang}, {page.url}):\n{describe(found)}")

    def assert_clean(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)
