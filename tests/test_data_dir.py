"""What the server keeps on disk (the store, the secret key, the Salesforce CA bundle) is for
the user it runs as alone: the data dir is 0700 and every file in it 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import trustme
from support import PASSWORD

from server.keys import load_secret_key
from server.services import Services
from server.settings import Settings
from server.store import open_embedded


def _loose(root: Path) -> list[str]:
    """Paths below root that someone other than the owner may read, write or enter."""
    return [
        f"{p.relative_to(root)} {stat.filemode(p.stat().st_mode)}"
        for p in (root, *root.rglob("*"))
        if p.stat().st_mode & 0o077
    ]


async def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # as a usual login shell has it
    try:
        data_dir = tmp_path / "data"
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        settings = Settings(data_dir=data_dir, salesforce_ca_bundle=tmp_path / "ca.pem")
        store = await open_embedded(data_dir)
        try:
            services = Services.build(settings, store)
            await services.accounts.create_account("Acme", "a@acme.test", "Ada", PASSWORD)
        finally:
            await store.close()
        assert (data_dir / "secret.key").exists()
        assert (data_dir / "salesforce-ca-bundle.pem").exists()
        assert _loose(data_dir) == []
    finally:
        os.umask(old)


async def test_an_existing_data_dir_is_tightened_on_open(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = await open_embedded(data_dir)
    await store.close()
    for p in (data_dir, *data_dir.rglob("*")):
        p.chmod(0o755 if p.is_dir() else 0o644)
    store = await open_embedded(data_dir)
    await store.close()
    load_secret_key(None, data_dir)
    assert _loose(data_dir) == []
