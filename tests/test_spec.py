"""Spec reading: finding the spec group, versions, dependencies, normalisation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import yaml
from specfiles import namespace_doc, simple_namespace, write_simple, write_spec_file

import h5model
from h5model.spec import normalize
from h5model.spec.loader import read_embedded, read_namespace_files
from h5model.spec.version import newest, version_key


def test_versions_compare_by_number_not_text() -> None:
    assert newest(["2.9.0", "2.10.0", "2.1.0"]) == "2.10.0"
    assert newest(["1.0.0-alpha", "1.0.0"]) == "1.0.0"
    assert newest(["1.0.0-alpha.2", "1.0.0-alpha.10"]) == "1.0.0-alpha.10"
    assert version_key("garbage") < version_key("0.0.1")


def test_newest_embedded_version_is_used(tmp_path: Path) -> None:
    old = simple_namespace(version="2.9.0", attr_dtype="text")
    new = simple_namespace(version="2.10.0", attr_dtype="int32")
    path = write_spec_file(
        tmp_path / "versions.h5",
        {"lab": {**old, **new}},
        {"namespace": "lab", "data_type": "Thing", "label": 7},
    )
    with h5py.File(path) as f:
        specs = read_embedded(f, str(path))
    assert specs.namespaces["lab"].version == "2.10.0"
    assert specs.available["lab"] == ["2.9.0", "2.10.0"]
    with h5model.open(path) as f:
        assert f.root.label == 7  # the int32 spec of 2.10.0, not the text spec of 2.9.0


def test_neurodata_and_data_type_keys_are_one_thing() -> None:
    nwb = normalize.group({"neurodata_type_def": "A", "neurodata_type_inc": "B", "doc": "x"}, "t")
    hdmf = normalize.group({"data_type_def": "A", "data_type_inc": "B", "doc": "x"}, "t")
    assert nwb == hdmf


def test_shapes_normalise_to_options() -> None:
    one = normalize.shape_options(["x", "y"], [None, 3], "t")
    assert one == [{"dims": [{"name": "x", "length": None}, {"name": "y", "length": 3}]}]
    several = normalize.shape_options([["x"], ["x", "y"]], [[None], [None, None]], "t")
    assert [len(o["dims"]) for o in several] == [1, 2]
    dims_only = normalize.shape_options(["t"], None, "t")
    assert dims_only == [{"dims": [{"name": "t", "length": None}]}]


def test_dtype_forms() -> None:
    assert normalize.dtype("float", "t") == {"primitive": "float32"}
    ref = normalize.dtype({"target_type": "VectorData", "reftype": "object"}, "t")
    assert ref == {"reference": {"target_type": "VectorData", "reftype": "object"}}
    compound = normalize.dtype([{"name": "a", "dtype": "int32", "doc": "d"}], "t")
    assert compound is not None
    assert compound["compound"][0]["dtype"] == {"primitive": "int32"}


def test_specloc_is_followed_before_the_default_group(tmp_path: Path) -> None:
    path = tmp_path / "moved.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("elsewhere/specs")
        for source, content in simple_namespace()["1.0.0"].items():
            group.create_dataset(
                f"lab/1.0.0/{source}", data=json.dumps(content), dtype=h5py.string_dtype()
            )
        f.attrs[".specloc"] = group.ref
        f.attrs["namespace"] = "lab"
        f.attrs["data_type"] = "Thing"
        f.attrs["label"] = "moved"
    with h5model.open(path) as f:
        assert f.root.label == "moved"


def test_no_specs_is_a_clear_error_and_a_namespace_file_helps(tmp_path: Path) -> None:
    path = tmp_path / "bare.h5"
    with h5py.File(path, "w") as f:
        f.attrs["namespace"] = "lab"
        f.attrs["data_type"] = "Thing"
        f.attrs["label"] = "bare"
    with pytest.raises(h5model.NoSpecsError) as info:
        h5model.open(path)
    assert str(path) in str(info.value)
    assert "--spec" in str(info.value)

    folder = tmp_path / "spec"
    folder.mkdir()
    version = simple_namespace()["1.0.0"]
    (folder / "lab.namespace.yaml").write_text(yaml.safe_dump(version["namespace"]))
    (folder / "lab.schema.yaml").write_text(yaml.safe_dump(version["lab.schema"]))
    with h5model.open(path, spec=folder / "lab.namespace.yaml") as f:
        assert type(f.root).__name__ == "Thing"
        assert f.root.label == "bare"


def test_namespace_file_sources_may_not_escape_their_folder(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    folder.mkdir()
    (tmp_path / "secret.yaml").write_text("groups: []\n")
    doc = namespace_doc("lab", "1.0.0", ["../secret.yaml"])
    (folder / "ns.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(h5model.SpecError, match="outside"):
        read_namespace_files([folder / "ns.yaml"])


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    text = "a: &x [1, 2]\nnamespaces: *x\n"
    (tmp_path / "ns.yaml").write_text(text)
    with pytest.raises(h5model.SpecError, match="alias"):
        read_namespace_files([tmp_path / "ns.yaml"])


def test_missing_dependency_names_the_namespace(tmp_path: Path) -> None:
    version = simple_namespace()["1.0.0"]
    version["namespace"] = namespace_doc("lab", "1.0.0", ["lab.schema"], deps=("core",))
    path = write_spec_file(
        tmp_path / "dep.h5",
        {"lab": {"1.0.0": version}},
        {"namespace": "lab", "data_type": "Thing", "label": "x"},
    )
    with pytest.raises(h5model.SpecError, match="'core'") as info:
        h5model.open(path)
    assert str(path) in str(info.value)


def test_malformed_spec_json_names_the_dataset(tmp_path: Path) -> None:
    version = simple_namespace()["1.0.0"]
    version["lab.schema"] = "{ not json"  # type: ignore[assignment]
    path = write_spec_file(
        tmp_path / "bad.h5",
        {"lab": {"1.0.0": version}},
        {"namespace": "lab", "data_type": "Thing", "label": "x"},
    )
    with pytest.raises(h5model.SpecError) as info:
        h5model.open(path)
    assert "/specifications/lab/1.0.0/lab.schema" in str(info.value)


def test_spec_that_breaks_the_language_is_refused(tmp_path: Path) -> None:
    version = simple_namespace()["1.0.0"]
    version["lab.schema"] = {"groups": [{"data_type_def": "Thing", "quantity": {"x": 1}}]}
    path = write_spec_file(
        tmp_path / "bad.h5", {"lab": {"1.0.0": version}}, {"namespace": "lab", "data_type": "Thing"}
    )
    with pytest.raises(h5model.SpecError, match="specification language"):
        h5model.open(path)


def test_unknown_type_in_file_is_a_clear_error(tmp_path: Path) -> None:
    path = write_simple(tmp_path / "t.h5", type_name="Thing")
    with h5py.File(path, "a") as f:
        f.attrs["data_type"] = "Unknown"
    with pytest.raises(h5model.SpecError, match="'Unknown'") as info:
        h5model.open(path)
    assert ": /:" in str(info.value) or "/" in str(info.value)


def test_embedded_specs_of_pynwb_files(nwb_files: dict[str, Path]) -> None:
    with h5py.File(nwb_files["minimal"]) as f:
        specs = read_embedded(f, "minimal")
    assert {"core", "hdmf-common", "hdmf-experimental"} <= set(specs.namespaces)
    assert specs.namespaces["core"].depends == ("hdmf-common",)
    assert specs.find_type("core", "VectorData") is not None
    assert specs.find_type("core", "VectorData")[0] == "hdmf-common"  # type: ignore[index]
