"""Reading picture files: kerasdigits.transforms.read_picture and mnist_from_file.

Every picture is written with Pillow into ``tmp_path``, except the decompression bombs, which
are written row by row as 1-bit PNGs so that making them costs neither time nor memory.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import kerasdigits.transforms
from kerasdigits import KerasDigitsError
from kerasdigits.transforms import ImageError, mnist_from_file, read_picture, to_mnist
from kerasdigits.transforms._pictures import MAX_PIXELS

Image = pytest.importorskip("PIL.Image")


def _save(array: np.ndarray, path: Path, **kwargs: object) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _digit_on_paper(height: int = 60, width: int = 40) -> np.ndarray:
    """Dark grey paper with a black vertical stroke: a "1" (gray, uint8)."""
    page = np.full((height, width), 230, dtype=np.uint8)
    page[10 : height - 10, width // 2 - 3 : width // 2 + 3] = 20
    return page


def _png_1bit(path: Path, width: int, height: int) -> Path:
    """A valid all-black 1-bit PNG, compressed one row at a time (a few kB for any size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    deflate = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed pixels
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


# --------------------------------------------------------------------------------------------
# Modes


def test_gray_and_rgb_pictures_come_back_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (30, 20), dtype=np.uint8)
    rgb = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    out = read_picture(_save(gray, tmp_path / "gray.png"))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, gray)
    np.testing.assert_array_equal(read_picture(str(_save(rgb, tmp_path / "rgb.png"))), rgb)
    assert out.flags.writeable and out.flags.c_contiguous


def test_one_bit_picture_is_gray_0_or_255(tmp_path: Path) -> None:
    bits = np.zeros((8, 8), dtype=bool)
    bits[2:6, 3] = True
    out = read_picture(_save(bits, tmp_path / "bits.png"))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, bits.astype(np.uint8) * 255)


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)  # 0, 257, ..., 65535
    path = _save(values, tmp_path / "deep.png")
    with Image.open(path) as img:
        assert img.mode == "I;16"
    out = read_picture(path)
    assert (out.shape, out.dtype) == ((16, 16), np.uint8)
    np.testing.assert_array_equal(out, np.arange(256, dtype=np.uint8).reshape(16, 16))


def test_16_bit_png_keeps_the_ordering(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 65536, (40, 30), dtype=np.uint16)
    values[0, 0], values[0, 1] = 0, 65535
    out = read_picture(_save(values, tmp_path / "deep.png"))
    assert (int(out.min()), int(out.max())) == (0, 255)
    order = np.argsort(values, axis=None, kind="stable")
    assert np.all(np.diff(out.reshape(-1)[order].astype(int)) >= 0)
    np.testing.assert_array_equal(out, np.rint(values / 257.0).astype(np.uint8))


def test_32_bit_integer_tiff_in_the_16_bit_range_is_scaled(tmp_path: Path) -> None:
    values = (np.arange(256, dtype=np.int32) * 257).reshape(16, 16)
    path = _save(values, tmp_path / "deep.tiff")
    with Image.open(path) as img:
        assert img.mode == "I"
    np.testing.assert_array_equal(read_picture(path),
                                  np.arange(256, dtype=np.uint8).reshape(16, 16))


