"""The Python package with the registry in the loop: the version's lifecycle, holds and
approvals are read from the registry at the moment a version is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

import dataseal
from conftest import World


class Registry:
    """A SQLite registry in which ``world``'s version is registered and approved."""

    def __init__(self, world: World, root: Path) -> None:
        self.world = world
        self.root = root
        self.url = f"sqlite:{root / 'registry.db'}"

    def run(self, *args: str) -> str:
        return self.world.run("registry", "--registry", self.url, *args)

    def change(self, who: str, role: str, reason: str) -> list:
        return ["--as", f"user:{who}", "--role", role, "--reason", reason]

    def register(self, cid: str) -> None:
        self.run(
            "register",
            "--cid",
            cid,
            "--dataset",
            "py-story",
            "--owner",
            "olivia",
            "--organisation",
            "acme",
            "--uploader",
            "ulrich",
            *self.change("ulrich", "publisher", "upload"),
        )

    def approve(self, cid: str) -> None:
        specs = []
        files = []
        for who, role in [("olivia", "data-owner"), ("carl", "compliance")]:
            keys = self.root / f"approver-{who}"
            if not keys.exists():
                self.world.run("keygen", "--out", str(keys))
            approval = self.run(
                "approval-sign",
                "--key",
                str(keys / "signing.key"),
                "--approver",
                who,
                "--as-role",
                role,
                cid,
            )
            file = self.root / f"approval-{who}.json"
            file.write_text(approval)
            specs += ["--approver", f"{keys / 'signing.pub'}={role}:{who}"]
            files.append(str(file))
        for file in files:
            last = self.run("approve", *specs, file).strip()
        assert last == "approved"

    def open(self, cid: str) -> dataseal.Version:
        options = self.world.options(record=None, registry=self.url)
        return dataseal.open_version(cid, **options)


@pytest.fixture()
def registry(world: World, tmp_path: Path) -> Registry:
    return Registry(world, tmp_path)


def test_the_registry_decides_at_open(world: World, registry: Registry) -> None:
    # Unknown to the registry: denied, before anything of the version is read.
    with pytest.raises(dataseal.PolicyDenied, match="not in the registry"):
        registry.open(world.cid)
    registry.register(world.cid)
    # Quarantined: blocked.
    with pytest.raises(dataseal.DatasealError):
        registry.open(world.cid)
    registry.approve(world.cid)
    registry.run(
        "transition", "--to", "published", world.cid, *registry.change("olivia", "data-owner", "go")
    )
    version = registry.open(world.cid)
    assert version.read("labels.csv").decode() == world.csv
    # A legal hold placed now blocks the next open; lifting it lets reads go on.
    hold = registry.run(
        "hold", "place", "--version", world.cid, *registry.change("lena", "legal", "litigation")
    ).strip()
    with pytest.raises(dataseal.VersionBlocked, match="legal hold"):
        registry.open(world.cid)
    registry.run("hold", "lift", hold, *registry.change("lena", "legal", "settled"))
    assert registry.open(world.cid).read("train/records.bin") == world.records
    # The reads were recorded in the registry.
    reads = registry.run("reads", "--version", world.cid)
    assert "tess" in reads
    # Revoked: blocked from now on.
    registry.run(
        "transition", "--to", "revoked", world.cid, *registry.change("olivia", "data-owner", "pulled")
    )
    with pytest.raises(dataseal.VersionBlocked, match="revoked"):
        registry.open(world.cid)
