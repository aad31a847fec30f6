"""Files whose extents, selections or attributes claim far more than they hold: every
command answers within a bounded time and memory, and a value over a limit is a clear
error naming the file, the HDF5 path and the limit.

Each command runs in a child under an address-space limit and a timeout, so that a
regression fails its test instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import pytest

import h5model
from h5model.hdf5 import limits, stored
from h5model.hdf5.graph import build_graph
from h5model.hdf5.limits import LimitError
from tests.nwbfiles import write_hdmf_table, write_minimal

MEMORY = 2 << 30
"""Address space each child may take (bytes)."""
TIMEOUT = 60
"""Seconds each child may run."""

_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    if os.environ.get("HIDE_COMPILED"):  # as where the C extension could not be built
        sys.modules["h5model.hdf5._native._fastattrs"] = None
    resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
    from h5model.cli.app import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    # the high-water mark of this process' own memory (ru_maxrss would carry the parent's
    # over the exec)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
    print(json.dumps({{"code": code, "peak": peak}}), file=sys.stderr)
    """
)


def run_bounded(*args: str | Path, **env: str) -> tuple[int, str, int]:
    """``h5model ARGS`` in a child limited to ``MEMORY`` and ``TIMEOUT``: (exit code,
    output and errors, peak resident bytes)."""
    script = _CHILD.format(memory=MEMORY)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, **env},
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"h5model {' '.join(map(str, args))} ran longer than {TIMEOUT} s")
    lines = done.stderr.strip().splitlines()
    assert lines, f"the child died (exit {done.returncode}) without a word"
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, f"the child crashed on its way out ({done.returncode})"
    result = json.loads(lines[-1])
    code = result["code"] if isinstance(result["code"], int) else 0
    return code, done.stdout + "\n".join(lines[:-1]), result["peak"]


@pytest.fixture
def restore_limits() -> Iterator[None]:
    previous = limits.LIMITS
    yield
    h5model.set_limits(**asdict(previous))


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_minimal(tmp_path_factory.mktemp("minimal"))


@pytest.fixture(scope="module")
def hdmf_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hdmf_table(tmp_path_factory.mktemp("table"))