def test_float_tiff_is_scaled(tmp_path: Path) -> None:
    unit = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    np.testing.assert_array_equal(read_picture(_save(unit, tmp_path / "unit.tiff")),
                                  np.rint(unit * 255).astype(np.uint8))
    wide = unit * 1000 - 200  # any other range is stretched to 0..255
    np.testing.assert_array_equal(read_picture(_save(wide, tmp_path / "wide.tiff")),
                                  np.rint(unit * 255).astype(np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_nan_or_infinity_is_refused(tmp_path: Path, bad: float) -> None:
    unit = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    unit[3, 4] = bad
    path = _save(unit, tmp_path / "bad.tiff")
    with Image.open(path) as img:
        assert img.mode == "F"
    for read in (read_picture, mnist_from_file):
        with pytest.raises(ImageError, match="NaN or infinite") as e:
            read(path)
        assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)


def test_float_tiff_with_nan_is_refused_after_shrinking_too(tmp_path: Path) -> None:
    unit = np.full((300, 200), 0.9, dtype=np.float32)
    unit[100:200, 90:110] = 0.1
    unit[7, 7] = np.nan
    path = _save(unit, tmp_path / "bad.tiff")
    with pytest.raises(ImageError, match=r"bad\.tiff: float picture with NaN"):
        mnist_from_file(path, max_side=50)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[:, :2] = (255, 0, 0, 0)  # transparent red: white
    rgba[:, 2:4] = (0, 0, 0, 255)  # opaque black
    rgba[:, 4:] = (0, 0, 255, 128)  # half-transparent blue
    out = read_picture(_save(rgba, tmp_path / "rgba.png"))
    assert (out.shape, out.dtype) == ((4, 6, 3), np.uint8)
    np.testing.assert_array_equal(out[:, :2], 255)
    np.testing.assert_array_equal(out[:, 2:4], 0)
    np.testing.assert_array_equal(out[0, 4], (127, 127, 255))


def test_gray_with_alpha_is_composited_on_white(tmp_path: Path) -> None:
    la = np.zeros((4, 4, 2), dtype=np.uint8)
    la[:, :2, 1] = 255  # opaque black on the left, transparent black on the right
    path = tmp_path / "la.png"
    Image.fromarray(la, mode="LA").save(path)
    out = read_picture(path)
    assert (out.shape, out.dtype) == ((4, 4), np.uint8)
    np.testing.assert_array_equal(out, [[0, 0, 255, 255]] * 4)


def test_palette_picture_is_converted_to_rgb(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    img = Image.fromarray(indices, mode="P")
    img.putpalette([10, 20, 30, 200, 100, 0, 0, 0, 255] + [0] * (253 * 3))
    img.save(tmp_path / "palette.png")
    out = read_picture(tmp_path / "palette.png")
    np.testing.assert_array_equal(out, [[(10, 20, 30), (200, 100, 0)],
                                        [(0, 0, 255), (200, 100, 0)]])


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    indices = np.array([[0, 1]], dtype=np.uint8)
    img = Image.fromarray(indices, mode="P")
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    img.save(tmp_path / "palette.png", transparency=1)  # index 1 (red) is transparent
    np.testing.assert_array_equal(read_picture(tmp_path / "palette.png"),
                                  [[(0, 0, 0), (255, 255, 255)]])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.full((40, 80, 3), 255, dtype=np.uint8)
    stored[:20, :40] = 0  # a black block in the top-left corner, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    out = read_picture(path)
    assert out.shape == (80, 40, 3)
    expected = np.rot90(stored, k=-1)  # clockwise: the block ends up top-right
    assert np.abs(out.astype(int) - expected).max() < 40  # JPEG is lossy
    assert out[:40, 20:].mean() < 20 and out[:40, :20].mean() > 235


def test_gif_gives_its_first_frame(tmp_path: Path) -> None:
    first = np.full((20, 20), 255, dtype=np.uint8)
    first[5:15, 8:12] = 0
    second = np.zeros((20, 20), dtype=np.uint8)
    frames = [Image.fromarray(a).convert("P") for a in (first, second)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as img:
        assert img.n_frames == 2
    out = read_picture(path)
    assert out.shape == (20, 20, 3)
    np.testing.assert_array_equal(out[..., 0], first)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (8, 6), (0, 0, 0, 0)).save(path)  # no ink: white
    out = read_picture(path)
    assert out.shape == (6, 8, 3)
    assert out.min() > 245


# --------------------------------------------------------------------------------------------
# Careless and hostile files


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (10_000, 10_000),
                                               (10_000, 5_000)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, width: int,
                                                       height: int) -> None:
    # 400 and 100 megapixels are beyond Pillow's own limits (an error and a warning); 50
    # megapixels only beyond ours. The files are a few kB; decoding them would take gigabytes.
    path = _png_1bit(tmp_path / "bomb.png", width, height)
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageError) as e:
        read_picture(path)
    assert str(e.value) == (
        f"{path}: picture too large: {width * height:,} pixels, more than the "
        f"{MAX_PIXELS:,} allowed (a decompression bomb?)"
    )
    with pytest.raises(ImageError, match="picture too large"):
        mnist_from_file(path)


def test_max_pixels_argument(tmp_path: Path) -> None:
    path = _save(_digit_on_paper(60, 40), tmp_path / "digit.png")
    with pytest.raises(ImageError, match=r"2,400 pixels, more than the 2,399 allowed"):
        read_picture(path, max_pixels=2399)
    assert read_picture(path, max_pixels=2400).shape == (60, 40)
    with pytest.raises(ValueError, match="max_pixels must be a positive integer, got 0"):
        read_picture(path, max_pixels=0)


