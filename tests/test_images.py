"""Images that are missing, truncated, not images, or decompression bombs: a clear error naming the record."""

import io

import pytest
from PIL import Image

from redstar_geo.images import ImageLoadError, check_images, load_image
from redstar_geo.schema import Problem


def png_bytes(size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG")
    return buf.getvalue()


def test_good_image_from_bytes_and_path(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    assert load_image(png_bytes()).size == (32, 32)
    assert load_image(tmp_path / "a.png").mode == "RGB"


@pytest.mark.parametrize(
    "payload, words",
    [
        (png_bytes()[:60], "unreadable image"),
        (b"this is not an image at all", "not an image"),
        (b"", "not an image"),
    ],
)
def test_bad_images_name_their_owner(tmp_path, payload, words):
    path = tmp_path / "bad.png"
    path.write_bytes(payload)
    with pytest.raises(ImageLoadError, match=words) as err:
        load_image(path, owner="problem '7'")
    assert "problem '7'" in str(err.value) and "bad.png" in str(err.value)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(path)  # 144 MP of bits: a small file, a huge decoded image
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageLoadError, match="problem 'b'.*decompression bomb"):
        load_image(path, owner="problem 'b'")
    # Below Pillow's own limit but above ours: refused before any pixel is decoded.
    Image.new("1", (9_000, 8_000)).save(path)
    with pytest.raises(ImageLoadError, match="72000000 pixels exceeds the limit"):
        load_image(path, owner="problem 'b'")


def test_check_images_reports_each_failure_and_goes_on(tmp_path):
    (tmp_path / "ok.png").write_bytes(png_bytes())
    (tmp_path / "trunc.png").write_bytes(png_bytes()[:50])
    problems = [
        Problem(id="ok", source="s", question="?", answer="1", image=str(tmp_path / "ok.png")),
        Problem(id="gone", source="s", question="?", answer="1", image=str(tmp_path / "gone.png")),
        Problem(id="trunc", source="s", question="?", answer="1", image=str(tmp_path / "trunc.png")),
        Problem(id="text-only", source="s", question="?", answer="1"),
    ]
    errors = check_images(problems)
    assert set(errors) == {"gone", "trunc"}
    assert "problem 'gone'" in errors["gone"] and "file not found" in errors["gone"]
