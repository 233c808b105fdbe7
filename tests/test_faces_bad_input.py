"""Faces on awkward inputs (issue 12): rotated video (display-matrix rotation), variable frame
rate, CMYK / 16-bit / float PNG and TIFF images: a result or one clear error."""

from __future__ import annotations

import fractions

import numpy as np
import pytest

from affectkit import media
from affectkit.errors import MediaError


@pytest.fixture(scope="module")
def face_rgb():
    import matplotlib
    from PIL import Image

    im = Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg").convert("RGB")
    return np.asarray(im.resize((256, 300)))  # portrait, even sizes


@pytest.fixture(scope="module")
def vision():
    from affectkit.analysis import Analyzer

    return Analyzer(modalities=("vision",))


def _write_video(path, frames, *, rotation=None, pts_ms=None, rate=10):
    """H.264 mp4 with PyAV; ``rotation`` sets the display matrix, ``pts_ms`` irregular frame
    times (variable frame rate)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if pts_ms is not None:
            vs.codec_context.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            vs.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = int(pts_ms[i]), fractions.Fraction(1, 1000)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


@pytest.mark.parametrize("rotation", [90, 180, 270, -90])
def test_rotated_video_frames_come_out_upright(tmp_path, face_rgb, rotation):
    # what a phone stores: pixels turned against the display rotation, plus the rotation
    stored = np.rot90(face_rgb, -round(rotation / 90))
    p = _write_video(tmp_path / f"rot{rotation}.mp4", [stored] * 5, rotation=rotation)
    frames = list(media.iter_frames(p, fps=5))
    assert frames
    for fr in frames:
        assert fr.image.shape == face_rgb.shape
        assert np.abs(fr.image.astype(float) - face_rgb).mean() < 8  # codec loss only
    # max_side and grey frames are turned as well
    g = next(media.iter_frames(p, fps=5, gray=True, max_side=150))
    assert g.image.shape[0] > g.image.shape[1]


def test_upright_rounds_to_quarter_turns():
    a = np.arange(6).reshape(2, 3)
    assert media.upright(a, 0) is a
    assert np.array_equal(media.upright(a, 89.6), np.rot90(a, 1))
    assert np.array_equal(media.upright(a, -90), np.rot90(a, 3))
    assert np.array_equal(media.upright(a, 540), np.rot90(a, 2))


def test_rotated_video_face_found(tmp_path, face_rgb, vision):
    stored = np.rot90(face_rgb, -1)  # sideways pixels, display rotation 90°
    p = _write_video(tmp_path / "portrait.mp4", [stored] * 20, rotation=90)
    fr = vision.analyze_file(p)
    assert fr.ok, fr.error
    assert fr.utterances and all("vision" in u.per_modality for u in fr.utterances)


def test_variable_frame_rate_video(tmp_path, face_rgb, vision):
    gaps = [33, 100, 250, 40, 500, 17, 1200, 60]
    pts = np.concatenate([[0], np.cumsum([gaps[i % len(gaps)] for i in range(39)])])
    p = _write_video(tmp_path / "vfr.mp4", [face_rgb] * 40, pts_ms=pts)
    ts = [f.t for f in media.iter_frames(p, fps=2)]
    assert len(ts) >= 5
    cells = [int(t * 2 + 1e-4) for t in ts]  # at most one frame per 0.5 s grid cell: no bursts
    assert cells == sorted(set(cells))
    # every grid cell that holds a frame of the file is sampled
    assert set(cells) == {int(t / 1000 * 2 + 1e-4) for t in pts}
    assert ts[-1] >= pts[-1] / 1000 - 1.3  # reaches the end (last gap ≤ 1.2 s)
    fr = vision.analyze_file(p)
    assert fr.ok, fr.error
    assert all("vision" in u.per_modality for u in fr.utterances)


def _images(d, rgb):
    import cv2
    from PIL import Image

    im = Image.fromarray(rgb)
    im.convert("CMYK").save(d / "cmyk.jpg")
    im.convert("CMYK").save(d / "cmyk.tif")
    a16 = rgb.astype(np.uint16) * 257
    cv2.imwrite(str(d / "rgb16.png"), a16[:, :, ::-1])
    cv2.imwrite(str(d / "rgb16.tif"), a16[:, :, ::-1])
    grey = np.asarray(im.convert("L"))
    Image.fromarray(grey.astype(np.uint16) * 257).save(d / "grey16.png")
    Image.fromarray(grey.astype(np.float32) / 255).save(d / "grey_float.tif")
    im.save(d / "lzw.tif", compression="tiff_lzw")
    return {"cmyk.jpg": rgb, "cmyk.tif": rgb, "rgb16.png": rgb, "rgb16.tif": rgb, "lzw.tif": rgb,
            "grey16.png": grey, "grey_float.tif": grey}


def test_cmyk_16bit_float_images_decode_and_give_a_face(tmp_path, face_rgb, vision):
    for name, ref in _images(tmp_path, face_rgb).items():
        x = media.load_image(tmp_path / name)
        assert x.shape == face_rgb.shape and x.dtype == np.uint8, name
        want = ref if ref.ndim == 3 else np.repeat(ref[:, :, None], 3, axis=2)
        assert np.abs(x.astype(float) - want).mean() < 6, name
        fr = vision.analyze_file(tmp_path / name)
        assert fr.ok, (name, fr.error)
        assert fr.utterances[0].per_modality["vision"].emotion_probs.sum() == pytest.approx(1)


def test_undecodable_image_is_one_clear_error(tmp_path, face_rgb, vision):
    import cv2

    bad = tmp_path / "rgb_float.tif"  # 3 × 32-bit float samples: neither OpenCV nor Pillow
    cv2.imwrite(str(bad), (face_rgb.astype(np.float32) / 255)[:, :, ::-1])
    with pytest.raises(MediaError, match=r"rgb_float\.tif.*re-export"):
        media.load_image(bad)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    fr = vision.analyze_file(junk)
    assert not fr.ok and "junk.png" in fr.error and "re-export" in fr.error
