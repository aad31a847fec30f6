"""``h5model embed``: a file dcnum wrote, checked against the rtdc layout, becomes
self-describing in one crash-safe save; afterwards it reads, validates and opens in
hdmf without the layout."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from test_layouts import write_rtdc

import h5model
from h5model.cli.app import main
from h5model.storage.journal import journal_path
from h5model.storage.locking import recover

pytest.importorskip("dcnum.write")  # a test dependency (pyproject: test)


def _models(path: Path, **kwargs: Any) -> dict[str, tuple[str, Any]]:
    """Every model's class and content by path (object ids and the spec group aside)."""
    out = {}
    with h5model.open(path, **kwargs) as f:
        for where, model in f._models.items():
            if where.startswith("/specifications"):
                continue
            out[where] = (type(model).__name__, _plain(model.model_dump(exclude={"object_id"})))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "object_id"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "__getitem__"):
        return np.asarray(value[()]).tolist()
    return value


def _bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_embed_then_open_gives_the_same_models(tmp_path: Path) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    before = _models(path, layout="rtdc")
    done = h5model.embed(path, "rtdc")
    assert done.typed["/"] == "RTDCFile" and done.typed["/events/image"] == "ImageFeature"
    after = _models(path)  # no layout given: the file says what it is
    assert after == before
    with h5model.open(path) as f:
        assert f.root.pipeline_dcnum_generation == 11  # the layout's text literal, kept
        assert f.layout is not None and f.layout.name == "rtdc"
    with h5py.File(path) as h5:
        assert h5["events/deform"].attrs["data_type"] == "ScalarFeature"
        assert h5["events/deform"].attrs["namespace"] == "rtdc"
        assert len(h5["events/deform"].attrs["object_id"]) == 36
        assert h5["/"].attrs["pipeline:dcnum generation"] == "11"  # still text on disk
        assert h5[h5.attrs[".specloc"]].name == "/specifications"
    report = h5model.validate(path, strict=True)
    assert report.exit_code() == 0, report.to_text()


def test_embedded_layout_checks_rows_without_layout(tmp_path: Path) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    h5model.embed(path, "rtdc")
    with h5py.File(path, "r+") as h5:
        h5.attrs["experiment:event count"] = 7
    rules = {i.rule for i in h5model.validate(path).issues}
    assert "layout.rows" in rules


def test_embedded_file_opens_in_hdmf(tmp_path: Path) -> None:
    from hdmf.backends.hdf5 import HDF5IO
    from hdmf.build import BuildManager
    from hdmf.common import get_type_map

    path = write_rtdc(tmp_path / "cells.rtdc")
    h5model.embed(path, "rtdc")
    type_map = get_type_map()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = HDF5IO.load_namespaces(type_map, str(path))  # what load_namespaces=True did
        assert "rtdc" in loaded
        with HDF5IO(str(path), "r", manager=BuildManager(type_map)) as io:
            builder = io.read_builder()
    assert builder.attributes["data_type"] == "RTDCFile"
    assert builder.groups["events"].datasets["deform"].attributes["data_type"] == "ScalarFeature"


