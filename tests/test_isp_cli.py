"""Raw file reading (DNG via pidng → rawpy, TIFF) and the ``render`` / ``views`` commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

sys.path.insert(0, str(Path(__file__).parent))
import isp_reference as ref  # noqa: E402

from lens2logit import isp  # noqa: E402
from lens2logit.cli import main  # noqa: E402
from lens2logit.errors import InputError  # noqa: E402
from lens2logit.isp.io import read_raw  # noqa: E402

SIZE = 64
# DNG BlackLevel for the 2×2 cell, row-major (DN of 65535), and AsShotNeutral (R, G, B).
CELL_BLACK = (4096, 4100, 4104, 4108)
NEUTRAL = (0.5, 1.0, 0.625)


def write_dng(path: Path, mosaic_u16: np.ndarray, pattern: str) -> Path:
    """A real DNG written with pidng (16-bit uncompressed CFA, black level per site, as-shot WB)."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation

    h, w = mosaic_u16.shape
    tags = DNGTags()
    tags.set(Tag.ImageWidth, w)
    tags.set(Tag.ImageLength, h)
    tags.set(Tag.TileWidth, w)
    tags.set(Tag.TileLength, h)
    tags.set(Tag.Orientation, 1)
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    tags.set(Tag.SamplesPerPixel, 1)
    tags.set(Tag.BitsPerSample, 16)
    tags.set(Tag.CFARepeatPatternDim, [2, 2])
    tags.set(Tag.CFAPattern, getattr(CFAPattern, pattern))
    tags.set(Tag.BlackLevelRepeatDim, [2, 2])
    tags.set(Tag.BlackLevel, list(CELL_BLACK))
    tags.set(Tag.WhiteLevel, 65535)
    identity = [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]
    tags.set(Tag.ColorMatrix1, identity)
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    tags.set(Tag.AsShotNeutral, [[int(v * 1000), 1000] for v in NEUTRAL])
    tags.set(Tag.DNGVersion, DNGVersion.V1_4)
    tags.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    tags.set(Tag.Make, "lens2logit")
    tags.set(Tag.Model, "test")
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(mosaic_u16, filename=path.name)
    return path


def photo_u16(name: str, pattern: str) -> np.ndarray:
    m = ref.photo_mosaic(name, SIZE, pattern, offset=4200 / 65535, gain=0.7)
    return np.round(m * 65535).astype(np.uint16)


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    files = {}
    for pattern, name in (("RGGB", "chelsea"), ("GBRG", "coffee")):
        mosaic = photo_u16(name, pattern)
        files[pattern] = (write_dng(root / f"{name}_{pattern}.dng", mosaic, pattern), mosaic)
    tiff_mosaic = photo_u16("astronaut", "RGGB")
    tifffile.imwrite(root / "astronaut.tiff", tiff_mosaic)
    files["tiff"] = (root / "astronaut.tiff", tiff_mosaic)
    return files


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
def test_read_dng_gives_mosaic_and_profile(raw_files, pattern):
    path, mosaic = raw_files[pattern]
    data, profile = read_raw(path)
    assert data.dtype == np.float32 and data.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(data, mosaic.astype(np.float32) / 65535)
    assert profile.pattern == isp.BayerPattern(pattern)
    # Per-site black level, order R, G1 (red row), G2 (blue row), B, on the /65535 scale.
    cell = {(r, c): CELL_BLACK[2 * r + c] / 65535 for r in range(2) for c in range(2)}
    expected = [cell[site] for site in profile.pattern.site_order()]
    np.testing.assert_allclose(profile.black_level, expected, rtol=1e-6)
    np.testing.assert_allclose(profile.white_balance, [1 / v for v in NEUTRAL], rtol=1e-4)
    m = np.array(profile.colour_matrix)
    assert m.shape == (3, 3) and not np.allclose(m, 0)
    assert isp.camera_from_dng(path) == profile


def test_read_tiff(raw_files):
    path, mosaic = raw_files["tiff"]
    data, profile = read_raw(path)
    assert profile is None
    np.testing.assert_array_equal(data, mosaic.astype(np.float32) / 65535)


def test_read_raw_errors(tmp_path, raw_files):
    bad = {
        "missing.tiff": None,
        "rgb.tiff": np.zeros((8, 8, 3), np.uint16),
        "float.tiff": np.zeros((8, 8), np.float32),
        "odd.tiff": np.zeros((7, 8), np.uint16),
        "broken.dng": b"not a raw file",
        "picture.png": b"\x89PNG",
    }
    for name, content in bad.items():
        path = tmp_path / name
        if isinstance(content, np.ndarray):
            tifffile.imwrite(path, content)
        elif content is not None:
            path.write_bytes(content)
        with pytest.raises(InputError, match=name.replace(".", r"\.")):
            read_raw(path)
    with pytest.raises(InputError, match="not a DNG"):
        isp.camera_from_dng(raw_files["tiff"][0])


