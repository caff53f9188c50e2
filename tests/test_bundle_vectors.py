"""protocol-spec/vectors/bundles.json against the code: each bundle imported into an empty store
gives its stated counts and error, and the state file decodes to its stated fields."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store.bundles import read_import
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.federation.bundle import BundleError, BundleReader, decode_state, encode_state

VECTORS = json.loads((Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors" / "bundles.json")
                     .read_text())
BY_NAME = {b["name"]: b for b in VECTORS["bundles"]}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    create_data_dir(tmp_path / "d", new_key().public, new_key(), None)
    opened = open_node(tmp_path / "d")
    yield opened
    opened.close()


def test_state_file_decodes_to_its_fields() -> None:
    expected = VECTORS["state"]
    state = decode_state(bytes.fromhex(expected["file"]))
    assert state.device.hex() == expected["device"]
    assert state.assembly.hex() == expected["assembly"]
    assert state.digest.hex() == expected["digest"]
    assert {doc: {a.hex(): s for a, s in v} for doc, v in state.vectors} == expected["vectors"]
    assert encode_state(state).hex() == expected["file"]


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_bundle_imports_as_stated(name: str, node: Node, tmp_path: Path) -> None:
    vector: dict[str, Any] = BY_NAME[name]
    path = tmp_path / f"{name}.pnyx"
    path.write_bytes(bytes.fromhex(vector["bundle"]))
    result = read_import(node, path)
    assert result.records == vector["records"]
    assert result.report.accepted == vector["new"] == node.store.count_changes()
    assert [reason for reason, _ in result.report.rejected] == vector["rejected"]
    assert (result.error.code if result.error else None) == vector["error"]
    assert result.header is not None
    assert result.header.exporter == decode_state(bytes.fromhex(VECTORS["state"]["file"]))


def test_damage_is_located_at_its_record() -> None:
    vector = BY_NAME["damaged"]
    reader = BundleReader(io.BytesIO(bytes.fromhex(vector["bundle"])))
    with pytest.raises(BundleError) as raised:
        list(reader.records())
    assert raised.value.offset == VECTORS["record_offsets"][3]
