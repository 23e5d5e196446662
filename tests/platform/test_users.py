from __future__ import annotations

import io

import pytest
from PIL import Image

from openfyp.platform.errors import InvalidInput, TooLarge
from openfyp.platform.users import AVATAR_MAX_BYTES, clean_text, render_avatar


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_avatar_is_a_centre_crop():
    # Left third red, middle third green, right third blue: a centre square crop keeps only green.
    image = Image.new("RGB", (900, 300), (255, 0, 0))
    image.paste((0, 255, 0), (300, 0, 600, 300))
    image.paste((0, 0, 255), (600, 0, 900, 300))
    with Image.open(io.BytesIO(render_avatar(encode(image, "PNG")))) as avatar:
        assert avatar.format == "JPEG" and avatar.size == (256, 256)
        for x in (5, 128, 250):
            r, g, b = avatar.getpixel((x, 128))
            assert g > 200 and r < 60 and b < 60


def test_avatar_follows_exif_orientation_and_drops_metadata():
    # Stored landscape with orientation 6 ("rotate 90° clockwise to display"): the visible image is portrait,
    # with the red top half of the stored pixels ending up on the right.
    stored = Image.new("RGB", (400, 200), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 400, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    data = encode(stored, "JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(render_avatar(data))) as avatar:
        assert avatar.getpixel((250, 128))[0] > 200  # red on the right
        assert avatar.getpixel((5, 128))[2] > 200  # blue on the left
        assert not avatar.getexif()


def test_transparency_is_flattened_onto_white():
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    with Image.open(io.BytesIO(render_avatar(encode(clear, "PNG")))) as avatar:
        assert avatar.mode == "RGB" and min(avatar.getpixel((128, 128))) > 240


@pytest.mark.parametrize("data, error, code", [
    (b"", InvalidInput, "empty_file"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", InvalidInput, "unsupported_image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 64, InvalidInput, "unsupported_image"),  # a JPEG header and nothing more
    (b"x" * (AVATAR_MAX_BYTES + 1), TooLarge, "avatar_too_large"),
])
def test_unusable_uploads_are_refused(data, error, code):
    with pytest.raises(error) as refused:
        render_avatar(data)
    assert refused.value.code == code and refused.value.field == "file"


def test_truncated_image_is_refused():
    whole = encode(Image.effect_noise((300, 300), 60).convert("RGB"), "PNG")
    with pytest.raises(InvalidInput):
        render_avatar(whole[: len(whole) // 2])


def test_clean_text():
    assert clean_text("  a\t b \n c ", field="f", min_length=1, max_length=10, multiline=False) == "a b c"
    assert clean_text("a\r\n\n\n\nb\x07", field="f", min_length=1, max_length=10, multiline=True) == "a\n\nb"
    with pytest.raises(InvalidInput) as short:
        clean_text(" \x00 ", field="name", min_length=1, max_length=10, multiline=False)
    assert (short.value.code, short.value.field) == ("too_short", "name")
    with pytest.raises(InvalidInput) as long:
        clean_text("é" * 11, field="bio", min_length=0, max_length=10, multiline=True)
    assert long.value.code == "too_long"
