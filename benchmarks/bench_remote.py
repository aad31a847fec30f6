"""Remote open: requests, bytes and seconds to ``.root`` over a loopback HTTP server.

Usage::

    python benchmarks/bench_remote.py FILES_DIR [--latency 0.02] [--file many_objects.nwb]

FILES_DIR holds the files ``make_files.py`` writes. The file is served by the tests'
range server on 127.0.0.1 with ``--latency`` seconds added before every answer, and
opened, in one run, by: h5model (every model built, ``.root`` asked for), without an
index (its request for ``URL.h5mindex`` answered 404) and with one (``h5model index``
written beside the served file, so the open is one request for it); pynwb on
``h5py.File`` over fsspec's HTTP file with its defaults (5 MiB read-ahead); pynwb over
fsspec with the block cache h5model uses (1 MiB blocks); pynwb over remfile. Each line
gives the server's counts (requests including HEADs, bytes sent: of the file, or of its
index) and the
wall-clock seconds from opening to the root object; every case runs once first, without
latency, so that imports are not timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from rangeserver import RangeServer


def _h5model(url: str) -> Callable[[], None]:
    import h5model

    def run() -> None:
        with h5model.open(url) as f:
            assert f.root is not None

    return run


def _pynwb_on(opener: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        import h5py
        from pynwb import NWBHDF5IO

        handle = opener()
        with h5py.File(handle, "r") as h5, NWBHDF5IO(file=h5, load_namespaces=True) as io:
            assert io.read() is not None

    return run


def _cases(url: str, indexed_url: str) -> dict[str, Callable[[], None]]:
    import fsspec

    http = fsspec.filesystem("http")
    return {
        "h5model (no index)": _h5model(url),
        "h5model (with index)": _h5model(indexed_url),
        "pynwb + fsspec (defaults)": _pynwb_on(lambda: http.open(url, "rb")),
        "pynwb + fsspec (1 MiB blockcache)": _pynwb_on(lambda: http.open(
            url, "rb", block_size=1 << 20, cache_type="blockcache",
            cache_options={"maxblocks": 128})),
        "pynwb + remfile": _pynwb_on(lambda: __import__("remfile").File(url)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files_dir", type=Path)
    parser.add_argument("--file", default="many_objects.nwb")
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args(argv)
    path = args.files_dir / args.file
    size = path.stat().st_size
    warnings.simplefilter("ignore")
    import h5model

    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index.h5mindex"
        start = time.perf_counter()
        h5model.write_index(path, index)
        print(f"{args.file}: {size:,} bytes, {args.latency * 1000:.0f} ms per request; "
              f"index {index.stat().st_size:,} bytes, written in "
              f"{time.perf_counter() - start:.2f} s")
        indexed = "indexed-" + args.file
        files = {args.file: path, indexed: path, indexed + ".h5mindex": index}
        _run(files, args.file, indexed, size, args.latency)
    return 0


def _run(files: dict[str, Path], plain: str, indexed: str, size: int, latency: float) -> None:
    print(f"{'reader':36} {'requests':>9} {'bytes':>13} {'of file':>8} {'seconds':>8}")
    with RangeServer(files, latency=0.0) as server:
        for run in _cases(server.url(plain), server.url(indexed)).values():
            run()  # imports, and h5model's model classes, before anything is timed
    with RangeServer(files, latency=latency) as server:
        for name, run in _cases(server.url(plain), server.url(indexed)).items():
            server.reset()
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            counts = server.reset()
            print(f"{name:36} {counts.requests:9d} {counts.bytes:13,d} "
                  f"{counts.bytes / size:8.1%} {seconds:8.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
