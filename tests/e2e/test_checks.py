"""The checks the browser tests rely on can fail: a request to another host, an axe
violation, a missing browser under CI, and a camera video that does not show the QR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pointsbank.redeem import qr
from tests.e2e.helpers import axe_violations, blocking, browser_available, decode_qr, read_y4m_frame, write_y4m

pytestmark = pytest.mark.e2e


def test_a_request_to_another_host_is_refused_and_fails_the_check(e2e_server: Any, chromium: Any,
                                                                   phones: Any) -> None:
    page = phones.open(chromium)
    page.goto("/login")
    phones.guard.check()  # the app's own page, styles and scripts pass
    # the app's pages forbid other hosts in their Content-Security-Policy, which would stop the
    # request before the guard sees it; about:blank has none, so the guard is what refuses it
    page.goto("about:blank")
    page.set_content('<img src="http://cdn.example.invalid/logo.png" alt="x">')
    page.wait_for_load_state("load")
    with pytest.raises(AssertionError, match="cdn.example.invalid"):
        phones.guard.check()
    phones.guard.refused.clear()  # the teardown check must not fail this test for it


def test_axe_finds_a_serious_violation(e2e_server: Any, chromium: Any, phones: Any) -> None:
    page = phones.open(chromium)
    page.goto("/login")
    assert blocking(axe_violations(page)) == []
    page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")
    found = {v["id"] for v in blocking(axe_violations(page))}
    assert "label" in found  # a form field without a label is a critical violation


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(tmp_path: Path) -> None:
    missing = str(tmp_path / "chromium")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        browser_available(missing, ci="true")
    with pytest.raises(pytest.skip.Exception):
        browser_available(missing, ci="")


def test_the_camera_video_is_a_yuv4mpeg2_file_showing_the_qr(tmp_path: Path) -> None:
    text = "PB1.e2e-check-token"
    video = write_y4m(qr.render_png(text), tmp_path / "qr.y4m", frames=3)
    data = video.read_bytes()
    header = data.split(b"\n", 1)[0]
    assert header == b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420"
    assert len(data) == len(header) + 1 + 3 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
    frame = read_y4m_frame(video)
    assert frame.getpixel((0, 0)) == 235 and frame.getextrema() == (16, 235)  # white margin, black modules
    import io

    buffer = io.BytesIO()
    frame.save(buffer, format="PNG")
    assert decode_qr(buffer.getvalue()) == [text]