def _copy(source: Path, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    shutil.copy(source, path)
    return path


def _every_command(path: Path, tmp_path: Path, **env: str) -> dict[str, tuple[int, str, int]]:
    return {
        "show": run_bounded("show", path, **env),
        "validate": run_bounded("validate", path, **env),
        "graph": run_bounded("graph", path, "-o", tmp_path / "graph.json", **env),
        "truncate": run_bounded("truncate", path, tmp_path / "cut.h5", "--overwrite", **env),
    }


# -- datasets of references that claim more than they store ------------------------------------


def test_an_unwritten_reference_row_of_2_30_elements_is_not_read(
    minimal: Path, tmp_path: Path
) -> None:
    """Was: 23.8 GB for a 224 KB file (references read a row at a time)."""
    path = _copy(minimal, tmp_path, "wide.nwb")
    with h5py.File(path, "r+") as f:
        f.create_dataset("wide_refs", shape=(1, 2**30), dtype=h5py.ref_dtype)
        f.create_dataset("wide_chunked", shape=(1, 2**30), dtype=h5py.ref_dtype, chunks=(1, 4096))
    assert path.stat().st_size < 1 << 20
    for command, (code, output, peak) in _every_command(path, tmp_path).items():
        assert code in (0, 1), (command, output)
        assert peak < 1 << 30, (command, peak)


def test_an_empty_reference_dataset_of_2_40_elements_is_quick(
    minimal: Path, tmp_path: Path
) -> None:
    """Was: minutes in validate, show, graph and truncate (every element read)."""
    path = _copy(minimal, tmp_path, "long.nwb")
    with h5py.File(path, "r+") as f:
        f.create_dataset("long_refs", shape=(2**40,), dtype=h5py.ref_dtype)
        chunked = f.create_dataset(
            "long_chunked", shape=(2**40,), dtype=h5py.ref_dtype, chunks=(1024,), maxshape=(None,)
        )
        chunked[2**39 + 5] = f["acquisition/series"].ref  # one chunk stored, far out
        chunked[3] = f["acquisition"].ref  # and one among the rows a truncated copy keeps
    for command, (code, output, _) in _every_command(path, tmp_path).items():
        assert code in (0, 1), (command, output)
    with h5py.File(path, "r") as f:
        graph = build_graph(f, str(path)).graph
    assert graph.has_edge("/long_chunked", "/acquisition/series")  # the stored one is found
    with h5py.File(tmp_path / "cut.h5", "r") as f:
        assert f[f["long_chunked"][3]].name == "/acquisition"


def test_a_reference_dataset_over_the_limit_is_a_clear_error(
    minimal: Path, tmp_path: Path
) -> None:
    path = _copy(minimal, tmp_path, "many.nwb")
    with h5py.File(path, "r+") as f:
        ref = f["acquisition/series"].ref
        f.create_dataset("many_refs", data=np.array([ref] * 1000, dtype=h5py.ref_dtype))
    env = {limits.REFERENCES_VARIABLE: "100"}
    code, output, _ = run_bounded("validate", path, **env)
    assert code == 1
    assert "/many_refs" in output and "file.limit-exceeded" in output
    assert limits.REFERENCES_VARIABLE in output
    for command in ("show", "graph"):
        extra = ("-o", tmp_path / "g.json") if command == "graph" else ()
        code, output, _ = run_bounded(command, path, *extra, **env)
        assert code in (1, 2), output
        assert str(path) in output and "/many_refs" in output and "1000" in output
    assert run_bounded("validate", path)[0] == 0  # under the default limit: read


def test_the_reference_limit_is_settable_from_python(
    minimal: Path, tmp_path: Path, restore_limits: None
) -> None:
    path = _copy(minimal, tmp_path, "many.nwb")
    with h5py.File(path, "r+") as f:
        ref = f["acquisition/series"].ref
        f.create_dataset("many_refs", data=np.array([ref] * 1000, dtype=h5py.ref_dtype))
    h5model.set_limits(references=999)
    with pytest.raises(LimitError) as caught:
        h5model.open(path, structure="at_open")
    assert caught.value.hdf5_path == "/many_refs" and caught.value.file == str(path)
    with h5model.open(path) as f:  # on demand: the references are read only if asked for
        assert f.root.session_description
        with pytest.raises(LimitError) as caught:
            f.index  # noqa: B018  (every object's metadata: the references too)
        assert caught.value.hdf5_path == "/many_refs"
    [issue] = [i for i in h5model.validate(path).issues if i.rule == "file.limit-exceeded"]
    assert issue.hdf5_path == "/many_refs"
    h5model.set_limits(references=1000)
    h5model.open(path).close()


# -- regions and indexes ---------------------------------------------------------------------


def _replace(f: h5py.File, path: str, **create: object) -> h5py.Dataset:
    """Recreate the dataset at ``path`` with ``create``, keeping its attributes."""
    attrs = dict(f[path].attrs)
    del f[path]
    dataset = f.create_dataset(path, **create)
    for name, value in attrs.items():
        dataset.attrs[name] = value
    return dataset


def test_truncate_does_not_walk_a_region_of_2_40_rows(hdmf_table: Path, tmp_path: Path) -> None:
    """Was: a hang (the region's rows read a million at a time, all 2**40 of them)."""
    path = _copy(hdmf_table, tmp_path, "region.h5")
    with h5py.File(path, "r+") as f:
        region = _replace(f, "/main/target", shape=(2**40,), dtype="i8", chunks=(4096,),
                          maxshape=(None,))
        region[:4] = [0, 1, 2, 1]
        region[2**39] = 2
        ids = _replace(f, "/main/id", shape=(2**40,), dtype="i8", chunks=(4096,), maxshape=(None,))
        ids[:4] = np.arange(4)
    code, output, _ = run_bounded("truncate", path, tmp_path / "cut.h5", "-n", "2")
    assert code == 0, output
    code, output, _ = run_bounded("validate", path)
    assert code in (0, 1), output


def test_validate_reads_unwritten_index_rows_as_their_fill_value(
    hdmf_table: Path, tmp_path: Path
) -> None:
    """Rows never written are read once, as the fill value, where they begin."""
    path = _copy(hdmf_table, tmp_path, "index.h5")
    with h5py.File(path, "r+") as f:
        length = f["/main/samples"].shape[0]
        dtype = f["/main/samples_index"].dtype
        index = _replace(f, "/main/samples_index", shape=(2**40,), dtype=dtype, chunks=(1024,),
                         maxshape=(None,), fillvalue=length + 5)
        index[:1024] = np.minimum(np.arange(1024), length)
    report = h5model.validate(path)
    found = [i for i in report.issues if i.rule == "table.index-out-of-range"]
    assert [i.hdf5_path for i in found] == ["/main/samples_index"]
    assert "index entry 1024 " in found[0].message


def test_a_huge_region_reference_selection_is_refused(minimal: Path, tmp_path: Path) -> None:
    """Was: MemoryError (8 TiB) listing the blocks of the selection."""
    path = _copy(minimal, tmp_path, "selection.nwb")
    with h5py.File(path, "r+") as f:
        target = f.create_dataset("target", shape=(2**40,), dtype="u1", chunks=(4096,))
        f.create_dataset("regions", data=[target.regionref[::2]], dtype=h5py.regionref_dtype)
    code, output, _ = run_bounded("truncate", path, tmp_path / "cut.h5")
    assert code in (1, 2), output
    assert "/regions" in output and "blocks of a region reference" in output


# -- attributes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "compiled", "bound"),
    [
        pytest.param("c", True, 300 << 20, id="compiled reader and conversion"),
        pytest.param("ctypes", True, 300 << 20, id="ctypes reader, compiled conversion"),
        pytest.param("ctypes", False, 300 << 20, id="ctypes reader and conversion"),
        pytest.param("h5py", True, 1 << 30, id="h5py"),
    ],
)
def test_a_text_attribute_over_the_limit_is_refused_naming_it(
    minimal: Path, tmp_path: Path, reader: str, compiled: bool, bound: int
) -> None:
    """Was: read in full (1.1-1.5 GB of memory for a 200 MB text attribute). Where the
    library is bound, the stored length is learned without reading the text (an 80 MiB
    text would cost 400+ MiB to read): the peak stays near an ordinary run's. Through
    h5py alone it is measured once read, before any copy of ours."""
    path = _copy(minimal, tmp_path, "text.nwb")
    with h5py.File(path, "r+") as f:
        f["acquisition/series"].attrs["essay"] = "x" * (80 << 20)
    env = {"H5MODEL_NATIVE": reader, **({} if compiled else {"HIDE_COMPILED": "1"})}
    for command in ("show", "validate"):
        code, output, peak = run_bounded(command, path, **env)
        assert code in (1, 2), output
        assert "'essay'" in output and "/acquisition/series" in output and str(path) in output
        assert limits.ATTRIBUTE_BYTES_VARIABLE in output
        assert peak < bound, (command, peak)


