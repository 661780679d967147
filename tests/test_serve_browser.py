"""kerasdigits serve in a real browser: headless Chromium (Debian's) driven by Playwright.

A real uvicorn server on a free port serves the float ``mlkit`` export of a freshly trained
``fast_convnet``. The tests draw real MNIST test digits onto the page's canvas as pointer
strokes (the lit pixels, scaled up, traced row by row with the page's own pen), upload a PNG
photo, use a phone-sized viewport with touch input, and save the screenshot the docs show
(docs/_static/serve.png).

Chromium is looked for at ``$KERASDIGITS_CHROMIUM`` (default ``/usr/bin/chromium``: ``apt-get
install chromium``); Playwright's own browser download is not used. Without Chromium or
Playwright the tests are skipped, unless ``KERASDIGITS_REQUIRE_BROWSER=1`` (CI), where that is a
failure.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _serve_fixtures import ServedModels, photo_png, served_models
from kerasdigits.serve import RunningServer, start_server

__all__ = ["served_models"]  # the shared fixture, imported for pytest to find


ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "_static" / "serve.png"
CHROMIUM = Path(os.environ.get("KERASDIGITS_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("KERASDIGITS_REQUIRE_BROWSER") == "1"

#: How many test digits are drawn, and how many the page must read right.
DRAWN = 25
MIN_CORRECT = 21
#: Pixels above this are traced when drawing a digit.
THRESHOLD = 128


def _missing() -> str | None:
    """Why the tests cannot drive a browser here, or ``None``."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install playwright"
    if not CHROMIUM.is_file():
        return (f"no Chromium at {CHROMIUM}: apt-get install chromium, or set "
                "KERASDIGITS_CHROMIUM to a Chromium or Chrome executable")
    return None