def test_truncated_png(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = _save(noise, tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageError, match="truncated or corrupt picture") as e:
        read_picture(path)
    assert str(e.value).startswith(f"{path}: ")
    assert "\n" not in str(e.value)


def test_text_file_is_not_a_picture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("7\n", encoding="utf-8")
    with pytest.raises(ImageError) as e:
        read_picture(path)
    assert str(e.value) == (f"{path}: not a picture Pillow can read (PNG, JPEG, GIF, BMP, "
                            "TIFF, WebP, ...)")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as e:
        read_picture(path)
    assert str(e.value) == f"{path}: empty file, not a picture"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as e:
        read_picture(tmp_path / "nope.png")
    assert str(e.value) == f"{tmp_path / 'nope.png'}: no such file"
    with pytest.raises(ImageError) as e:
        read_picture(tmp_path)
    assert str(e.value) == f"{tmp_path}: a folder, not a picture"


def test_image_error_is_a_value_error_and_a_kerasdigits_error() -> None:
    assert issubclass(ImageError, ValueError)
    assert issubclass(ImageError, KerasDigitsError)


def test_without_pillow_the_error_names_the_extra(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(_digit_on_paper(), tmp_path / "digit.png")
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    with pytest.raises(ImportError) as e:
        read_picture(path)
    assert isinstance(e.value, KerasDigitsError)
    assert 'pip install "kerasdigits[images]"' in str(e.value)
    assert "Pillow" in str(e.value)


def test_importing_the_transforms_does_not_import_pillow() -> None:
    code = "import sys, kerasdigits.transforms\nassert 'PIL' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_exported() -> None:
    for name in ("ImageError", "mnist_from_file", "read_picture"):
        assert name in kerasdigits.transforms.__all__
        assert getattr(kerasdigits.transforms, name) is not None


# --------------------------------------------------------------------------------------------
# mnist_from_file


def test_mnist_from_file_matches_to_mnist(tmp_path: Path) -> None:
    page = np.stack([_digit_on_paper()] * 3, axis=-1)
    path = _save(page, tmp_path / "digit.jpg", quality=95)
    digit = mnist_from_file(path)
    assert (digit.shape, digit.dtype) == ((28, 28), np.uint8)
    np.testing.assert_array_equal(digit, to_mnist(read_picture(path)))
    np.testing.assert_array_equal(mnist_from_file(str(path), invert=True), digit)


def test_mnist_from_file_on_a_blank_picture_names_the_file(tmp_path: Path) -> None:
    path = _save(np.full((30, 30), 200, dtype=np.uint8), tmp_path / "blank.png")
    with pytest.raises(ImageError) as e:
        mnist_from_file(path)
    assert str(e.value).startswith(f"{path} has no ink: ")
    assert isinstance(e.value.__cause__, ValueError)
    with pytest.raises(ImageError, match=r"blank\.png has no ink.*invert=False was forced"):
        mnist_from_file(path, invert=False)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_mnist_from_file_keeps_light_ink_on_a_transparent_background(tmp_path: Path,
                                                                     mode: str) -> None:
    # White ink on a transparent background: to_mnist composites it over black, so the digit
    # shows (composited on white, as read_picture does, it would vanish).
    rgba = np.zeros((60, 40, 4), dtype=np.uint8)
    rgba[10:50, 17:23] = (255, 255, 255, 255)
    path = tmp_path / "sticker.png"
    Image.fromarray(rgba).convert(mode).save(path)
    assert read_picture(path).min() == 255
    digit = mnist_from_file(path)
    assert digit.max() == 255
    np.testing.assert_array_equal(digit, to_mnist(rgba))


def test_mnist_from_file_checks_invert_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invert must be 'auto', True or False") as e:
        mnist_from_file(tmp_path / "nope.png", invert="yes")  # type: ignore[arg-type]
    assert not isinstance(e.value, ImageError)


# --------------------------------------------------------------------------------------------
# Shrinking big pictures


def test_read_picture_keeps_full_size_unless_max_side_is_given(tmp_path: Path) -> None:
    path = _save(_digit_on_paper(300, 200), tmp_path / "tall.png")
    assert read_picture(path).shape == (300, 200)
    small = read_picture(path, max_side=60)
    assert small.shape == (60, 40) and small.dtype == np.uint8
    assert read_picture(path, max_side=300).shape == (300, 200)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_side must be a positive integer"):
            read_picture(path, max_side=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_side must be a positive integer"):
            mnist_from_file(path, max_side=bad)  # type: ignore[arg-type]


def _close(shrunk: np.ndarray, full: np.ndarray) -> None:
    """The same digit, up to a shift of one pixel.

    to_mnist centres the digit by a whole number of pixels, so a sharp-edged drawing whose
    centre of mass falls near half a pixel can land one pixel over once averaged down (the
    6000x6000 "7" below does, at 1024 pixels: mean difference 8.6 unshifted, 0 shifted).
    """
    assert (shrunk.shape, shrunk.dtype) == ((28, 28), np.uint8)
    diffs = [np.abs(np.roll(shrunk.astype(int), (dy, dx), axis=(0, 1)) - full.astype(int)).mean()
             for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert min(diffs) < 8, diffs


def _sticker(rgba: np.ndarray, path: Path, mode: str) -> Path:
    Image.fromarray(rgba).convert(mode).save(path)
    return path


@pytest.mark.parametrize("kind", ["gray", "rgb", "rgba", "la", "palette-transparency", "1bit",
                                  "16bit", "jpeg-exif"])
def test_shrunk_picture_gives_the_full_size_digit(tmp_path: Path, kind: str) -> None:
    gray = _digit_on_paper(600, 400)
    gray[100:140, 80:200] = 20  # a "7"-ish top bar, so that rotations show
    rgba = np.zeros((600, 400, 4), dtype=np.uint8)
    rgba[gray < 128] = (255, 255, 255, 255)  # light ink on a transparent background
    if kind == "gray":
        path = _save(gray, tmp_path / "d.png")
    elif kind == "rgb":
        path = _save(np.stack([gray] * 3, axis=-1), tmp_path / "d.png")
    elif kind == "rgba":
        path = _sticker(rgba, tmp_path / "d.png", "RGBA")
    elif kind == "la":
        path = _sticker(rgba, tmp_path / "d.png", "LA")
    elif kind == "palette-transparency":
        path = _sticker(rgba, tmp_path / "d.png", "P")  # white ink, transparent colour
        with Image.open(path) as img:
            assert img.mode == "P" and "transparency" in img.info
    elif kind == "1bit":
        path = _save(gray > 128, tmp_path / "d.png")
    elif kind == "16bit":
        path = _save(gray.astype(np.uint16) * 257, tmp_path / "d.png")
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        path = tmp_path / "d.jpg"
        Image.fromarray(np.stack([gray] * 3, axis=-1)).save(path, exif=exif, quality=95)
    full = mnist_from_file(path, max_side=None)
    assert full.max() == 255
    _close(mnist_from_file(path, max_side=64), full)
    if kind == "jpeg-exif":  # decoded at 1/8 of the size (JPEG draft), then rotated
        assert read_picture(path, max_side=75).shape == (50, 75, 3)


# VmHWM is this process's own peak: ru_maxrss would include the parent's peak from before exec
# (Linux keeps it across fork + exec), which is the whole test session's.
_MEASURE = """
import json, sys
from kerasdigits.transforms import mnist_from_file
digit = mnist_from_file(sys.argv[1])
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"digit": digit.tolist(), "peak_mb": peak_kb / 1024}))
"""


def _page(side: int, scale: int, path: Path) -> Path:
    """A "7" on grey paper, ``side`` pixels square, drawn in blocks of ``scale`` pixels."""
    from PIL import ImageDraw

    img = Image.new("RGB", (side, side), (230, 230, 230))
    draw = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in [(180, 100, 420, 160), (360, 100, 420, 500), (240, 280, 470, 320)]:
        draw.rectangle((x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1), fill=(20, 20, 20))
    img.save(path)
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_6000x6000_picture_is_shrunk_before_conversion(tmp_path: Path) -> None:
    # Converted at full size, this took 1.8 GB and 5 s; shrunk to MAX_SIDE first, under 200 MB.
    big = _page(6000, 10, tmp_path / "big.png")
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(big)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["peak_mb"] < 300, answer["peak_mb"]
    # The same drawing at a tenth of the size, converted at full size, gives the same digit.
    full = mnist_from_file(_page(600, 1, tmp_path / "small.png"), max_side=None)
    _close(np.array(answer["digit"], dtype=np.uint8), full)
