"""Fixtures: a governed version published by the ``dataseal`` command line into two
``dir:`` stores, with the keys, entities and grant a reader needs."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
CHUNK = 65536
PLAIN_CHUNK = CHUNK - 16


def dataseal_bin() -> str:
    found = os.environ.get("DATASEAL_BIN")
    if found:
        return found
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "debug" / "dataseal"
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build -p dataseal-examples`")
    return str(path)


class World:
    """A working directory with keys, a source dataset and two stores."""

    def __init__(self, root: Path, node: "str | None" = None) -> None:
        self.root = root
        self.node = node
        for who in ["publisher", "compliance", "grants", "reader", "job"]:
            self.run("keygen", "--out", str(root / who))
        src = root / "src"
        (src / "train").mkdir(parents=True)
        rng = random.Random(7)
        self.csv = "id,label,score\n" + "".join(
            f"{i},{rng.choice(['cat', 'dog', 'owl'])},{rng.random():.6f}\n" for i in range(5000)
        )
        (src / "labels.csv").write_text(self.csv)
        # Several chunks, the last one partial.
        self.blob = rng.randbytes(PLAIN_CHUNK * 5 + 1234)
        (src / "train" / "blob.bin").write_bytes(self.blob)
        self.records = rng.randbytes(64 * 100)
        (src / "train" / "records.bin").write_bytes(self.records)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.table = pa.table(
            {
                "id": list(range(20000)),
                "text": [f"row {i} {rng.random()}" for i in range(20000)],
            }
        )
        pq.write_table(self.table, src / "table.parquet")
        (root / "meta.json").write_text(
            json.dumps(
                {
                    "datasetId": "py-story",
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
                    "purposes": ["research", "training"],
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
        self.write_record("record.json")
        self.write_record("revoked.json", revoked=True)
        out = self.run(
            "publish",
            *self.store_args(),
            "--key",
            f"{root / 'publisher/signing.key'}=publisher",
            "--key",
            f"{root / 'compliance/signing.key'}=compliance",
            "--recipient",
            str(root / "reader/recipient.pub"),
            "--meta",
            str(root / "meta.json"),
            "--chunk-size",
            str(CHUNK),
            str(src),
        )
        self.cid = out.strip()
        self.grant = self.run(
            "grant",
            "issue",
            "--key",
            str(root / "grants/signing.key"),
            "--issuer",
            "test",
            "--principal",
            "user:tess",
            "--cid",
            self.cid,
            "--purpose",
            "research",
            "--region",
            "DE",
            "--action",
            "train",
        ).strip()

    def write_record(self, name: str, **state: bool) -> None:
        flags = {"legalHold": False, "revoked": False, "quarantined": False, "erased": False}
        flags.update(state)
        (self.root / name).write_text(
            json.dumps(
                {
                    "owner": "olivia",
                    "organisation": "acme",
                    "uploader": "ulrich",
                    "specialCategoryData": False,
                    "state": flags,
                }
            )
        )

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [dataseal_bin(), *args], cwd=self.root, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise AssertionError(f"dataseal {args[0]} exited {done.returncode}: {done.stderr}")
        return done.stdout

    def stores(self) -> list:
        dirs = [f"{n}@DE=dir:{self.root / 'stores' / n}" for n in ("a", "b")]
        if self.node:
            return [f"node@DE=kubo:{self.node}", dirs[0]]
        return dirs

    def store_args(self) -> list:
        out = []
        for s in self.stores():
            out += ["--store", s]
        return out

    def trust(self) -> list:
        return [
            f"{self.root / 'publisher/signing.pub'}=publisher",
            f"{self.root / 'compliance/signing.pub'}=compliance",
        ]

    def options(self, **over: object) -> dict:
        """The keyword arguments of ``open_version`` for tess reading for research."""
        base = dict(
            stores=self.stores(),
            identity=str(self.root / "reader/recipient.key"),
            trust=self.trust(),
            entities=str(self.root / "entities.json"),
            record=str(self.root / "record.json"),
            grant=self.grant,
            grant_keys=[str(self.root / "grants/signing.pub")],
            principal="user:tess",
            purpose="research",
            region="DE",
            catalog=str(self.root / ".dataseal/catalog"),
            keys_dir=str(self.root / ".dataseal/keys"),
            audit_log=(str(self.root / "audit.jsonl"), str(self.root / "job/signing.key")),
        )
        base.update(over)
        return base


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session")
def node_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A version published to a real js-ipfs node (and one ``dir:`` store)."""
    api = os.environ.get("DATASEAL_TEST_KUBO")
    if not api:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and no node: DATASEAL_TEST_KUBO is not set")
        pytest.skip("no js-ipfs node (run through `cargo test`, which starts one)")
    return World(tmp_path_factory.mktemp("node-world"), node=api)
