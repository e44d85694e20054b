"""Safe, lazy image loading. Every failure is an :class:`ImageLoadError` naming the record and the file.

Benchmark images come from disk or from dataset rows and are sometimes missing (MathVerse's ``99.png``), truncated,
not images at all, or decompression bombs. None of these may abort a run: callers catch :class:`ImageLoadError` and
mark the record.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

# Geometry diagrams are small (GeoQA ~200 px, MathVista up to a few thousand px). 64 MP is far above any real diagram
# and far below what would exhaust memory when decoded.
DEFAULT_MAX_PIXELS = 64_000_000


class ImageLoadError(RuntimeError):
    """An image that could not be read. ``str(err)`` names the owner (problem id) and the source."""


def load_image(source: str | Path | bytes | None, owner: str = "image", max_pixels: int | None = None):
    """Open ``source`` (a path or encoded bytes) fully and return it as an RGB ``PIL.Image``.

    The pixel count is checked from the header before decoding, so a decompression bomb costs nothing.
    """
    from PIL import Image, UnidentifiedImageError

    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    if source is None:
        raise ImageLoadError(f"{owner}: has no image")
    if isinstance(source, bytes):
        where, stream = f"{owner}: image bytes ({len(source)} B)", io.BytesIO(source)
    else:
        path = Path(source)
        where = f"{owner}: {path}"
        if not path.is_file():
            raise ImageLoadError(f"{where}: file not found")
        stream = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"{where}: {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}"
                        " (decompression bomb?)"
                    )
                img.load()
                return img.convert("RGB")
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{where}: decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{where}: not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated data, corrupt chunks, bad headers
        raise ImageLoadError(f"{where}: unreadable image: {exc}") from None


def check_images(problems, max_pixels: int | None = None) -> dict[str, str]:
    """Open every problem's image once; return ``{problem id: error message}`` for those that fail."""
    errors = {}
    for problem in problems:
        if problem.image is None:
            continue
        try:
            problem.load_image(max_pixels=max_pixels)
        except ImageLoadError as exc:
            errors[problem.id] = str(exc)
    return errors


def image_data_uri(image, max_px: int | None = None) -> str:
    """A ``PIL.Image`` as a PNG ``data:`` URI (what OpenAI-compatible servers and HTML pages take), downscaled to at
    most ``max_px`` on its longer side when given."""
    import base64

    if max_px is not None and max(image.size) > max_px:
        image = image.copy()
        image.thumbnail((max_px, max_px))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=max_px is not None)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
