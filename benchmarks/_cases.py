"""Single benchmark case, meant to run in a fresh interpreter.

Usage::

    python benchmarks/_cases.py CASE PATH [DATASET]

The case is measured inside this process: the wall time of the imports it needs,
the wall time of the work after the imports, and the peak resident set size
(``ru_maxrss``, KiB on Linux) both right after the imports and at the end.  The
result is printed as one JSON object on a line starting with ``RESULT_MARKER``
so that library output on stdout cannot be mistaken for it.

Only the standard library is imported at module level; each case imports what
it measures.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_MARKER = "@@h5model-bench-result@@"


def _maxrss_kib() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux but in bytes on macOS.
    return rss // 1024 if sys.platform == "darwin" else rss


class _Clock:
    """Collects the timings of one case."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.imported = self.start
        self.maxrss_import_kib = 0
        self.extra: dict[str, Any] = {}

    def imports_done(self) -> None:
        self.imported = time.perf_counter()
        self.maxrss_import_kib = _maxrss_kib()


# --------------------------------------------------------------------------- cases


def case_baseline(clock: _Clock, path: str, dataset: str | None) -> None:
    """The bare interpreter: nothing but this module and the standard library."""
    clock.imports_done()


def case_import_h5py(clock: _Clock, path: str, dataset: str | None) -> None:
    """Only ``import h5py`` (and numpy, which it pulls in)."""
    import h5py  # noqa: F401

    clock.imports_done()


def case_import_pynwb(clock: _Clock, path: str, dataset: str | None) -> None:
    """Only ``import pynwb``."""
    import pynwb  # noqa: F401

    clock.imports_done()


def case_import_h5model(clock: _Clock, path: str, dataset: str | None) -> None:
    """Only ``import h5model``."""
    import h5model

    clock.imports_done()
    clock.extra["h5model_file"] = getattr(h5model, "__file__", None)


def case_pynwb_read(clock: _Clock, path: str, dataset: str | None) -> None:
    """(a) Read the whole file into pynwb containers."""
    from pynwb import NWBHDF5IO

    clock.imports_done()
    with NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        clock.extra["n_objects"] = len(list(nwbfile.objects))


def case_h5py_visit(clock: _Clock, path: str, dataset: str | None) -> None:
    """(b) Visit every object with h5py and read the value of every attribute."""
    import h5py

    clock.imports_done()
    counts = {"objects": 1, "attributes": 0}
    with h5py.File(path, "r") as f:
        for _key, _value in f.attrs.items():
            counts["attributes"] += 1

        def visit(_name: str, obj: Any) -> None:
            counts["objects"] += 1
            for _key, _value in obj.attrs.items():
                counts["attributes"] += 1

        f.visititems(visit)
    clock.extra["n_objects"] = counts["objects"]
    clock.extra["n_attributes"] = counts["attributes"]


def case_h5model_models(clock: _Clock, path: str, dataset: str | None) -> None:
    """(c) Open with h5model (builds every model) and iterate over all models."""
    import h5model

    clock.imports_done()
    handle = h5model.open(path)
    with handle as f:
        opened = time.perf_counter()
        n_models = sum(1 for _ in f.models())
        iterated = time.perf_counter()
    clock.extra["open_s"] = opened - clock.imported
    clock.extra["iterate_s"] = iterated - opened
    clock.extra["n_models"] = n_models


def case_h5py_big(clock: _Clock, path: str, dataset: str | None) -> None:
    """(d) Open the big file with h5py and touch the shape of the big dataset."""
    import h5py

    clock.imports_done()
    with h5py.File(path, "r") as f:
        shape = f[_require(dataset)].shape
    clock.extra["shape"] = list(shape)


def case_h5model_big(clock: _Clock, path: str, dataset: str | None) -> None:
    """(e) Open the big file with h5model and get the big dataset."""
    import h5model

    clock.imports_done()
    with h5model.open(path) as f:
        obj = f.get(_require(dataset))
        shape = getattr(obj, "shape", None)
        clock.extra["type"] = f"{type(obj).__module__}.{type(obj).__qualname__}"
        clock.extra["shape"] = None if shape is None else [int(n) for n in shape]