def test_stored_text_lengths_agree_with_the_text(tmp_path: Path) -> None:
    """The probe reads each stored length, empty and non-ASCII texts included."""
    from h5py import h5a

    from h5model.hdf5._native.lengths import STORED_LENGTHS

    if STORED_LENGTHS is None:
        pytest.skip("the HDF5 library h5py uses cannot be bound here")
    texts = ["ab", "", "ünïcødé", "x" * 70000]
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.attrs.create("many", np.array(texts, dtype=object), dtype=h5py.string_dtype())
        f.attrs["one"] = "hello"
    with h5py.File(tmp_path / "t.h5", "r") as f:
        many = STORED_LENGTHS.of(h5a.open(f.id, b"many"), len(texts))
        one = STORED_LENGTHS.of(h5a.open(f.id, b"one"), 1)
        assert many is not None and one is not None
        assert many.tolist() == [len(t.encode()) for t in texts]
        assert one.tolist() == [5]
        assert list(f.attrs["many"]) == texts  # ordinary reads are untouched


@pytest.mark.parametrize("reader", ["c", "h5py"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("y" * 5000, id="scalar text"),
        pytest.param(np.array(["y" * 100] * 50, dtype=object), id="text array"),
        pytest.param(np.zeros(1000), id="numbers"),
        pytest.param(np.bytes_(b"z" * 5000), id="fixed-length text"),
    ],
)
def test_every_attribute_form_obeys_the_limit(
    minimal: Path, tmp_path: Path, reader: str, value: object
) -> None:
    path = _copy(minimal, tmp_path, "attrs.nwb")
    with h5py.File(path, "r+") as f:
        if isinstance(value, np.ndarray) and value.dtype == object:
            f["acquisition/series"].attrs.create("big", value, dtype=h5py.string_dtype())
        else:
            f["acquisition/series"].attrs["big"] = value
    env = {"H5MODEL_NATIVE": reader, limits.ATTRIBUTE_BYTES_VARIABLE: "4000"}
    code, output, _ = run_bounded("validate", path, **env)
    assert code == 1, output
    assert "'big'" in output and "/acquisition/series" in output
    env[limits.ATTRIBUTE_BYTES_VARIABLE] = "9000"
    assert run_bounded("validate", path, **env)[0] == 0


