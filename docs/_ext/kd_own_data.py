"""The "Your own data" page's figure: pictures as a user has them, and what ``to_mnist`` makes.

Each column is one picture of a kind the models never saw, built here from a bundled MNIST
test digit or a font (so the figure needs no download): a photo of ink on paper (shaded,
noisy, RGB), a low-resolution scan upscaled by a phone, a digit typed in a font, chalk on a
blackboard (light on dark), and a digit drawn on a tablet (a transparent PNG). Below each,
the 28x28 image :func:`kerasdigits.transforms.to_mnist` returns, and a real MNIST digit of the
same class for comparison.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)


def _font(size: int) -> Any:
    from PIL import ImageFont

    for path in _FONTS:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    import matplotlib

    ttf = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSerif.ttf"
    return ImageFont.truetype(str(ttf), size)


def _pictures(digits: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The raw pictures (RGB or RGBA uint8), each with a caption."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    out: list[tuple[str, np.ndarray]] = []
    # 1. ink on paper, photographed: shading, blue ink, noise.
    ink = np.asarray(Image.fromarray(digits[0]).resize((160, 160), Image.BICUBIC), float) / 255
    shade = np.linspace(0.75, 1.0, 160)[None, :, None]
    paper = np.array([235, 228, 210], float)[None, None, :] * shade
    blue = np.array([30, 40, 120], float)
    rgb = paper * (1 - ink[..., None]) + blue * ink[..., None] + rng.normal(0, 6, (160, 160, 3))
    out.append(("photo of ink\non paper", np.clip(rgb, 0, 255).astype(np.uint8)))
    # 2. a low-resolution scan (10x10), upscaled by the phone.
    small = Image.fromarray(255 - digits[1]).resize((10, 10), Image.BOX)
    out.append(("10x10 scan,\nupscaled", np.asarray(small.resize((120, 120), Image.BILINEAR)
                                                   .convert("RGB"))))
    # 3. a typed digit.
    page = Image.new("RGB", (120, 140), (250, 250, 250))
    ImageDraw.Draw(page).text((28, 8), "4", font=_font(110), fill=(20, 20, 20))
    out.append(("typed\n(a serif font)", np.asarray(page)))
    # 4. chalk on a blackboard: light on dark, smudged.
    chalk = np.asarray(Image.fromarray(digits[2]).resize((150, 150), Image.BILINEAR), float)
    board = np.array([40, 60, 50], float)[None, None, :] + rng.normal(0, 8, (150, 150, 3))
    rgb = board + (chalk[..., None] / 255) * 200
    out.append(("chalk on a\nblackboard", np.clip(rgb, 0, 255).astype(np.uint8)))
    # 5. drawn on a tablet: black strokes on a transparent background.
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., 3] = np.asarray(Image.fromarray(digits[3]).resize((200, 200), Image.BICUBIC))
    out.append(("transparent PNG\nfrom a tablet", rgba))
    return out


def to_mnist_figure() -> bytes:
    """Return the PNG of the before/after figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdigits.datasets import load_dataset
    from kerasdigits.transforms import to_mnist

    test = load_dataset("mnist_sample").test
    wanted = (3, 7, 5, 2)  # classes of the digits used above, then the typed 4
    picks = [int(np.flatnonzero(test.labels == k)[1]) for k in wanted]
    pictures = _pictures(test.images[picks])
    classes = [3, 7, 4, 5, 2]
    fig, axes = plt.subplots(3, len(pictures), figsize=(2.0 * len(pictures), 6.3))
    for col, ((caption, picture), label) in enumerate(zip(pictures, classes, strict=True)):
        shown = picture
        if picture.shape[-1] == 4:  # show transparency as a checkerboard
            checks = ((np.indices(picture.shape[:2]) // 20).sum(0) % 2) * 40 + 200
            alpha = picture[..., 3:] / 255
            shown = (picture[..., :3] * alpha + checks[..., None] * (1 - alpha)).astype(np.uint8)
        axes[0, col].imshow(shown)
        axes[0, col].set_title(caption, fontsize=9)
        axes[1, col].imshow(to_mnist(picture), cmap="gray", vmin=0, vmax=255)
        axes[1, col].set_title("to_mnist()", fontsize=9)
        real = test.images[int(np.flatnonzero(test.labels == label)[0])]
        axes[2, col].imshow(real, cmap="gray", vmin=0, vmax=255)
        axes[2, col].set_title(f"an MNIST {label}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