def case_h5model_validate(clock: _Clock, path: str, dataset: str | None) -> None:
    """Validate the file with ``h5model.validate`` (the file's own embedded specs)."""
    import h5model

    clock.imports_done()
    report = h5model.validate(path)
    clock.extra["exit_code"] = report.exit_code()
    clock.extra["n_issues"] = len(report.issues)
    clock.extra["n_errors"] = sum(len(f.errors(report.strict)) for f in report.files)


def case_pynwb_validate(clock: _Clock, path: str, dataset: str | None) -> None:
    """Validate the file with ``pynwb.validate`` (against its cached namespaces)."""
    from pynwb import validate

    clock.imports_done()
    errors = validate(path=path)
    clock.extra["n_errors"] = len(errors)


def case_h5model_touch(clock: _Clock, path: str, dataset: str | None) -> None:
    """Open with h5model, reach the root and slice one TimeSeries' data (models are built
    as they are reached: the cost follows what is touched)."""
    import h5model

    clock.imports_done()
    with h5model.open(path) as f:
        series = next(iter(f.root.acquisition.values()))
        clock.extra["n_values"] = int(series.data[:10].size)


def case_pynwb_touch(clock: _Clock, path: str, dataset: str | None) -> None:
    """The same with pynwb: ``read()`` and one TimeSeries' data slice."""
    from pynwb import NWBHDF5IO

    clock.imports_done()
    with NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        series = next(iter(nwbfile.acquisition.values()))
        clock.extra["n_values"] = int(series.data[:10].size)


def case_h5model_truncate(clock: _Clock, path: str, dataset: str | None) -> None:
    """``h5model.truncate(path, out, n=5)`` into a temporary folder."""
    import tempfile

    import h5model

    clock.imports_done()
    with tempfile.TemporaryDirectory(prefix="h5model-bench-") as folder:
        h5model.truncate(path, f"{folder}/cut.nwb", n=5, progress=False)


def case_h5py_copy(clock: _Clock, path: str, dataset: str | None) -> None:
    """Copy every object of the file with HDF5's own object copy (``Group.copy``, i.e.
    ``H5Ocopy``), root attributes included: the floor for writing a whole new file."""
    import tempfile

    import h5py

    clock.imports_done()
    with (tempfile.TemporaryDirectory(prefix="h5model-bench-") as folder,
          h5py.File(path, "r") as src, h5py.File(f"{folder}/copy.h5", "w") as dst):
        for name in src:
            src.copy(src[name], dst, name=name)
        for key, value in src.attrs.items():
            dst.attrs[key] = value


def _require(dataset: str | None) -> str:
    if not dataset:
        raise SystemExit("this case needs a DATASET argument")
    return dataset


CASES: dict[str, Callable[[_Clock, str, str | None], None]] = {
    "baseline": case_baseline,
    "import-h5py": case_import_h5py,
    "import-pynwb": case_import_pynwb,
    "import-h5model": case_import_h5model,
    "pynwb-read": case_pynwb_read,
    "h5py-visit": case_h5py_visit,
    "h5model-models": case_h5model_models,
    "h5py-big": case_h5py_big,
    "h5model-big": case_h5model_big,
    "h5model-validate": case_h5model_validate,
    "pynwb-validate": case_pynwb_validate,
    "h5model-touch": case_h5model_touch,
    "pynwb-touch": case_pynwb_touch,
    "h5model-truncate": case_h5model_truncate,
    "h5py-copy": case_h5py_copy,
}


def run(name: str, path: str, dataset: str | None = None) -> dict[str, Any]:
    func = CASES[name]
    clock = _Clock()
    func(clock, path, dataset)
    end = time.perf_counter()
    return {
        "case": name,
        "import_s": clock.imported - clock.start,
        "run_s": end - clock.imported,
        "maxrss_import_kib": clock.maxrss_import_kib,
        "maxrss_kib": _maxrss_kib(),
        **clock.extra,
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in CASES:
        print(
            f"usage: _cases.py {{{','.join(CASES)}}} PATH [DATASET]",
            file=sys.stderr,
        )
        return 2
    result = run(argv[0], argv[1], argv[2] if len(argv) == 3 else None)
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