def test_embed_refuses_a_file_the_layout_does_not_fit(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    with h5py.File(path, "r+") as h5:
        h5.attrs["pipeline:dcnum generation"] = "eleven"
    before = _bytes(path)
    with pytest.raises(h5model.EmbedRefused) as refused:
        h5model.embed(path, "rtdc")
    assert refused.value.report.exit_code() == 1
    assert main(["embed", str(path), "--layout", "rtdc"]) == 1
    assert "attribute.text-literal" in capsys.readouterr().out
    assert _bytes(path) == before


def test_embed_cli_with_another_root_type(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write_rtdc(tmp_path / "cells.rtdc")
    assert main(["embed", str(path), "--layout", "rtdc", "--root-type", "RTDCFile", "-v"]) == 0
    out = capsys.readouterr().out
    assert "object(s) typed" in out and "saved by" in out
    with pytest.raises(h5model.H5ModelError, match="already embeds"):
        h5model.embed(path, "rtdc")
    with pytest.raises(h5model.SpecError, match="NoSuchType"):
        h5model.embed(write_rtdc(tmp_path / "other.rtdc"), "rtdc", root_type="NoSuchType")


# -- crash safety --------------------------------------------------------------------------
EMBEDDER = textwrap.dedent(
    """
    import sys
    import h5model

    print("embedding", flush=True)
    h5model.embed(sys.argv[1], "rtdc")
    print("embedded", flush=True)
    """
)
FEATURES = 400
KILLS = 8


def _wide_rtdc(path: Path) -> Path:
    """Many features: many objects to type, so a kill lands inside the save."""
    write_rtdc(path)
    with h5py.File(path, "r+") as h5:
        for i in range(FEATURES):
            h5["events"].create_dataset(f"extra{i:03d}", data=np.arange(40.0))
    return path


def _run(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", EMBEDDER, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "embedding"
    return child


@pytest.mark.parametrize("copy_limit", ["0", "1G"], ids=["journal", "copy"])
def test_kill_during_embed_leaves_old_or_embedded(tmp_path: Path, copy_limit: str) -> None:
    source = _wide_rtdc(tmp_path / "source.rtdc")
    env = {**os.environ, "H5MODEL_SAVE_COPY_LIMIT": copy_limit}
    reference = tmp_path / "reference.rtdc"
    shutil.copyfile(source, reference)
    started = time.perf_counter()
    child = _run(reference, env)
    assert child.wait(timeout=120) == 0, child.communicate()[1]
    duration = time.perf_counter() - started
    embedded = _models(reference)
    old, seen = _bytes(source), set()
    rng = random.Random(20261202)
    for run in range(KILLS):
        path = tmp_path / f"killed{run}.rtdc"
        shutil.copyfile(source, path)
        child = _run(path, env)
        time.sleep(rng.uniform(0, duration))
        child.kill()
        child.wait(timeout=60)
        recover(path)  # what the next writer (or `h5model recover`) does
        assert not journal_path(path).exists()
        if _bytes(path) == old:
            seen.add("old")
            continue
        assert _models(path) == embedded
        assert h5model.validate(path, strict=True).exit_code() == 0
        seen.add("embedded")
    assert seen  # (which states were seen depends on the machine's speed)


def test_hdmf_builds_the_event_features_of_an_embedded_file(tmp_path: Path) -> None:
    """A feature's type says it is an array of one row per event (its allowed shapes), so
    hdmf's generated classes take a feature's data as the array it is."""
    from hdmf.backends.hdf5 import HDF5IO
    from hdmf.build import BuildManager
    from hdmf.common import get_type_map

    path = write_rtdc(tmp_path / "cells.rtdc")
    h5model.embed(path, "rtdc")
    type_map = get_type_map()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HDF5IO.load_namespaces(type_map, str(path))
        manager = BuildManager(type_map)
        with HDF5IO(str(path), "r", manager=manager) as io:
            events = io.read_builder().groups["events"]
            with h5py.File(path, "r") as h5:
                for name in ("deform", "image"):
                    feature = manager.construct(events.datasets[name])
                    assert feature.data.shape == h5["events"][name].shape


def _hdmf_reads(path: Path) -> Any:
    """What hdmf's generic reader makes of a file: its namespaces loaded from the file
    (as ``load_namespaces=True`` did), then the whole container tree constructed."""
    from hdmf.backends.hdf5 import HDF5IO
    from hdmf.build import BuildManager
    from hdmf.common import get_type_map

    type_map = get_type_map()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HDF5IO.load_namespaces(type_map, str(path))
        with HDF5IO(str(path), "r", manager=BuildManager(type_map)) as io:
            root = io.read()
            return root, {c.name: c for c in root.all_objects.values()}


def test_hdmf_reads_text_literal_attributes_of_an_embedded_rtdc_file(tmp_path: Path) -> None:
    """The layout keeps 'pipeline:dcnum generation' as text holding an int: the embedded
    spec says text (what is stored), hdmf reads it; h5model still reads an int."""
    path = write_rtdc(tmp_path / "cells.rtdc")
    before = _models(path, layout="rtdc")
    h5model.embed(path, "rtdc")
    root, _ = _hdmf_reads(path)
    assert getattr(root, "pipeline:dcnum generation", None) in ("11", None)
    with h5py.File(path) as h5:
        assert h5.attrs["pipeline:dcnum generation"] == "11"  # stored as it was
    with h5model.open(path) as f:
        assert f.root.pipeline_dcnum_generation == 11
    after = _models(path)
    assert after == before


def test_hdmf_reads_an_embedded_offspect_cache(tmp_path: Path) -> None:
    from test_layout_offspect import META, write_cache

    path = write_cache(tmp_path / "cache.hdf5", {"a.cnt": (META, [0, 1, 10])})
    before = _models(path, layout="offspect")
    h5model.embed(path, "offspect")
    _, objects = _hdmf_reads(path)
    assert {"a.cnt", "traces", "0", "1", "10"} <= set(objects)
    with h5model.open(path) as f:
        origin = f.root["a.cnt"]
        assert origin.samplingrate == 1000.0 and origin.samples_pre_event == 5
        assert origin.traces["10"].id == 10 and origin.traces["10"].reject is False
    assert _models(path) == before
    assert h5model.validate(path, strict=True).exit_code() == 0
