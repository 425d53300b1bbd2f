"""Downloads against real protocol servers on loopback: an HTTP server speaking the Zenodo REST API
(with Range) and b2sdk's own RawSimulator. Resume, checksums, unsafe archives, manifest, verify."""

from __future__ import annotations

import hashlib
import io
import logging
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import tifffile
from PIL import Image

from lens2logit.data import INTENSITIES, load_dataset
from lens2logit.data.download import DownloadError, download
from lens2logit.data.layout import MANIFEST, intensity_folder, microscopy_stem
from lens2logit.data.manifest import verify_manifest
from lens2logit.errors import InputError

RECORD = 5235536


def tiff_bytes(value, shape=(8, 8)) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.full(shape, value, np.uint16))
    return buf.getvalue()


def microscopy_zip() -> bytes:
    """The real release's shape: a top folder, raw and rgb intensity folders, a label file."""
    buf = io.BytesIO()
    labels = []
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(10):
            stem = microscopy_stem(1, i + 1, 1)
            labels.append(f"{stem} {'NGS' if i % 2 else 'LYT'}")
            for k, intensity in enumerate(INTENSITIES):
                zf.writestr(f"Raw-Microscopy/images/{intensity_folder(intensity)}/{stem}.tiff", tiff_bytes(100 * i + k, (32, 32)))
                zf.writestr(f"Raw-Microscopy/images/rgb_scale{intensity_folder(intensity)[-3:]}/{stem}.tiff", b"rgb")
        zf.writestr("Raw-Microscopy/labels/Ma190c_annotations.dat", "\n".join(labels) + "\n")
    return buf.getvalue()


