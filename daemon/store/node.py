"""A data directory opened for use: identity, keys, store and documents.

Layout of a data directory (README "Data directory"):
  identity.json   the assembly this device writes for
  device.key      this device's private key seed (0600)
  assembly.key    the assembly's private key seed (0600), only on the device
                  that holds it
  api.token       the local API's token for writes (0600), read by the CLI
                  and by whoever may write through the API or the web page
  daemon.json     while `pnyx run` serves this directory: its pid and API URL
                  (daemon/services/presence.py); removed on a clean stop
  pnyx.sqlite     the store (plus its -wal and -shm files)
  store.mark      what the store is known to have held (daemon/store/mark.py)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from pnyx.federation.docids import ledger_id
from pnyx.federation.keys import SigningKey, key_text, parse_key

from .documents import DocumentCache
from .faults import StoreFault, fault
from .ingest import Ingestor
from .mark import check_mark, write_mark
from .sqlite import Store

IDENTITY_FILE = "identity.json"
DEVICE_KEY_FILE = "device.key"
ASSEMBLY_KEY_FILE = "assembly.key"
STORE_FILE = "pnyx.sqlite"
API_TOKEN_FILE = "api.token"


class SetupError(Exception):
    """The data directory is missing, incomplete or not what the command needs."""


def default_data_dir() -> Path:
    env = os.environ.get("PNYX_DATA")
    return Path(env) if env else Path(platformdirs.user_data_dir("pnyx"))


def write_key(path: Path, key: SigningKey) -> None:
    """Write a private key seed readable by its owner only, never wider for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key_text(key.seed) + "\n")


def read_key(path: Path) -> SigningKey:
    try:
        return SigningKey(parse_key(path.read_text()))
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read key {path}: {exc}") from None


def ensure_api_token(data: Path) -> str:
    """The API token of `data`, made (0600, never wider for a moment) if it has none yet."""
    path = data / API_TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_api_token(data)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def read_api_token(data: Path) -> str:
    try:
        token = (data / API_TOKEN_FILE).read_text().strip()
    except OSError as exc:
        raise SetupError(f"cannot read the API token: {exc}") from None
    if not token:
        raise SetupError(f"{data / API_TOKEN_FILE} is empty; delete it and restart `pnyx run`")
    return token


def new_key() -> SigningKey:
    return SigningKey(os.urandom(32))


@dataclass
class Node:
    """An opened data directory; close() it when done."""

    data: Path
    assembly: bytes
    device_key: SigningKey
    assembly_key: SigningKey | None
    store: Store
    docs: DocumentCache
    ingestor: Ingestor

    @property
    def ledger_id(self) -> str:
        return ledger_id(self.assembly)

    def close(self) -> None:
        """Save the snapshots due (off every command's hot path), note what the store holds
        (daemon/store/mark.py), then close the store."""
        try:
            self.docs.save_snapshots()
        finally:
            try:
                write_mark(self.data, self.store)
            finally:
                self.store.close()


def open_node(data: Path, expect_records: bool = True) -> Node:
    """Open a data directory; StoreFault if its store is damaged or, with `expect_records`,
    lost records it is known to have held (daemon/store/mark.py)."""
    if data.exists() and not data.is_dir():
        raise SetupError(f"{data} is not a data directory but a file: give another --data")
    identity_path = data / IDENTITY_FILE
    if not identity_path.exists():
        raise SetupError(f"no assembly in {data}: run `pnyx init --assembly NAME` first")
    try:
        identity = json.loads(identity_path.read_text())
        assembly = parse_key(identity["assembly"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SetupError(f"{identity_path} is damaged: {exc}") from None
    assembly_path = data / ASSEMBLY_KEY_FILE
    assembly_key = read_key(assembly_path) if assembly_path.exists() else None
    try:
        store = Store(data / STORE_FILE)
    except Exception as exc:
        found = fault(exc)
        if found is None:
            raise
        raise found from None
    if expect_records:
        try:
            check_mark(data, store)
        except StoreFault:
            store.close()
            raise
    docs = DocumentCache(store)
    return Node(data, assembly, read_key(data / DEVICE_KEY_FILE), assembly_key, store, docs,
                Ingestor(store, docs))


def create_data_dir(data: Path, assembly: bytes, device_key: SigningKey,
                    assembly_key: SigningKey | None) -> None:
    """Lay out a new data directory; refuses one that already holds an identity."""
    if (data / IDENTITY_FILE).exists() or (data / STORE_FILE).exists():
        raise SetupError(f"{data} already holds an assembly; refusing to overwrite it")
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_key(data / DEVICE_KEY_FILE, device_key)
    if assembly_key is not None:
        write_key(data / ASSEMBLY_KEY_FILE, assembly_key)
    ensure_api_token(data)
    tmp = data / (IDENTITY_FILE + ".tmp")
    tmp.write_text(json.dumps({"assembly": key_text(assembly), "version": 1}) + "\n")
    os.replace(tmp, data / IDENTITY_FILE)
