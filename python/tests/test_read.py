"""The Python package against versions in ``dir:`` stores: verify, open, read by
ranges, fsspec with pandas and pyarrow, the map-style dataset under multiprocessing,
and the refusals."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import pickle
import random
import shutil
import sys
import tempfile
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

import dataseal
from conftest import PLAIN_CHUNK, World


def envelope_file(world: World, tmp_path: Path) -> Path:
    """The version's signed envelope, read from a store with every block verified."""
    entry = json.loads((world.root / ".dataseal/catalog" / f"{world.cid}.json").read_text())
    out = tmp_path / "envelope.json"
    world.run("get", "--store", world.stores()[0].split("=", 1)[1], entry["envelope"], str(out))
    return out


def test_manifest_cid_and_verify(world: World, tmp_path: Path) -> None:
    envelope = envelope_file(world, tmp_path)
    assert dataseal.manifest_cid(envelope) == world.cid
    assert dataseal.manifest_cid(envelope.read_bytes()) == world.cid
    report = dataseal.verify(envelope, trust=world.trust())
    assert report.verified, report.failures
    assert report.manifest_cid == world.cid
    assert report.codes == []
    report.raise_for_failure()
    # Only the publisher trusted, but two roles required: the threshold is not met.
    partial = dataseal.verify(
        envelope,
        trust=[world.trust()[0]],
        thresholds=["publisher=1", "compliance=1"],
    )
    assert not partial.verified
    assert partial.codes, partial
    with pytest.raises(dataseal.VerificationError):
        partial.raise_for_failure()
    # A flipped byte in the payload: not verified.
    doc = json.loads(envelope.read_text())
    payload = bytearray(doc["payload"].encode())
    payload[10] = ord("A") if payload[10] != ord("A") else ord("B")
    doc["payload"] = payload.decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    assert not dataseal.verify(tampered, trust=world.trust()).verified
    with pytest.raises(dataseal.InvalidInput):
        dataseal.verify(envelope, trust=["/no/such/key.pub=publisher"])
    with pytest.raises(dataseal.InvalidInput):
        dataseal.manifest_cid(b"not json")


def test_the_manifest_and_receipt(world: World) -> None:
    version = dataseal.open_version(world.cid, **world.options(job="job-7"))
    assert version.cid == world.cid
    assert version.manifest["datasetId"] == "py-story"
    assert version.receipt()["objects"] == []
    version.read("labels.csv")
    receipt = version.receipt()
    assert receipt["manifestCid"] == world.cid
    assert receipt["job"] == "job-7"
    assert [o["path"] for o in receipt["objects"]] == ["labels.csv"]
    assert all(b["provider"] in ("a", "b") for b in receipt["objects"][0]["blocks"])


def test_files_and_whole_reads(world: World) -> None:
    version = dataseal.open_version(world.cid, **world.options())
    files = {f.path: f.size for f in version.files()}
    assert files["labels.csv"] == len(world.csv)
    assert files["train/blob.bin"] == len(world.blob)
    assert version.read("labels.csv").decode() == world.csv
    assert version.read("train/blob.bin") == world.blob


