"""lens2logit.drift.render: several views of one raw array rendered in one pass, to files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lens2logit.drift.render import render_view_file, render_views_files
from lens2logit.isp import get_view, render


@pytest.fixture
def raw_files(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.9, size=(5, 16, 16)).astype(np.float32)
    np.save(tmp_path / "raw.npy", raw)
    (tmp_path / "meta.json").write_text(json.dumps({"camera": "drone"}))
    return tmp_path, raw


@pytest.mark.parametrize("batch_size", [2, 64])
def test_each_file_equals_rendering_that_view_alone(raw_files, batch_size):
    d, raw = raw_files
    views = ["bi,s,ga", "me-u-me", "ma,s,ga"]
    outs = [d / f"{get_view(v).slug}.npy" for v in views]
    render_views_files(d / "raw.npy", d / "meta.json", views, outs, unsharp="2d", batch_size=batch_size)
    for view, out in zip(views, outs):
        expected = render(torch.from_numpy(raw), view, "drone", unsharp="2d").numpy()
        got = np.load(out)
        assert got.shape == (5, 3, 16, 16) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_single_view_wrapper(raw_files):
    d, raw = raw_files
    render_view_file(d / "raw.npy", d / "meta.json", "bi-s-ga", d / "one.npy")
    np.testing.assert_allclose(np.load(d / "one.npy"), render(torch.from_numpy(raw), "bi,s,ga", "drone").numpy(), atol=1e-6)


def test_mismatch_and_bad_view_leave_no_file(raw_files):
    d, _ = raw_files
    with pytest.raises(ValueError, match="2 views for 1 output"):
        render_views_files(d / "raw.npy", d / "meta.json", ["bi,s,ga", "ma,s,ga"], [d / "a.npy"])
    with pytest.raises(ValueError):
        render_views_files(d / "raw.npy", d / "meta.json", ["bi,s,ga", "xx,s,ga"], [d / "a.npy", d / "b.npy"])
    assert sorted(p.name for p in d.iterdir()) == ["meta.json", "raw.npy"]


def test_float16_storage_is_the_float32_rendering_rounded(raw_files):
    d, raw = raw_files
    views = ["bi,s,ga", "ma,u,me"]
    outs = [d / "a.npy", d / "b.npy"]
    render_views_files(d / "raw.npy", d / "meta.json", views, outs, dtype="float16")
    for view, out in zip(views, outs):
        expected = render(torch.from_numpy(raw), view, "drone").numpy().astype(np.float16)
        got = np.load(out)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="render.dtype: expected one of float32, float16, got 'int8'"):
        render_views_files(d / "raw.npy", d / "meta.json", ["bi,s,ga"], [d / "c.npy"], dtype="int8")
    assert not (d / "c.npy").exists()