# ---------------------------------------------------------------- render command


def test_render_dng_and_tiff(tmp_path, raw_files):
    dng, _ = raw_files["GBRG"]
    tiff, tiff_mosaic = raw_files["tiff"]
    out = tmp_path / "out"
    assert main(["render", str(dng), "--views", "bi-s-me,me-u-ga", "--out-dir", str(out)]) == 0
    assert main(["render", str(tiff), "--camera", "drone", "--views", "all", "--unsharp", "2d", "--out-dir", str(out)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted([f"{dng.stem}/bi-s-me.tiff", f"{dng.stem}/me-u-ga.tiff"] + [f"astronaut/{s}.tiff" for s in isp.VIEW_SLUGS])
    # The files hold exactly what the library renders.
    img = tifffile.imread(out / "astronaut" / "ma-u-ga.tiff")
    assert img.dtype == np.float32 and img.shape == (SIZE, SIZE, 3)
    raw = torch.from_numpy(tiff_mosaic.astype(np.float32) / 65535)[None]
    expected = isp.render(raw, "ma-u-ga", "drone", unsharp="2d")[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(img, expected)
    data, profile = read_raw(dng)
    expected = isp.render(torch.from_numpy(data)[None], "me,u,ga", profile)[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(tifffile.imread(out / dng.stem / "me-u-ga.tiff"), expected)
    assert img.min() >= 0 and img.max() <= 1


def test_render_dng_with_fixed_camera_differs_from_metadata(tmp_path, raw_files):
    dng, _ = raw_files["RGGB"]
    main(["render", str(dng), "--views", "bi-s-ga", "--out-dir", str(tmp_path / "meta")])
    main(["render", str(dng), "--camera", "microscopy", "--views", "bi-s-ga", "--out-dir", str(tmp_path / "micro")])
    a = tifffile.imread(tmp_path / "meta" / dng.stem / "bi-s-ga.tiff")
    b = tifffile.imread(tmp_path / "micro" / dng.stem / "bi-s-ga.tiff")
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda f, d: [str(d / "missing.dng")], "missing.dng: no such file"),
        (lambda f, d: [str(f["tiff"][0])], "choose --camera"),
        (lambda f, d: [str(f["tiff"][0]), "--camera", "dng"], "needs a DNG"),
        (lambda f, d: [str(f["RGGB"][0]), "--views", "bi-s-me,xx-s-me"], "--views: unknown view 'xx-s-me'"),
        (lambda f, d: [str(f["RGGB"][0]), str(d / "rgb.tiff"), "--camera", "drone"], "rgb.tiff: not a mosaic"),
        (lambda f, d: [str(f["RGGB"][0]), str(d / "odd.tiff"), "--camera", "drone"], "odd.tiff: mosaic size 7×8"),
        (lambda f, d: [str(f["RGGB"][0]), str(d / "broken.dng")], "broken.dng: cannot read"),
    ],
)
def test_render_errors_write_nothing(tmp_path, raw_files, capsys, make_args, message):
    tifffile.imwrite(tmp_path / "rgb.tiff", np.zeros((8, 8, 3), np.uint16))
    tifffile.imwrite(tmp_path / "odd.tiff", np.zeros((7, 8), np.uint16))
    (tmp_path / "broken.dng").write_bytes(b"junk" * 100)
    out = tmp_path / "out"
    code = main(["render", *make_args(raw_files, tmp_path), "--out-dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and message in err[0], err
    assert not out.exists() or not any(out.rglob("*"))


def test_render_unknown_option_value_exits_nonzero(raw_files, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["render", str(raw_files["RGGB"][0]), "--unsharp", "vertical", "--out-dir", str(tmp_path)])
    assert exc.value.code != 0


def test_console_script_reports_bad_input_in_one_line(tmp_path, raw_files):
    # The installed entry point (one subprocess: torch import dominates its cost); successful
    # renders are covered in-process above.
    out = tmp_path / "out"
    exe = Path(sys.executable).parent / "lens2logit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "lens2logit"]
    bad = subprocess.run(
        [*cmd, "render", str(raw_files["RGGB"][0]), str(tmp_path / "nope.tiff"), "--camera", "drone", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [f"lens2logit: error: {tmp_path / 'nope.tiff'}: no such file"]
    assert not out.exists()  # the good first input was not written either


# ---------------------------------------------------------------- views command


def test_views_grid(tmp_path, raw_files):
    from PIL import Image

    out = tmp_path / "grid.png"
    assert main(["views", str(raw_files["GBRG"][0]), "-o", str(out)]) == 0
    with Image.open(out) as img:
        w, h = img.size
        pixels = np.asarray(img.convert("RGB"))
    assert w > 600 and h > 400
    assert pixels.std() > 10  # a real picture, not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left behind
    code = main(["views", str(raw_files["tiff"][0]), "-o", str(tmp_path / "g2.png")])
    assert code != 0 and not (tmp_path / "g2.png").exists()