def slip_zip(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Microscopy/ok.txt", "fine")
        zf.writestr(name, "evil")
    return buf.getvalue()


class FakeZenodo:
    """A Zenodo-like record served by http.server on 127.0.0.1, with HTTP Range support."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.requests: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append((self.path, self.headers.get("Range")))
                if self.path == f"/api/records/{RECORD}":
                    body = json.dumps({"id": RECORD, "files": [
                        {"key": key, "size": f["size"], "checksum": f"md5:{f['md5']}",
                         "links": {"self": f"{fake.url}/files/{key}"}} for key, f in fake.files.items()]}).encode()
                    return self._send(200, body, {"Content-Type": "application/json"})
                key = self.path.removeprefix("/files/")
                if key not in fake.files:
                    return self._send(404, b"not found")
                entry = fake.files[key]
                data = entry["served"]
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                part = data[start:]
                status = 206 if start else 200
                headers = {"Content-Length": str(len(part))}
                if start:
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                if entry.get("drop_after") is not None:  # the connection dies mid-file, once
                    cut = entry.pop("drop_after")
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(part[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(status, part, headers)

            def _send(self, status, body, headers=None):
                self.send_response(status)
                for k, v in (headers or {"Content-Length": str(len(body))}).items():
                    self.send_header(k, v)
                if "Content-Length" not in (headers or {}):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, key, data: bytes, *, served: bytes | None = None, md5: str | None = None, drop_after=None):
        self.files[key] = {"size": len(data), "md5": md5 or hashlib.md5(data).hexdigest(),
                           "served": data if served is None else served, "drop_after": drop_after}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def zenodo():
    with FakeZenodo() as server:
        yield server


def test_zenodo_resume_after_interruption_then_verify(zenodo, tmp_path, monkeypatch):
    archive = microscopy_zip()
    zenodo.add("Raw-Microscopy.zip", archive, drop_after=len(archive) // 3)
    zenodo.add("Raw-Drone.zip", b"other dataset: never fetched")
    monkeypatch.setenv("LENS2LOGIT_ZENODO_URL", zenodo.url)
    root = tmp_path / "real" / "microscopy"
    with pytest.raises(DownloadError, match="Raw-Microscopy.zip: download interrupted"):
        download("microscopy", root)
    assert not root.exists()  # nothing that looks finished
    part = tmp_path / "real" / ".partial-microscopy" / "downloads" / "Raw-Microscopy.zip.part"
    kept = part.stat().st_size
    assert 0 < kept < len(archive)

    assert download("microscopy", root) == root
    ranges = [r for p, r in zenodo.requests if p.endswith("Raw-Microscopy.zip")]
    assert ranges == [None, f"bytes={kept}-"]  # resumed, not restarted
    assert not any(p.endswith("Raw-Drone.zip") for p, _ in zenodo.requests)
    assert not (tmp_path / "real" / ".partial-microscopy").exists()
    data = load_dataset("microscopy", root, 0.75)
    assert data.classes == ["LYT", "NGS"] and len(data.ids) == 10
    k = INTENSITIES.index(0.75)
    assert data.raw[data.ids.index(microscopy_stem(1, 3, 1)), 0, 0] == np.float32((200 + k) / 65535)
    assert not (root / "images" / "rgb_scale100").exists()  # only raw data in the loader layout

    listed = (root / MANIFEST).read_text().splitlines()
    # 70 images, the labels and download.json (the record's files and checksums it came from)
    assert len(listed) == 7 * 10 + 2 and all(len(l.split("  ")[0]) == 64 for l in listed)
    assert verify_manifest(root) == []
    victim = root / "images" / "raw_scale010" / f"{microscopy_stem(1, 3, 1)}.tiff"
    victim.write_bytes(tiff_bytes(9))
    (root / "labels" / "Ma190c_annotations.dat").unlink()
    assert verify_manifest(root) == [
        "missing: labels/Ma190c_annotations.dat", f"changed: images/raw_scale010/{victim.name}"]


@pytest.mark.parametrize("case, message", [
    ("truncated", "truncated"), ("checksum", "md5 checksum mismatch"),
])
def test_zenodo_refuses_truncated_and_corrupt_files(zenodo, tmp_path, case, message):
    archive = microscopy_zip()
    if case == "truncated":
        zenodo.add("Microscopy.zip", archive, served=archive[:-100])
    else:
        zenodo.add("Microscopy.zip", archive, md5="0" * 32)
    root = tmp_path / "microscopy"
    for _ in range(2):  # a rerun does not accept it either
        with pytest.raises(DownloadError, match=f"Microscopy.zip: {message}"):
            download("microscopy", root, zenodo_base_url=zenodo.url)
    assert not root.exists()


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "Microscopy/../../evil.txt"])
def test_zip_slip_archive_refused_naming_the_member(zenodo, tmp_path, member):
    zenodo.add("Microscopy.zip", slip_zip(member))
    with pytest.raises(InputError, match=f"member '{member}'"):
        download("microscopy", tmp_path / "d" / "microscopy", zenodo_base_url=zenodo.url)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "d" / "evil.txt").exists()
    assert not list((tmp_path / "d").rglob("ok.txt"))  # refused before anything was extracted


def test_links_in_archives_refused(tmp_path):
    from lens2logit.data.archive import extract

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("data/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    (tmp_path / "a.tar").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="member 'data/link' is a link"):
        extract(tmp_path / "a.tar", tmp_path / "out")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="member 'data/link' is a link"):
        extract(tmp_path / "a.zip", tmp_path / "out2")
    assert not (tmp_path / "out" / "data" / "link").exists() and not (tmp_path / "out2" / "data" / "link").exists()


def test_cli_download_and_verify(zenodo, tmp_path, monkeypatch, capsys):
    from test_synth import run_data_cli

    zenodo.add("Raw-Microscopy.zip", microscopy_zip())
    root = tmp_path / "microscopy"
    argv = ["data", "download", "microscopy", "--source", "zenodo", "--root", str(root), "--zenodo-url", zenodo.url]
    assert run_data_cli(argv, monkeypatch) == 0
    assert run_data_cli(["data", "verify", "microscopy", "--root", str(root)], monkeypatch) == 0
    (root / "labels" / "Ma190c_annotations.dat").write_text("x")
    assert run_data_cli(["data", "verify", "microscopy", "--root", str(root)], monkeypatch) == 1
    assert "changed: labels/Ma190c_annotations.dat" in capsys.readouterr().err
    zenodo.files.clear()
    zenodo.add("Raw-Microscopy.zip", slip_zip("../x"))
    assert run_data_cli([*argv[:-3], str(tmp_path / "m2"), "--zenodo-url", zenodo.url], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing archive" in err[0]


# ------------------------------------------------------------------------------------------ B2

@pytest.fixture
def b2(monkeypatch):
    from b2sdk.v2 import B2Api, B2HttpApiConfig, InMemoryAccountInfo, InMemoryCache, RawSimulator

    api = B2Api(InMemoryAccountInfo(), cache=InMemoryCache(), api_config=B2HttpApiConfig(_raw_api_class=RawSimulator))
    key_id, key = api.session.raw_api.create_account()
    monkeypatch.setenv("B2_APPLICATION_KEY_ID", key_id)
    monkeypatch.setenv("B2_APPLICATION_KEY", key)
    api.authorize_account("production", key_id, key)
    bucket = api.create_bucket("perturbed-minds", "allPrivate")
    # The original bucket's drone layout: zipped intensity folders, loose masks, folder markers.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, intensity in enumerate(INTENSITIES):
            for full in range(2):
                zf.writestr(f"{intensity_folder(intensity)}/{full:02d}.tif", tiff_bytes(4096 + 10 * full + k, (16, 24)))
    bucket.upload_bytes(buf.getvalue(), "drone/images/raw_images.zip")
    bucket.upload_bytes(b"", "drone/images/.bzEmpty")
    for full in range(2):
        mask = np.zeros((16, 24), np.uint8)
        mask[2:6, 3:9] = 255
        png = io.BytesIO()
        Image.fromarray(mask).save(png, format="PNG")
        bucket.upload_bytes(png.getvalue(), f"drone/masks/{full:02d}.png")
    bucket.upload_bytes(b"", "drone/masks/.bzEmpty")
    bucket.upload_bytes(b"unrelated", "drone_other/x.txt")
    return api, buf.getvalue()


def test_b2_download_into_drone_layout(b2, tmp_path):
    api, _ = b2
    root = download("drone", tmp_path / "drone", source="b2", b2_api=api)
    assert sorted(p.name for p in (root / "masks_full").iterdir()) == ["00.png", "01.png"]
    seg = load_dataset("drone_segmentation", root, 0.05, tile_size=8)
    assert seg.ids == ["00_00000", "00_00001", "01_00000", "01_00001"]
    assert seg.raw[2, 0, 0] == np.float32((4096 + 10 + INTENSITIES.index(0.05)) / 65535)
    assert verify_manifest(root) == []


def test_b2_resumes_partial_file_with_a_ranged_download(b2, tmp_path, monkeypatch):
    from b2sdk.v2 import Bucket

    api, archive = b2
    partial = tmp_path / ".partial-drone" / "downloads" / "images_full" / "raw_images.zip.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(archive[:1000])
    ranges = []
    original = Bucket.download_file_by_name

    def spy(self, file_name, *args, range_=None, **kwargs):
        ranges.append((file_name, range_))
        return original(self, file_name, *args, range_=range_, **kwargs)

    monkeypatch.setattr(Bucket, "download_file_by_name", spy)
    download("drone", tmp_path / "drone", source="b2", b2_api=api)
    assert ("drone/images/raw_images.zip", (1000, len(archive) - 1)) in ranges
    assert load_dataset("drone_segmentation", tmp_path / "drone", 1.0, tile_size=8).raw.shape == (4, 8, 8)


def test_b2_sha1_mismatch_and_missing_credentials(b2, tmp_path, monkeypatch):
    api, archive = b2
    partial = tmp_path / ".partial-drone" / "downloads" / "images_full" / "raw_images.zip.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * 1000)  # wrong bytes kept from an earlier run
    with pytest.raises(DownloadError, match="raw_images.zip: sha1 checksum mismatch"):
        download("drone", tmp_path / "drone", source="b2", b2_api=api)
    assert not partial.exists() and not (tmp_path / "drone").exists()
    monkeypatch.delenv("B2_APPLICATION_KEY")
    with pytest.raises(InputError, match="B2_APPLICATION_KEY"):
        download("drone", tmp_path / "drone", source="b2", b2_api=api)


# ------------------------------------------------------------------------------------------ Zenodo: record keys, layouts


def drone_zip(layout: str) -> bytes:
    """A drone release either as full frames or pre-tiled (tiles, masks and the classification CSV)."""
    buf = io.BytesIO()
    tile = 8
    if layout == "full":
        with zipfile.ZipFile(buf, "w") as zf:
            for full in range(2):
                for k, intensity in enumerate(INTENSITIES):
                    zf.writestr(f"Raw-Drone/images/{intensity_folder(intensity)}/{full:02d}.tif", tiff_bytes(4096 + 10 * full + k, (16, 16)))
                mask = np.zeros((16, 16), np.uint8)
                mask[:8, :8] = 255
                png = io.BytesIO()
                Image.fromarray(mask).save(png, format="PNG")
                zf.writestr(f"Raw-Drone/masks/{full:02d}_mask.png", png.getvalue())
        return buf.getvalue()
    with zipfile.ZipFile(buf, "w") as zf:
        rows = [",file name,label"]
        for k, intensity in enumerate(INTENSITIES):
            for i in range(4):
                zf.writestr(f"Raw-Drone/images_tiles_{tile}/{intensity_folder(intensity)}/00_{i:05d}.tif", tiff_bytes(100 * i + k, (tile, tile)))
                zf.writestr(
                    f"Raw-Drone/classification/images_tiles_{tile}/{intensity_folder(intensity)}_thr_0.01/00_{i:05d}.tif",
                    tiff_bytes(200 * i + k, (tile, tile)),
                )
        for i in range(4):
            png = io.BytesIO()
            Image.fromarray(np.eye(tile, dtype=bool)).save(png, format="PNG")
            zf.writestr(f"Raw-Drone/masks_tiles_{tile}/00_{i:05d}.png", png.getvalue())
            rows.append(f"{i},00_{i:05d},{int(i >= 2)}")
        zf.writestr(f"Raw-Drone/classification/dataset_tiles_{tile}_72_0.01.csv", "\n".join(rows) + "\n")
    return buf.getvalue()


def test_zenodo_record_keys_table_then_pre_tiled_layout(zenodo, tmp_path):
    zenodo.add("Raw-Drone.zip", drone_zip("tiled"))
    zenodo.add("drone_preview.zip", b"not in the table: never fetched")
    root = download("drone", tmp_path / "drone", zenodo_base_url=zenodo.url)
    assert not any(p.endswith("drone_preview.zip") for p, _ in zenodo.requests)
    assert sorted(p.name for p in root.iterdir()) == [MANIFEST, "classification", "download.json", "images_tiles_8", "masks_tiles_8"]
    seg = load_dataset("drone_segmentation", root, 0.05, tile_size=8)
    cls = load_dataset("drone_classification", root, 0.05, tile_size=8)
    assert seg.ids == [f"00_{i:05d}" for i in range(4)] and seg.targets[0].sum() == 8
    assert cls.targets.tolist() == [0, 0, 1, 1]
    assert cls.raw[1, 0, 0] == np.float32((200 + INTENSITIES.index(0.05)) / 65535)
    assert verify_manifest(root) == []


def test_zenodo_unknown_keys_fall_back_to_substring_and_log_it(zenodo, tmp_path, caplog):
    zenodo.add("my-drone-frames.zip", drone_zip("full"))
    zenodo.add("Raw-Microscopy.zip", b"other dataset")
    with caplog.at_level(logging.WARNING, logger="lens2logit.data.download"):
        root = download("drone", tmp_path / "drone", zenodo_base_url=zenodo.url)
    assert "none of the expected keys" in caplog.text and "['my-drone-frames.zip']" in caplog.text
    assert sorted(p.name for p in (root / "masks_full").iterdir()) == ["00_mask.png", "01_mask.png"]
    seg = load_dataset("drone_segmentation", root, 1.0, tile_size=8)  # masks paired by name containment
    assert seg.ids == ["00_00000", "01_00000"]
