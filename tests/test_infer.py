"""``h5model infer``: a drafted layout validates the file it came from cleanly (dcnum's
RT-DC files, every NWB test file read as plain HDF5), and says what the file holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from test_layouts import write_rtdc

import h5model
from h5model.cli.app import main
from h5model.inference import infer

pytest.importorskip("dcnum.write")  # a test dependency (pyproject: test)


def _clean(path: Path, layout: Path) -> None:
    report = h5model.validate(path, layout=layout, strict=True)
    assert report.exit_code() == 0, report.to_text()
    assert not report.issues, report.to_text()


def _types(draft_folder: Path, namespace: str) -> dict[str, dict]:  # type: ignore[type-arg]
    body = yaml.safe_load((draft_folder / f"{namespace}.types.yaml").read_text())
    return {t["data_type_def"]: t for t in [*body.get("groups", []), *body.get("datasets", [])]}


def test_infer_rtdc_then_validate_is_clean(tmp_path: Path) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    draft = infer(path, tmp_path / "draft")
    _clean(path, tmp_path / "draft")
    types = _types(draft.folder, draft.namespace)
    events = types["Events"]
    collection = next(d for d in events["datasets"] if d.get("quantity") == "+")
    scalar = types[collection["data_type_inc"]]
    assert scalar["shape"] == [None] and scalar["dtype"] == "numeric"  # float64 + float32
    image = types[next(d for d in events["datasets"] if d.get("name") == "image")
                  ["data_type_inc"]]
    assert image["shape"] == [None, 8, 12]  # rows grow, the image size is fixed
    root = types[draft.root_type]
    count = next(a for a in root["attributes"] if a["name"] == "experiment:event count")
    assert count["dtype"] == "int64"
    layout = yaml.safe_load(draft.layout_file.read_text())["layout"]
    assert "pipeline:dcnum generation" in layout["types"][draft.root_type]["text_attributes"]
    with h5model.open(path, layout=draft.folder) as f:
        assert f.root.pipeline_dcnum_generation == 11  # the text literal, typed


def test_infer_numeric_collections_and_damage(tmp_path: Path) -> None:
    path = tmp_path / "traces.h5"
    with h5py.File(path, "w") as h5:
        for origin in ("a.csv", "b.csv"):
            group = h5.create_group(origin)
            group.attrs["rate"] = "1000.0"
            traces = group.create_group("traces")
            for i in (0, 2, 10):
                trace = traces.create_dataset(str(i), data=np.arange(5.0 + i))
                trace.attrs["good"] = "True"
                trace.attrs["onset"] = str(i * 0.5)
    draft = infer(path, tmp_path / "draft", name="caches")
    assert draft.namespace == "caches"
    _clean(path, draft.folder)
    layout = yaml.safe_load(draft.layout_file.read_text())["layout"]
    patterns = {k: v for k, v in layout["types"].items() if "name_pattern" in v}
    assert list(patterns.values()) == [{"name_pattern": "[0-9]+",
                                        "text_attributes": ["good", "onset"]}]
    assert any(v.get("order") == "numeric" for v in layout["types"].values())
    with h5model.open(path, layout=draft.folder) as f:
        traces = f.get("/a.csv/traces")
        assert list(traces) == ["0", "2", "10"]
        assert traces["2"].good is True and traces["2"].onset == 1.0
    with h5py.File(path, "r+") as h5:
        h5["b.csv/traces/2"].attrs["onset"] = "soon"
    rules = {i.rule for i in h5model.validate(path, layout=draft.folder).issues}
    assert "attribute.text-literal" in rules


def test_infer_cli_refuses_to_overwrite(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    out = tmp_path / "draft"
    assert main(["infer", str(path), "-o", str(out)]) == 0
    assert "root type CellsFile" in capsys.readouterr().out
    assert main(["validate", str(path), "--layout", str(out), "--strict"]) == 0
    assert main(["infer", str(path), "-o", str(out)]) == 1
    assert "exist" in capsys.readouterr().err
    assert main(["infer", str(path), "-o", str(out), "--overwrite"]) == 0


def _plain_copy(source: Path, target: Path) -> Path:
    """The NWB file as plain HDF5: no embedded specs, no type attributes."""
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as h5:
        if "specifications" in h5:
            del h5["specifications"]
        h5.attrs.pop(".specloc", None)
        objects = [h5]

        def collect(_: str, obj: h5py.Group | h5py.Dataset) -> None:
            objects.append(obj)

        h5.visititems(collect)
        for obj in objects:
            for key in ("namespace", "neurodata_type", "data_type", "object_id"):
                obj.attrs.pop(key, None)
    return target


def test_infer_every_nwb_test_file_as_plain_hdf5(nwb_files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    for name, source in nwb_files.items():
        for sibling in source.parent.iterdir():  # what external links lead to
            if sibling.suffix in (".nwb", ".h5") and not (tmp_path / sibling.name).exists():
                shutil.copyfile(sibling, tmp_path / sibling.name)
        plain = _plain_copy(source, tmp_path / f"plain-{name}.h5")
        draft = infer(plain, tmp_path / f"draft-{name}")
        report = h5model.validate(plain, layout=draft.folder, strict=True)
        assert report.exit_code() == 0, (name, report.to_text())
        assert not report.issues, (name, report.to_text())
        # as written, the file keeps its own types; the drafted layout adds no issue
        draft = infer(source, tmp_path / f"typed-{name}")
        with_layout = h5model.validate(source, layout=draft.folder)
        without = h5model.validate(source)
        assert with_layout.exit_code() == without.exit_code(), (name, with_layout.to_text())