@pytest.mark.parametrize("reader", ["c", "ctypes", "h5py"])
def test_a_valid_file_with_a_2000_character_attribute_name_opens(
    minimal: Path, tmp_path: Path, reader: str
) -> None:
    """Was: exit 2, "name too long", without an HDF5 path."""
    path = _copy(minimal, tmp_path, "names.nwb")
    name = "n" * 2000
    with h5py.File(path, "r+") as f:
        f["acquisition/series"].attrs[name] = 1.5
    for command in ("show", "validate"):
        code, output, _ = run_bounded(command, path, H5MODEL_NATIVE=reader)
        assert code == 0, output
    with h5model.open(path) as f:
        assert f.index.attrs["/acquisition/series"][name] == 1.5


# -- the limits themselves -----------------------------------------------------------------------


def test_limits_come_from_the_environment() -> None:
    script = (
        "from h5model.hdf5 import limits; "
        "print(limits.LIMITS.attribute_bytes, limits.LIMITS.references)"
    )
    env = {**os.environ, limits.ATTRIBUTE_BYTES_VARIABLE: "1_000", limits.REFERENCES_VARIABLE: "7"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["1000", "7"]
    env[limits.REFERENCES_VARIABLE] = "lots"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["1000", str(limits.DEFAULT_REFERENCES)]
    assert limits.REFERENCES_VARIABLE in out.stderr  # a warning, not a silent default


def test_set_limits_refuses_nonsense_and_returns_the_previous(restore_limits: None) -> None:
    previous = h5model.set_limits(attribute_bytes=10)
    assert limits.LIMITS.attribute_bytes == 10
    assert limits.LIMITS.references == previous.references
    with pytest.raises(ValueError, match="positive"):
        h5model.set_limits(references=0)


def test_stored_rows_yield_fill_once_per_unwritten_run(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "rows.h5", "w") as f:
        data = f.create_dataset("d", shape=(10_000,), dtype="i4", chunks=(100,), fillvalue=-1)
        data[200:300] = 7
        data[9_950:] = 9
        got = [(start, block.tolist()) for start, block in stored.rows(data)]
    assert got == [(0, [-1]), (200, [7] * 100), (300, [-1]), (9_900, [-1] * 50 + [9] * 50)]


def test_stored_blocks_are_bounded_whatever_the_shape(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "wide.h5", "w") as f:
        data = f.create_dataset("d", data=np.arange(3 * 200_000).reshape(3, 200_000))
        seen = 0
        for offset, block in stored.blocks(data):
            assert block.size <= stored.BLOCK_ELEMENTS
            assert (block == data[offset[0], offset[1] : offset[1] + block.shape[1]]).all()
            seen += block.size
        assert seen == data.size