def test_seeks_and_partial_reads_across_chunk_boundaries(world: World) -> None:
    version = dataseal.open_version(world.cid, **world.options())
    blob = world.blob
    f = version.open_raw("train/blob.bin")
    assert f.seekable() and f.readable() and not f.writable()
    # Every chunk boundary, from either side, and reads that span two chunks.
    for k in range(1, len(blob) // PLAIN_CHUNK + 1):
        edge = k * PLAIN_CHUNK
        for start in (edge - 1, edge, edge + 1, edge - 100):
            f.seek(start)
            got = f.read(200)
            assert got == blob[start : start + 200], (k, start)
    # Random reads, relative and end-relative seeks.
    rng = random.Random(11)
    for _ in range(200):
        start = rng.randrange(0, len(blob))
        length = rng.randrange(0, 3 * PLAIN_CHUNK)
        f.seek(start)
        assert f.read(length) == blob[start : start + length]
    f.seek(-10, io.SEEK_END)
    assert f.read() == blob[-10:]
    assert f.read(5) == b""
    f.seek(3)
    f.seek(4, io.SEEK_CUR)
    assert f.tell() == 7
    buf = bytearray(1000)
    assert f.readinto(buf) == 1000
    assert bytes(buf) == blob[7:1007]
    f.seek(len(blob) + 50)
    assert f.read(10) == b""
    with pytest.raises(ValueError):
        f.seek(-1)
    f.close()
    with pytest.raises(ValueError):
        f.read(1)
    # Buffered, as open() hands it out.
    with version.open("train/blob.bin") as g:
        g.seek(PLAIN_CHUNK - 3)
        assert g.read(6) == blob[PLAIN_CHUNK - 3 : PLAIN_CHUNK + 3]
        assert g.read() == blob[PLAIN_CHUNK + 3 :]


def test_a_read_fetches_only_the_chunks_it_touches(world: World) -> None:
    version = dataseal.open_version(world.cid, **world.options())
    f = version.open_raw("train/blob.bin")
    f.seek(3 * PLAIN_CHUNK + 10)
    assert f.read(10) == world.blob[3 * PLAIN_CHUNK + 10 : 3 * PLAIN_CHUNK + 20]
    assert version.remote_reads == 1
    receipt = version.receipt()
    (obj,) = receipt["objects"]
    assert obj["path"] == "train/blob.bin"
    # One chunk of ciphertext: its leaf block, plus the DAG nodes above it.
    assert 1 <= len(obj["blocks"]) <= 3


def test_pandas_reads_a_csv_through_dataseal_urls(world: World) -> None:
    url = f"dataseal://{world.cid}/labels.csv"
    frame = pd.read_csv(url, storage_options=world.options())
    expected = pd.read_csv(io.StringIO(world.csv))
    pd.testing.assert_frame_equal(frame, expected)


def test_pyarrow_reads_parquet_through_fsspec(world: World) -> None:
    fs = fsspec.filesystem("dataseal", **world.options())
    assert isinstance(fs, dataseal.DatasealFileSystem)
    table = pq.read_table(f"{world.cid}/table.parquet", filesystem=fs)
    assert table.equals(world.table)
    with fsspec.open(f"dataseal://{world.cid}/table.parquet", "rb", **world.options()) as f:
        assert pq.read_table(f).equals(world.table)


def test_hugging_face_datasets_streams_a_csv(world: World) -> None:
    import datasets

    rows = list(
        datasets.load_dataset(
            "csv",
            data_files=f"dataseal://{world.cid}/labels.csv",
            storage_options=world.options(),
            streaming=True,
            split="train",
        )
    )
    expected = pd.read_csv(io.StringIO(world.csv))
    assert len(rows) == len(expected)
    assert rows[0] == expected.iloc[0].to_dict()
    assert rows[-1]["id"] == 4999


def test_the_filesystem_lists_and_describes(world: World) -> None:
    fs = dataseal.DatasealFileSystem(**world.options())
    top = fs.ls(world.cid, detail=True)
    names = {e["name"]: e["type"] for e in top}
    assert names == {
        f"{world.cid}/labels.csv": "file",
        f"{world.cid}/table.parquet": "file",
        f"{world.cid}/train": "directory",
    }
    assert fs.info(f"{world.cid}/train/blob.bin")["size"] == len(world.blob)
    assert fs.isdir(f"{world.cid}/train")
    assert not fs.exists(f"{world.cid}/nope.csv")
    assert fs.cat_file(f"{world.cid}/train/blob.bin", start=5, end=70000) == world.blob[5:70000]
    with pytest.raises(PermissionError):
        fs.open(f"{world.cid}/labels.csv", "wb")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{world.cid}/missing")


def test_a_wrong_purpose_is_denied(world: World) -> None:
    with pytest.raises(dataseal.PolicyDenied) as denied:
        dataseal.open_version(world.cid, **world.options(purpose="analytics"))
    assert str(denied.value)
    # The denial is in the audit log.
    lines = (world.root / "audit.jsonl").read_text().splitlines()
    assert any("Deny" in line or "deny" in line for line in lines)


def test_a_revoked_version_is_blocked(world: World) -> None:
    with pytest.raises(dataseal.VersionBlocked):
        dataseal.open_version(world.cid, **world.options(record=str(world.root / "revoked.json")))


def test_bad_input_is_a_typed_error(world: World) -> None:
    with pytest.raises(dataseal.InvalidInput):
        dataseal.open_version("not-a-cid", **world.options())
    with pytest.raises(dataseal.InvalidInput):
        dataseal.open_version(world.cid, **world.options(principal="nobody"))
    version = dataseal.open_version(world.cid, **world.options())
    with pytest.raises(dataseal.InvalidInput):
        version.open("no/such/file")
    assert issubclass(dataseal.PolicyDenied, dataseal.DatasealError)


def test_a_corrupted_block_is_routed_around(world: World, tmp_path: Path) -> None:
    # A copy of store a with every block file's bytes flipped, asked first.
    bad = tmp_path / "bad"
    shutil.copytree(world.root / "stores/a", bad)
    flipped = 0
    for path in (bad / "blocks").rglob("*"):
        if path.is_file() and path.stat().st_size > 0:
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
            flipped += 1
    assert flipped > 0
    stores = [f"bad@DE=dir:{bad}", world.stores()[1]]
    # The envelope and every block are asked of the lying store first.
    version = dataseal.open_version(world.cid, **world.options(stores=stores))
    assert version.read("train/blob.bin") == world.blob
    with version.open("table.parquet") as f:
        assert pq.read_table(f).equals(world.table)
    assert version.integrity_failures > 0
    providers = {
        b["provider"] for o in version.receipt()["objects"] for b in o["blocks"]
    }
    assert providers == {"b"}


def _item(args: tuple) -> tuple:
    dataset, index = args
    return os.getpid(), dataset[index]


def test_the_dataset_works_in_worker_processes(world: World) -> None:
    files = dataseal.VersionDataset(world.cid, **world.options())
    assert len(files) == 4
    path, data = files[0]
    assert path == "labels.csv" and data.decode() == world.csv
    records = dataseal.VersionDataset(
        world.cid, path="train/records.bin", record_size=64, **world.options()
    )
    assert len(records) == 100
    assert records[-1] == world.records[-64:]
    clone = pickle.loads(pickle.dumps(records))
    assert clone[5] == world.records[5 * 64 : 6 * 64]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        got = pool.map(_item, [(records, i) for i in range(100)], chunksize=5)
    assert len({pid for pid, _ in got}) >= 2
    assert b"".join(item for _, item in got) == world.records


def _tree(root: Path) -> dict:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            try:
                out[str(p)] = p.stat().st_size
            except FileNotFoundError:
                pass
    return out


def test_no_plaintext_touches_disk(world: World) -> None:
    watched = [Path(tempfile.gettempdir()), Path.cwd(), world.root]
    before = [_tree(d) for d in watched]
    version = dataseal.open_version(world.cid, **world.options())
    fs = dataseal.DatasealFileSystem(**world.options())
    assert version.read("train/blob.bin") == world.blob
    frame = pd.read_csv(f"dataseal://{world.cid}/labels.csv", storage_options=world.options())
    assert len(frame) == 5000
    assert pq.read_table(f"{world.cid}/table.parquet", filesystem=fs).num_rows == 20000
    marker = world.blob[1000:1064]
    for d, old in zip(watched, before):
        for path, size in _tree(d).items():
            if old.get(path) == size and not path.endswith("audit.jsonl"):
                continue
            try:
                data = Path(path).read_bytes()
            except OSError:
                continue
            assert marker not in data, f"plaintext found in {path}"
            assert world.csv[:200].encode() not in data, f"plaintext found in {path}"


def _read_inherited(version: "dataseal.Version") -> str:
    try:
        version.read("labels.csv")
    except dataseal.InvalidInput as e:
        return f"InvalidInput: {e}"
    return "read"


def test_a_version_inherited_through_fork_refuses_instead_of_hanging(world: World) -> None:
    version = dataseal.open_version(world.cid, **world.options())
    version.read("labels.csv")
    # The child inherits the open version through fork (it cannot be pickled).
    _INHERITED[:] = [version]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.map(_read_inherited_global, [0])
    _INHERITED.clear()
    assert result[0].startswith("InvalidInput"), result
    assert "another process" in result[0]


_INHERITED: list = []


def _read_inherited_global(_: int) -> str:
    return _read_inherited(_INHERITED[0])


def test_progress_reports_every_range(world: World) -> None:
    seen: list = []
    version = dataseal.open_version(world.cid, **world.options(progress=seen.append))
    assert version.read("train/blob.bin") == world.blob
    assert [p.path for p in seen] == ["train/blob.bin"] * len(seen)
    # The ranges tile the object, in order, and the total counts them all.
    assert [p.offset for p in seen] == [sum(q.length for q in seen[:i]) for i in range(len(seen))]
    assert sum(p.length for p in seen) == len(world.blob) == version.bytes_fetched
    assert seen[-1].total == len(world.blob) and seen[-1].size == len(world.blob)

    # A callback that raises does not stop the read; None stops the reports.
    def broken(_: dataseal.Progress) -> None:
        raise RuntimeError("progress bar gone")

    caught: list = []
    hook = sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        version.on_progress(broken)
        assert version.read("labels.csv").decode() == world.csv
    finally:
        sys.unraisablehook = hook
    assert caught and all(isinstance(u.exc_value, RuntimeError) for u in caught)
    version.on_progress(None)
    count = len(seen)
    assert version.read("train/records.bin") == world.records
    assert len(seen) == count
