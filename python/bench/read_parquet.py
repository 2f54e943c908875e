"""Benchmark: read a ~1 GiB Parquet file through ``dataseal://`` from a ``dir:`` store
against reading the decrypted file from local disk, and random 4 KiB reads per second.

    python python/bench/read_parquet.py --dataseal target/release/dataseal [--gib 1.0]

Needs the package installed (a release wheel: ``maturin build --release``) and pyarrow.
Prints one JSON document with every figure; BENCHMARKS.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import dataseal


def run(bin_: str, cwd: Path, *args: str) -> str:
    done = subprocess.run([bin_, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dataseal {args[0]} exited {done.returncode}: {done.stderr}")
    return done.stdout


def best(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataseal", required=True, help="the dataseal binary (release)")
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--random-reads", type=int, default=3000)
    ap.add_argument("--dir", help="working directory (default: a temporary one)")
    a = ap.parse_args()
    root = Path(a.dir or tempfile.mkdtemp(prefix="dataseal-bench-"))
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    big = src / "big.parquet"
    rows = int(a.gib * (1 << 30) / 64)  # eight 8-byte columns, incompressible
    if not big.exists():
        rng = np.random.default_rng(7)
        chunk = 1 << 22
        writer = None
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            table = pa.table({f"c{i}": rng.integers(0, 1 << 62, n) for i in range(8)})
            if writer is None:
                writer = pq.ParquetWriter(big, table.schema, compression="none")
            writer.write_table(table)
        assert writer is not None
        writer.close()
    size = big.stat().st_size
    for who in ["publisher", "grants", "reader", "job"]:
        if not (root / who).exists():
            run(a.dataseal, root, "keygen", "--out", str(root / who))
    (root / "meta.json").write_text(
        json.dumps(
            {
                "datasetId": "bench",
                "version": "1.0.0",
                "license": "CC-BY-NC-4.0",
                "licenseConditions": {
                    "academicUse": True,
                    "attribution": True,
                    "commercialUse": False,
                    "nonCommercialUse": True,
                    "shareAlike": False,
                    "tier": "research-only",
                },
                "purposes": ["research"],
                "regions": ["EU"],
                "sensitivity": "internal",
            }
        )
    )
    (root / "entities.json").write_text(
        json.dumps(
            {
                "entities": [
                    {
                        "uid": {"type": "Dataseal::User", "id": "tess"},
                        "attrs": {},
                        "parents": [
                            {"type": "Dataseal::Role", "id": "trainer"},
                            {"type": "Dataseal::Group", "id": "acme"},
                        ],
                    }
                ]
            }
        )
    )
    (root / "record.json").write_text(
        json.dumps(
            {
                "owner": "olivia",
                "organisation": "acme",
                "uploader": "ulrich",
                "specialCategoryData": False,
                "state": {
                    "legalHold": False,
                    "revoked": False,
                    "quarantined": False,
                    "erased": False,
                },
            }
        )
    )
    store = f"a@DE=dir:{root / 'stores/a'}"
    started = time.perf_counter()
    cid = run(
        a.dataseal,
        root,
        "publish",
        "--store",
        store,
        "--replicas",
        "1",
        "--key",
        f"{root / 'publisher/signing.key'}=publisher",
        "--recipient",
        str(root / "reader/recipient.pub"),
        "--meta",
        str(root / "meta.json"),
        str(src),
    ).strip()
    publish_s = time.perf_counter() - started
    grant = run(
        a.dataseal, root, "grant", "issue", "--key", str(root / "grants/signing.key"),
        "--issuer", "bench", "--principal", "user:tess", "--cid", cid,
        "--purpose", "research", "--region", "DE", "--action", "train",
    ).strip()
    options = dict(
        stores=[store],
        identity=str(root / "reader/recipient.key"),
        trust=[f"{root / 'publisher/signing.pub'}=publisher"],
        entities=str(root / "entities.json"),
        record=str(root / "record.json"),
        grant=grant,
        grant_keys=[str(root / "grants/signing.pub")],
        principal="user:tess",
        purpose="research",
        region="DE",
        catalog=str(root / ".dataseal/catalog"),
        keys_dir=str(root / ".dataseal/keys"),
    )
    started = time.perf_counter()
    fs = dataseal.DatasealFileSystem(**options)
    version = fs.version(cid)
    open_s = time.perf_counter() - started
    path = f"{cid}/big.parquet"

    local_s = best(lambda: pq.read_table(big), a.repeat)
    sealed_s = best(lambda: pq.read_table(path, filesystem=fs), a.repeat)
    assert pq.read_table(path, filesystem=fs).num_rows == rows

    rng = random.Random(11)
    offsets = [rng.randrange(0, size - 4096) for _ in range(a.random_reads)]

    def local_random() -> None:
        with open(big, "rb", buffering=0) as f:
            for o in offsets:
                f.seek(o)
                f.read(4096)

    def sealed_random() -> None:
        with version.open_raw("big.parquet") as f:
            for o in offsets:
                f.seek(o)
                f.read(4096)

    local_rand_s = best(local_random, a.repeat)
    sealed_rand_s = best(sealed_random, a.repeat)
    gib = size / (1 << 30)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, pyarrow {pa.__version__}",
                "file_bytes": size,
                "publish_s": round(publish_s, 2),
                "open_version_s": round(open_s, 3),
                "read_table_local_s": round(local_s, 3),
                "read_table_dataseal_s": round(sealed_s, 3),
                "read_table_local_gib_s": round(gib / local_s, 2),
                "read_table_dataseal_gib_s": round(gib / sealed_s, 2),
                "ratio_dataseal_to_local": round(local_s / sealed_s, 2),
                "random_4k_local_per_s": round(a.random_reads / local_rand_s),
                "random_4k_dataseal_per_s": round(a.random_reads / sealed_rand_s),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