MISSING = _missing()
# Skipped at collection (before the model is trained) unless CI requires them.
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(MISSING is not None and not REQUIRE_BROWSER,
                                 reason=MISSING or "")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        pytest.fail(f"{MISSING} (KERASDIGITS_REQUIRE_BROWSER=1: the browser tests must run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(served_models: ServedModels) -> Iterator[RunningServer]:
    with start_server(served_models.float_tflite, port=0) as running:
        yield running


class Page:
    """The page in one browser tab, with what it requested and any script errors."""

    def __init__(self, browser: Any, server: RunningServer, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text)
                     if message.type == "error" else None)
        self.page.goto(server.url)
        self.page.wait_for_selector("body[data-model=ready]")
        self.origin = server.url

    def close(self) -> None:
        self.context.close()

    def pad_box(self) -> dict[str, float]:
        box: dict[str, float] = self.page.locator("#pad").bounding_box()
        return box

    def strokes(self, image: np.ndarray) -> list[list[tuple[float, float]]]:
        """The lit pixels of a 28x28 image as pen strokes, in page coordinates.

        Each row's runs of lit pixels are traced, and a run is joined to an overlapping run on
        the next row, back and forth (a boustrophedon), so that a stroke covers a stretch of
        ink as a hand would, not a single row.
        """
        box = self.pad_box()
        scale = box["width"] / 28
        runs = []
        for y, row in enumerate(image > THRESHOLD):
            x = 0
            while x < 28:
                if row[x]:
                    start = x
                    while x < 28 and row[x]:
                        x += 1
                    runs.append((y, start, x - 1))
                else:
                    x += 1
        paths = []
        while runs:
            y, left, right = runs.pop(0)
            path = [(left, y), (right, y)]
            at_right = True
            while True:
                below = next((r for r in runs if r[0] == y + 1 and r[1] <= right
                              and r[2] >= left), None)
                if below is None:
                    break
                runs.remove(below)
                y, left, right = below
                path += [(right, y), (left, y)] if at_right else [(left, y), (right, y)]
                at_right = not at_right
            paths.append([(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale)
                          for x, y in path])
        return paths

    def draw_with_mouse(self, image: np.ndarray) -> int:
        mouse = self.page.mouse
        paths = self.strokes(image)
        for path in paths:
            mouse.move(*path[0])
            mouse.down()
            for x, y in path[1:]:
                mouse.move(x, y)
            mouse.up()
        return len(paths)

    def draw_with_finger(self, image: np.ndarray) -> int:
        cdp = self.context.new_cdp_session(self.page)
        paths = self.strokes(image)
        for path in paths:
            for i, (x, y) in enumerate(path):
                kind = "touchStart" if i == 0 else "touchMove"
                cdp.send("Input.dispatchTouchEvent",
                         {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()
        return len(paths)

    def answer_for(self, tag: str) -> str:
        """Wait for the answer to the drawing (or photo) ``tag``; return the label shown."""
        self.page.wait_for_selector(f'#result[data-state="done"][data-tag="{tag}"]',
                                    timeout=20_000)
        return str(self.page.inner_text("#top-label")).strip()

    def clear(self) -> None:
        self.page.click("#clear")
        self.page.wait_for_selector('#result[data-state="empty"]')

    def preview_pixels(self) -> np.ndarray:
        data = self.page.evaluate("""() => Array.from(document.getElementById("preview")
            .getContext("2d").getImageData(0, 0, 28, 28).data)""")
        return np.array(data, dtype=np.uint8).reshape(28, 28, 4)[..., 0]

    def check_clean(self) -> None:
        """Nothing was fetched from elsewhere, and no script failed."""
        outside = [url for url in self.requests
                   if not url.startswith((self.origin, f"blob:{self.origin}", "data:"))]
        assert outside == []
        assert self.errors == []


@pytest.fixture
def desktop(browser: Any, server: RunningServer) -> Iterator[Page]:
    page = Page(browser, server, viewport={"width": 1100, "height": 760})
    yield page
    page.close()


def test_drawn_mnist_test_digits_are_read_right(desktop: Page, served_models: ServedModels,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    shown = []
    for image in served_models.images[:DRAWN]:
        desktop.clear()
        strokes = desktop.draw_with_mouse(image)
        shown.append(desktop.answer_for(f"strokes:{strokes}"))
    truth = [str(label) for label in served_models.labels[:DRAWN]]
    correct = sum(s == t for s, t in zip(shown, truth, strict=True))
    with capsys.disabled():
        print(f"\ndrawn MNIST test digits read right: {correct}/{DRAWN} "
              f"(shown {''.join(shown)}, true {''.join(truth)})")
    assert correct >= MIN_CORRECT, (shown, truth)
    desktop.check_clean()


def test_the_preview_is_the_28x28_image_the_model_saw(desktop: Page,
                                                      served_models: ServedModels) -> None:
    with desktop.page.expect_response("**/api/predict") as response_info:
        strokes = desktop.draw_with_mouse(served_models.images[0])
        desktop.answer_for(f"strokes:{strokes}")
    answer = response_info.value.json()
    seen = desktop.preview_pixels()
    assert seen.max() == 255 and seen.min() == 0
    np.testing.assert_array_equal(seen, np.array(answer["image"], dtype=np.uint8))
    bars = desktop.page.locator("#bars li")
    assert bars.count() == 10
    assert desktop.page.locator("#bars li.best .name").inner_text() == answer["label"]
    timing = desktop.page.inner_text("#timing")
    assert timing.startswith("LiteRT ran digits.tflite in ")
    info = desktop.page.inner_text("#model-info")
    assert "image: uint8 [1, 28, 28, 3]" in info and "none (float32)" in info
    desktop.check_clean()


def test_undo_and_clear(desktop: Page, served_models: ServedModels) -> None:
    strokes = desktop.draw_with_mouse(served_models.images[2])
    first = desktop.answer_for(f"strokes:{strokes}")
    assert first == str(served_models.labels[2])
    seen = desktop.preview_pixels()
    box = desktop.pad_box()  # a scribble across the bottom changes what the model sees...
    desktop.page.mouse.move(box["x"] + 10, box["y"] + box["height"] - 15)
    desktop.page.mouse.down()
    desktop.page.mouse.move(box["x"] + box["width"] - 10, box["y"] + box["height"] - 15)
    desktop.page.mouse.up()
    desktop.answer_for(f"strokes:{strokes + 1}")
    assert not np.array_equal(desktop.preview_pixels(), seen)
    desktop.page.click("#undo")  # ...and undo takes it back
    assert desktop.answer_for(f"strokes:{strokes}") == first
    np.testing.assert_array_equal(desktop.preview_pixels(), seen)
    desktop.clear()
    assert desktop.page.inner_text("#top-label") == "?"
    assert desktop.page.locator("#bars li").count() == 0
    assert desktop.preview_pixels().max() == 0
    desktop.check_clean()


def test_a_png_photo_upload(desktop: Page, served_models: ServedModels,
                            tmp_path: Path) -> None:
    photo = tmp_path / "digit.png"
    photo.write_bytes(photo_png(served_models.images[3], size=200))
    desktop.page.set_input_files("#file-input", str(photo))
    label = desktop.answer_for("photo:digit.png")
    assert label == str(served_models.labels[3])
    assert desktop.page.locator("#photo").is_visible()
    assert desktop.preview_pixels().max() == 255
    desktop.check_clean()


def test_a_phone_draws_with_a_finger(browser: Any, server: RunningServer,
                                     served_models: ServedModels) -> None:
    phone = Page(browser, server, viewport={"width": 390, "height": 844},
                 device_scale_factor=3, is_mobile=True, has_touch=True)
    try:
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways
        box = phone.pad_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["width"] >= 300  # the pad takes the phone's width
        image = served_models.images[4]
        strokes = phone.draw_with_finger(image)
        assert phone.answer_for(f"strokes:{strokes}") == str(served_models.labels[4])
        assert phone.page.evaluate("window.scrollY") == 0  # drawing did not scroll the page
        answer = phone.page.locator("#top-label").bounding_box()
        assert answer["y"] + answer["height"] <= 844  # the answer shows under the pad
        phone.check_clean()
    finally:
        phone.close()


def test_screenshot_for_the_docs(browser: Any, server: RunningServer,
                                 served_models: ServedModels) -> None:
    from PIL import Image

    page = Page(browser, server, viewport={"width": 1000, "height": 620})
    try:
        strokes = page.draw_with_mouse(served_models.images[0])
        assert page.answer_for(f"strokes:{strokes}") == str(served_models.labels[0])
        png = page.page.screenshot(full_page=True)
    finally:
        page.close()
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    assert shot.width == 1000
    # A palette of 64 colours keeps the file small for the repository.
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=64).save(SCREENSHOT, optimize=True)
    assert SCREENSHOT.stat().st_size < 150_000
