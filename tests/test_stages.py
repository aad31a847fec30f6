"""Single stages on their own: path helpers, the ragged chain, and the generated source of
one small spec (what each part of the rule set becomes in code)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from specfiles import namespace_doc, write_spec_file

from h5model.codegen.registry import generate_sources
from h5model.hdf5.paths import join, name_of, normalise, parent_of
from h5model.rules.ragged import indexed_name, ragged_chain
from h5model.spec.loader import read_embedded


def test_paths() -> None:
    assert join("/", "a") == "/a" and join("/a", "b") == "/a/b"
    assert parent_of("/a/b") == "/a" and parent_of("/a") == "/" and parent_of("/") is None
    assert name_of("/a/b") == "b"
    assert normalise("/a/./b/../c//d") == "/a/c/d" and normalise("/../..") == "/"


def test_ragged_chain() -> None:
    names = {"x", "x_index", "x_index_index", "y", "z_index"}
    assert ragged_chain(names, "x") == ["x", "x_index", "x_index_index"]
    assert ragged_chain(names, "y") == ["y"]
    assert indexed_name("spike_times_index") == "spike_times"
    assert indexed_name("_index") is None and indexed_name("data") is None


SCHEMA = {
    "groups": [
        {
            "data_type_def": "Box",
            "doc": "A box.",
            "attributes": [
                {"name": "label", "dtype": "text", "doc": "a label"},
                {"name": "mode", "dtype": "text", "value": "fixed", "doc": "fixed"},
                {"name": "gain", "dtype": "float", "default_value": 1.5, "required": False,
                 "doc": "gain"},
                {"name": "when", "dtype": "isodatetime", "doc": "time"},
            ],
            "datasets": [
                {"name": "xy", "dtype": "float64", "shape": [[None, 2], [None]],
                 "dims": [["n", "xy"], ["n"]], "doc": "points"},
                {"data_type_inc": "Item", "doc": "items", "quantity": "*"},
            ],
            "links": [{"name": "other", "target_type": "Box", "doc": "a box",
                       "quantity": "?"}],
        },
        {"data_type_def": "Big", "data_type_inc": "Box", "doc": "A big box."},
    ],
    "datasets": [{"data_type_def": "Item", "dtype": "int32", "doc": "An item."}],
}


@pytest.fixture(scope="module")
def box_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("box") / "box.h5"
    namespaces = {"box": {"1.0": {"namespace": namespace_doc("box", "1.0", ["box.schema"]),
                                  "box.schema": SCHEMA}}}
    write_spec_file(path, namespaces, {"namespace": "box", "data_type": "Box"})
    with h5py.File(path, "r") as f:
        specs = read_embedded(f, str(path))
    return generate_sources(specs)["box"][1]


def test_each_part_becomes_its_field(box_source: str) -> None:
    lines = [line.strip() for line in box_source.splitlines()]
    assert "label: str" in lines
    assert "mode: _t.Annotated[str, _r.Fixed('fixed')] = 'fixed'" in lines
    assert "gain: float = 1.5" in lines
    assert "when: _r.IsoDatetime" in lines
    assert ("xy: _t.Annotated[_r.H5Array | _r.InstanceOf[_r.ExternalLink], "
            "_r.ArrayOf(dtype='float64', shapes=((None, 2), (None,)))]") in lines
    assert ("item: dict[str, _r.InstanceOf[_c.Item] | _r.InstanceOf[_r.ExternalLink]] = {}"
            in lines)
    assert "'item': _r.H5Field('children', target_type='Item')," in lines
    assert "'other': _r.H5Field('link', name='other', target_type='Box')," in lines
    assert "'label': 'a label'," in lines  # the spec's docs, as the fields' descriptions
    assert "class Big(_c.Box):" in lines
    assert "def _m_Big():" in lines  # built on first access
    compile(box_source, "box.py", "exec")  # the module is valid Python
