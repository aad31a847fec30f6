"""Write the NWB files used by the read benchmarks.

Usage::

    python benchmarks/make_files.py OUTDIR [--timeseries 2000] [--units 5000] [--big-gb 1.0]
        [--big-name big_dataset.nwb] [--force]

Two files are produced, both with pynwb:

``many_objects.nwb``
    Many small objects: ``--timeseries`` TimeSeries (plain TimeSeries in
    ``/acquisition`` and ``/processing/behavior``, ElectricalSeries in
    ``/processing/ecephys``; half of them with explicit timestamps, half with
    ``starting_time`` + ``rate``), a Units table with ``--units`` units and
    ragged ``spike_times``, plus the electrodes table, an ElectrodeGroup and a
    Device.  With the defaults the file holds roughly 6,000 HDF5 objects.

``big_dataset.nwb`` (or ``--big-name``)
    One TimeSeries in ``/acquisition`` whose ``data`` is a chunked float32
    dataset of ``--big-gb`` GiB with 64 columns, written block by block so the
    whole array is never held in memory.  Files of different ``--big-gb`` have
    the same structure (objects, attributes, chunk shape) and differ only in
    the number of rows, hence of chunks; ``bench_validate.py`` uses a small one
    next to the 1 GiB one.

Existing files are left alone unless ``--force`` is given.  All values come
from a fixed random seed, so every run writes the same data (only the object
ids and the file creation date differ).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.data_utils import GenericDataChunkIterator
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.ecephys import ElectricalSeries

MANY_OBJECTS = "many_objects.nwb"
BIG_DATASET = "big_dataset.nwb"
BIG_SERIES_NAME = "big_timeseries"
BIG_COLUMNS = 64

SAMPLES_PER_SERIES = 100
N_ELECTRODES = 32
ES_CHANNELS = 4
SESSION_START = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
SEED = 20240101


def _new_nwbfile(identifier: str, description: str) -> NWBFile:
    return NWBFile(
        session_description=description,
        identifier=identifier,
        session_start_time=SESSION_START,
        experimenter=["Benchmark, Synthetic"],
        lab="benchmarks",
        institution="h5model",
    )


def _add_electrodes(nwbfile: NWBFile) -> None:
    device = nwbfile.create_device(
        name="probe", description="synthetic 32-channel probe", manufacturer="none"
    )
    group = nwbfile.create_electrode_group(
        name="shank0",
        description="synthetic shank",
        location="CA1",
        device=device,
    )
    for i in range(N_ELECTRODES):
        nwbfile.add_electrode(
            group=group,
            location="CA1",
            x=0.0,
            y=float(20 * i),
            z=0.0,
        )


def _series_timing(index: int, n_samples: int, rng: np.random.Generator) -> dict[str, object]:
    """Even indices get explicit timestamps, odd ones starting_time + rate."""
    if index % 2 == 0:
        steps = rng.uniform(0.009, 0.011, size=n_samples)
        return {"timestamps": np.cumsum(steps) + 0.5 * index}
    return {"starting_time": 0.5 * index, "rate": 100.0}


def build_many_objects(n_timeseries: int, n_units: int) -> NWBFile:
    rng = np.random.default_rng(SEED)
    nwbfile = _new_nwbfile("h5model-bench-many-objects", "many small objects")
    _add_electrodes(nwbfile)

    behavior = nwbfile.create_processing_module(
        name="behavior", description="synthetic behavioral signals"
    )
    ecephys = nwbfile.create_processing_module(
        name="ecephys", description="synthetic extracellular snippets"
    )

    # Half of the series go to /acquisition, a quarter to each processing module.
    n_acq = n_timeseries // 2
    n_beh = n_timeseries // 4
    n_ece = n_timeseries - n_acq - n_beh

    for i in range(n_acq):
        nwbfile.add_acquisition(
            TimeSeries(
                name=f"acq_series_{i:05d}",
                data=rng.standard_normal(SAMPLES_PER_SERIES).astype(np.float32),
                unit="V",
                description=f"acquired signal {i}",
                comments="synthetic",
                **_series_timing(i, SAMPLES_PER_SERIES, rng),
            )
        )

    for i in range(n_beh):
        behavior.add(
            TimeSeries(
                name=f"behavior_series_{i:05d}",
                data=rng.standard_normal(SAMPLES_PER_SERIES).astype(np.float32),
                unit="m",
                description=f"behavioral signal {i}",
                **_series_timing(i, SAMPLES_PER_SERIES, rng),
            )
        )

    n_rows = SAMPLES_PER_SERIES // ES_CHANNELS
    for i in range(n_ece):
        start = (i * ES_CHANNELS) % N_ELECTRODES
        region = nwbfile.create_electrode_table_region(
            region=list(range(start, start + ES_CHANNELS)),
            description=f"channels of snippet {i}",
        )
        ecephys.add(
            ElectricalSeries(
                name=f"ecephys_series_{i:05d}",
                data=rng.standard_normal((n_rows, ES_CHANNELS)).astype(np.float32),
                electrodes=region,
                description=f"extracellular snippet {i}",
                **_series_timing(i, n_rows, rng),
            )
        )

    nwbfile.add_unit_column(name="quality", description="sorting quality label")
    for i in range(n_units):
        count = int(rng.poisson(20))
        spikes = np.sort(rng.uniform(0.0, 1000.0, size=count))
        nwbfile.add_unit(
            spike_times=spikes,
            electrodes=[i % N_ELECTRODES],
            quality="good" if i % 3 else "mua",
        )
    return nwbfile


class _BigDataIterator(GenericDataChunkIterator):  # type: ignore[misc]
    """Yields deterministic pseudo-random float32 blocks of a (rows, 64) array."""

    def __init__(self, n_rows: int, n_cols: int, **kwargs: object) -> None:
        self._n_rows = n_rows
        self._n_cols = n_cols
        super().__init__(**kwargs)

    def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
        rows = selection[0]
        start = rows.start or 0
        stop = self._n_rows if rows.stop is None else rows.stop
        rng = np.random.default_rng([SEED, start])
        block = rng.standard_normal((stop - start, self._n_cols), dtype=np.float32)
        return block[:, selection[1]]

    def _get_maxshape(self) -> tuple[int, int]:
        return (self._n_rows, self._n_cols)

    def _get_dtype(self) -> np.dtype:
        return np.dtype(np.float32)


def build_big_dataset(big_gib: float) -> tuple[NWBFile, tuple[int, int]]:
    itemsize = np.dtype(np.float32).itemsize
    n_rows = max(1, int(big_gib * 2**30) // (BIG_COLUMNS * itemsize))
    chunk_rows = min(n_rows, 16384)  # 16384 x 64 x 4 B = 4 MiB per chunk
    buffer_rows = min(n_rows, chunk_rows * 16)  # 64 MiB per write
    iterator = _BigDataIterator(
        n_rows,
        BIG_COLUMNS,
        chunk_shape=(chunk_rows, BIG_COLUMNS),
        buffer_shape=(buffer_rows, BIG_COLUMNS),
        display_progress=False,
    )
    nwbfile = _new_nwbfile("h5model-bench-big-dataset", "one large chunked dataset")
    nwbfile.add_acquisition(
        TimeSeries(
            name=BIG_SERIES_NAME,
            data=H5DataIO(data=iterator, chunks=(chunk_rows, BIG_COLUMNS)),
            unit="V",
            starting_time=0.0,
            rate=30000.0,
            description=f"{n_rows} x {BIG_COLUMNS} float32 samples",
        )
    )
    return nwbfile, (n_rows, BIG_COLUMNS)


def write_big_dataset(path: Path, big_gib: float) -> tuple[int, int]:
    """Write the big-dataset file of ``big_gib`` GiB to ``path``; return the data shape."""
    nwbfile, shape = build_big_dataset(big_gib)
    _write(nwbfile, path)
    return shape


def count_hdf5(path: Path) -> tuple[int, int, int]:
    """Return (groups, datasets, attributes), the root group included."""
    counts = {"groups": 1, "datasets": 0}
    n_attrs = 0
    with h5py.File(path, "r") as f:
        n_attrs += len(f.attrs)

        def visit(_name: str, obj: h5py.HLObject) -> None:
            nonlocal n_attrs
            if isinstance(obj, h5py.Dataset):
                counts["datasets"] += 1
            else:
                counts["groups"] += 1
            n_attrs += len(obj.attrs)

        f.visititems(visit)
    return counts["groups"], counts["datasets"], n_attrs


def _write(nwbfile: NWBFile, path: Path) -> None:
    """Write to a temporary name first so an interrupted run leaves no partial file."""
    tmp = path.with_name(f"{path.stem}.partial{path.suffix}")
    if tmp.exists():
        tmp.unlink()
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
    os.replace(tmp, path)


def _report(path: Path) -> None:
    groups, datasets, attrs = count_hdf5(path)
    size_mib = path.stat().st_size / 2**20
    print(
        f"  {path.name}: {groups + datasets} HDF5 objects "
        f"({groups} groups, {datasets} datasets), {attrs} attributes, {size_mib:.1f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="directory to write the files into")
    parser.add_argument(
        "--timeseries", type=int, default=2000, help="number of TimeSeries (default 2000)"
    )
    parser.add_argument("--units", type=int, default=5000, help="number of units (default 5000)")
    parser.add_argument(
        "--big-gb",
        type=float,
        default=1.0,
        help="size of the big float32 dataset in GiB (default 1.0)",
    )
    parser.add_argument(
        "--big-name",
        default=BIG_DATASET,
        help=f"file name of the big-dataset file (default {BIG_DATASET})",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)

    if args.timeseries < 4:
        parser.error("--timeseries must be at least 4")
    if args.units < 1:
        parser.error("--units must be at least 1")
    if args.big_gb <= 0:
        parser.error("--big-gb must be positive")
    if Path(args.big_name).name != args.big_name or args.big_name == MANY_OBJECTS:
        parser.error(f"--big-name must be a plain file name other than {MANY_OBJECTS}")

    outdir: Path = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)

    many = outdir / MANY_OBJECTS
    if many.exists() and not args.force:
        print(f"{many.name}: exists, skipped (use --force to rewrite)")
    else:
        t0 = time.perf_counter()
        nwbfile = build_many_objects(args.timeseries, args.units)
        _write(nwbfile, many)
        print(
            f"{many.name}: wrote {args.timeseries} TimeSeries and {args.units} units "
            f"in {time.perf_counter() - t0:.1f} s"
        )
    _report(many)

    big = outdir / args.big_name
    if big.exists() and not args.force:
        print(f"{big.name}: exists, skipped (use --force to rewrite)")
    else:
        t0 = time.perf_counter()
        shape = write_big_dataset(big, args.big_gb)
        print(
            f"{big.name}: wrote /acquisition/{BIG_SERIES_NAME}/data with shape {shape} "
            f"in {time.perf_counter() - t0:.1f} s"
        )
    _report(big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
