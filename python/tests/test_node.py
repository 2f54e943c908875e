"""The Python package against a real js-ipfs node speaking the Kubo RPC API: every
block read from the node, re-hashed, decrypted in memory."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq

import dataseal
from conftest import PLAIN_CHUNK, World


def node_only(world: World) -> dict:
    assert world.node
    return world.options(stores=[f"node@DE=kubo:{world.node}"])


def test_pandas_and_pyarrow_read_from_the_node(node_world: World) -> None:
    options = node_only(node_world)
    frame = pd.read_csv(f"dataseal://{node_world.cid}/labels.csv", storage_options=options)
    pd.testing.assert_frame_equal(frame, pd.read_csv(io.StringIO(node_world.csv)))
    fs = dataseal.DatasealFileSystem(**options)
    assert pq.read_table(f"{node_world.cid}/table.parquet", filesystem=fs).equals(
        node_world.table
    )
    version = fs.version(node_world.cid)
    providers = {b["provider"] for o in version.receipt()["objects"] for b in o["blocks"]}
    assert providers == {"node"}


def test_ranges_across_chunk_boundaries_from_the_node(node_world: World) -> None:
    version = dataseal.open_version(node_world.cid, **node_only(node_world))
    blob = node_world.blob
    with version.open_raw("train/blob.bin") as f:
        for k in range(1, len(blob) // PLAIN_CHUNK + 1):
            start = k * PLAIN_CHUNK - 7
            f.seek(start)
            assert f.read(14) == blob[start : start + 14], k
        f.seek(-3, io.SEEK_END)
        assert f.read() == blob[-3:]
    assert version.read("train/blob.bin") == blob
