"""Damaged and hostile inputs, and a runner that tries every command on them in child processes.

Inputs: seeded byte-level mutants (bit flips, truncations, zeroed ranges) of small files
pynwb wrote, and hostile structures (deep nesting, many children, soft-link cycles,
external links to missing or system files, odd dtypes, huge declared shapes with nothing
written) added to a copy of such a file. Everything is reproducible from its seed.

The runner gives a few worker processes a list of commands each. A worker runs them one
after another through ``h5model.cli.app.main`` under an address-space limit, a CPU-time
limit and an alarm per command, and writes one JSON line per command it finished. A
worker that dies (libhdf5 crashed, or a limit stopped it) is replaced, and the command it
died on is run again the way a user would, through ``h5model --isolate``: that answer is
the one recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent

# -- byte-level mutants ------------------------------------------------------------------------

KINDS = ("flip", "truncate", "zero")


def text_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the global heap collections (``GCOL``): where variable-length data
    lives, in a pynwb file mostly the spec text. Damage there mostly makes spec text that
    does not parse, or that parses to new specs (each a slow, uninteresting code
    generation); damage to the rest hits the HDF5 structure."""
    ranges = []
    start = data.find(b"GCOL")
    while start != -1:
        size = int.from_bytes(data[start + 8 : start + 16], "little")
        if data[start + 4] == 1 and 4096 <= size <= len(data) - start:
            ranges.append((start + 16, start + size))
        start = data.find(b"GCOL", start + 4)
    return ranges


def _position(rng: random.Random, size: int, text: list[tuple[int, int]]) -> int:
    """A byte to damage: one time in six anywhere, otherwise outside the text ranges."""
    while True:
        at = rng.randrange(size)
        if rng.randrange(6) == 0 or not any(a <= at < b for a, b in text):
            return at


def mutate(data: bytes, seed: int) -> tuple[str, bytes]:
    """One damaged copy of ``data``, the same for the same seed: (what was done, bytes)."""
    rng = random.Random(seed)
    out = bytearray(data)
    text = text_ranges(data)
    kind = KINDS[seed % len(KINDS)]
    if kind == "flip":
        flips = rng.randint(1, 8)
        for _ in range(flips):
            out[_position(rng, len(out), text)] ^= 1 << rng.randrange(8)
        return f"flip x{flips}", bytes(out)
    if kind == "truncate":
        size = _position(rng, len(out), text)
        return f"truncate to {size}", bytes(out[:size])
    start = _position(rng, len(out), text)
    length = rng.choice((8, 64, 512))
    out[start : start + length] = bytes(len(out[start : start + length]))
    return f"zero {length} at {start}", bytes(out)


def write_mutants(source: Path, folder: Path, seeds: Iterable[int]) -> dict[str, Path]:
    """Damaged copies of ``source`` in ``folder``, keyed by a name that says how to rebuild them."""
    data = source.read_bytes()
    out: dict[str, Path] = {}
    for seed in seeds:
        what, damaged = mutate(data, seed)
        path = folder / f"{source.stem}-{seed}.nwb"
        path.write_bytes(damaged)
        out[f"{source.stem} seed {seed} ({what})"] = path
    return out


# -- the commands on one file ------------------------------------------------------------------

READ_ONLY = ("show", "validate", "graph", "generate", "truncate")


@dataclass(frozen=True)
class Job:
    """One command on one case."""

    case: str
    command: str
    argv: tuple[str, ...]
    file: str
    """The input file the command reads (named in every error)."""


def jobs_for(case: str, path: Path, scratch: Path) -> list[Job]:
    """show, validate, graph, generate, truncate on ``path``; set on a copy of it."""
    scratch.mkdir(parents=True, exist_ok=True)
    editable = scratch / f"edit-{path.name}"
    if path.is_file():
        shutil.copyfile(path, editable)
        if path.is_symlink():  # set edits through a link: to a copy of its target
            copy, editable = editable, scratch / f"edit-link-{path.name}"
            editable.symlink_to(copy)
    else:
        editable = path  # a special file: set must refuse it as it is
    file = str(path)
    commands = {
        "show": ("show", file),
        "validate": ("validate", file),
        "graph": ("graph", file, "-o", str(scratch / "graph.json")),
        "generate": ("generate", file, "-o", str(scratch / "generated")),
        "truncate": ("truncate", file, str(scratch / "small.nwb"), "--overwrite", "-n", "3"),
        "set": ("set", str(editable), "/session_description", "changed by the fuzz suite"),
    }
    return [
        Job(case, name, argv, str(editable) if name == "set" else file)
        for name, argv in commands.items()
    ]


@dataclass
class Result:
    """How one command ended."""

    job: Job
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    traceback: str | None = None
    """An exception that escaped ``main`` (a defect), formatted."""
    isolated: bool = False
    """The worker died on this command; the answer is that of ``h5model --isolate``."""
    died: str | None = None
    """How the worker died on it (a signal name)."""
    limit: float | None = None
    """The time limit it ran under, when not the run's own."""
    cpu_seconds: float = 0.0
    """CPU time the command used: the figure held to the limit, since the wall-clock time
    of a command on a loaded machine says more about the machine than about the command
    (the wall-clock alarm still ends a command that hangs)."""

    def defects(self, seconds: float, slack: float = 3.0) -> list[str]:
        """Everything wrong with this answer (empty when it is fine); ``slack`` allows for
        starting an interpreter and killing it."""
        seconds = (self.limit if self.limit is not None else seconds) + slack
        found = []
        where = f"{self.job.case}: {self.job.command}"
        if self.traceback is not None:
            found.append(f"{where}: raised\n{self.traceback}")
        if "Traceback (most recent call last)" in self.stderr:
            found.append(f"{where}: traceback on stderr\n{self.stderr[-3000:]}")
        if "internal error" in self.stderr:
            found.append(f"{where}: {self.stderr.strip()[-500:]}")
        if self.exit_code not in (0, 1, 2):
            found.append(f"{where}: exit code {self.exit_code}")
        if self.exit_code != 0 and self.job.file not in self.stderr + self.stdout:
            found.append(f"{where}: exit {self.exit_code} without naming {self.job.file}:"
                         f" {self.stderr.strip()[-500:]!r}")
        if self.cpu_seconds > seconds:
            found.append(f"{where}: used {self.cpu_seconds:.1f} s of CPU (limit {seconds} s)")
        return found


# -- the worker (a child process) --------------------------------------------------------------


def _worker(jobs_path: str, results_path: str, seconds: float, memory_mib: int) -> None:
    """Run every job of ``jobs_path`` in this process, one JSON result line per job."""

    from h5model.cli.app import main

    _generate_once_per_spec_set()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mib << 20, resource.RLIM_INFINITY))
    jobs = [Job(**{**j, "argv": tuple(j["argv"])}) for j in json.loads(Path(jobs_path).read_text())]
    with open(results_path, "a", encoding="utf-8") as results:
        for job in jobs:
            used = resource.getrusage(resource.RUSAGE_SELF)
            cpu = int(used.ru_utime + used.ru_stime) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu + int(seconds), resource.RLIM_INFINITY))
            signal.alarm(int(seconds) + 1)  # unhandled: ends the worker, the parent takes over
            out, err = io.StringIO(), io.StringIO()
            caught = None
            started = time.monotonic()
            cpu_before = used.ru_utime + used.ru_stime
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code: Any = main(list(job.argv))
                except SystemExit as exc:
                    code = exc.code
                except BaseException:
                    code, caught = None, traceback.format_exc()
            signal.alarm(0)
            printed = out.getvalue()
            used = resource.getrusage(resource.RUSAGE_SELF)
            result = Result(job, code, printed[:1000] + printed[-1000:], err.getvalue()[-5000:],
                            time.monotonic() - started, caught,
                            cpu_seconds=used.ru_utime + used.ru_stime - cpu_before)
            results.write(json.dumps(asdict(result)) + "\n")
            results.flush()


def _generate_once_per_spec_set() -> None:
    """Generated code depends on the spec content alone (module keys are content hashes):
    a worker generates it once per distinct spec set, and reuses it for every other file
    with the same specs. What ``generate`` does with a damaged file (open it, read its
    specs, write the output) still runs every time; specs that damage changed are
    generated anew."""
    from h5model.codegen import registry

    sources: dict[Any, Any] = {}
    texts: dict[int, tuple[Any, str]] = {}
    make_sources, make_yaml = registry.generate_sources, registry.linkml_yaml

    def generate_sources(specs: Any) -> Any:
        key = tuple(sorted(registry.namespace_keys(specs).items()))
        if key not in sources:
            sources[key] = make_sources(specs)
        return sources[key]

    def linkml_yaml(schema: Any) -> str:
        if id(schema) not in texts:  # the schema is kept alive with its text
            texts[id(schema)] = (schema, make_yaml(schema))
        return texts[id(schema)][1]

    registry.generate_sources = generate_sources  # type: ignore[assignment]
    registry.linkml_yaml = linkml_yaml  # type: ignore[assignment]


_WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); import fuzzing; "
    "fuzzing._worker(*sys.argv[2:4], float(sys.argv[4]), int(sys.argv[5]))"
)


def _load(line: str) -> Result:
    data = json.loads(line)
    data["job"] = Job(**{**data["job"], "argv": tuple(data["job"]["argv"])})
    return Result(**data)


def _run_share(jobs: list[Job], seconds: float, memory_mib: int, out: list[Result],
               folder: Path) -> None:
    """Run ``jobs`` in workers, one after another; replace a worker that dies.

    The command a worker died on is asked again through ``h5model --isolate``. A file that
    ran out of time once is known to hang: its other commands go straight to
    ``--isolate`` with a short limit (what is checked is that they end, as exit 2 naming
    the file, within the limit they are given)."""
    done = 0
    attempt = 0
    hanging: set[str] = set()
    while done < len(jobs):
        if jobs[done].case in hanging:
            out.append(isolated(jobs[done], KNOWN_HANG_SECONDS, memory_mib))
            done += 1
            continue
        attempt += 1
        jobs_path = folder / f"jobs-{attempt}.json"
        results_path = folder / f"results-{attempt}.jsonl"
        rest = jobs[done : done + JOBS_PER_WORKER]  # a fresh worker now and then
        jobs_path.write_text(json.dumps([asdict(j) for j in rest]))
        with open(folder / f"worker-{attempt}.log", "wb") as log:
            worker = subprocess.run(
                [sys.executable, "-c", _WORKER, str(TESTS), str(jobs_path), str(results_path),
                 str(seconds), str(memory_mib)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=False,
                timeout=(seconds + 5) * len(rest) + 60,
            )
        lines = results_path.read_text().splitlines() if results_path.exists() else []
        out.extend(_load(line) for line in lines)
        done += len(lines)
        if len(lines) < len(rest):  # the worker died on jobs[done]: ask the CLI as a user would
            result = isolated(jobs[done], seconds, memory_mib, died=worker.returncode)
            if result.exit_code == 2 and "longer than" in result.stderr:
                hanging.add(jobs[done].case)
            out.append(result)
            done += 1


JOBS_PER_WORKER = 480
"""A worker that ran this many commands is replaced (its caches only grow)."""

KNOWN_HANG_SECONDS = 1.5
"""The limit for the other commands on a file one command already ran out of time on."""


def isolated(job: Job, seconds: float, memory_mib: int, died: int | None = None) -> Result:
    """``h5model --isolate ARGV`` in a subprocess, as a user runs it."""
    started = time.monotonic()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "h5model", "--isolate", "--time-limit", str(seconds),
         "--memory-limit", str(memory_mib), *job.argv],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
        check=False, timeout=seconds + 60,
    )
    # the limit the CLI was given is the one to hold it to
    how = None
    if died is not None and died < 0:
        how = signal.Signals(-died).name
    elif died is not None:
        how = f"exit status {died}"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return Result(job, done.returncode, done.stdout[-2000:], done.stderr[-5000:],
                  time.monotonic() - started, isolated=True, died=how, limit=seconds,
                  cpu_seconds=cpu)


def run_all(jobs: Sequence[Job], *, seconds: float, memory_mib: int,
            workers: int = 2) -> list[Result]:
    """Every job's result; jobs of one case stay in one worker (cases alternate)."""
    cases: dict[str, list[Job]] = {}
    for job in jobs:
        cases.setdefault(job.case, []).append(job)
    shares: list[list[Job]] = [[] for _ in range(workers)]
    for i, case_jobs in enumerate(cases.values()):
        shares[i % workers].extend(case_jobs)
    outs: list[list[Result]] = [[] for _ in range(workers)]
    with tempfile.TemporaryDirectory(prefix="h5model-fuzz-") as tmp:
        threads = []
        for i, share in enumerate(shares):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            thread = threading.Thread(target=_run_share,
                                      args=(share, seconds, memory_mib, outs[i], folder))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    return [r for out in outs for r in out]


# -- read-only means read-only -----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A file's bytes and the parts of its ``stat`` a reader must not change."""

    sha256: str
    mode: int
    size: int
    mtime_ns: int
    inode: int
    uid: int
    gid: int


def snapshot(path: Path) -> Snapshot | None:
    """None for what is not a regular file (a FIFO, a folder, a link loop)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Snapshot(digest, info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino,
                    info.st_uid, info.st_gid)


# -- hostile structures ------------------------------------------------------------------------


@dataclass
class Plan:
    """What to add to a copy of a small pynwb file; ``repr`` rebuilds it."""

    depth: int = 0
    children: int = 0
    soft_cycle: int = 0
    """Length of a cycle of soft links (0: none)."""
    external: list[str] = field(default_factory=list)
    """Targets of external links: a missing file, a system file, the file itself."""
    dtypes: list[str] = field(default_factory=list)
    huge: list[str] = field(default_factory=list)
    """Datasets with a huge declared shape and nothing written."""
    where: str = "/acquisition"
    typed: bool = False
    """Mark the added groups as typed (NWBDataInterface), so that the reader types them."""


def strategies() -> Any:
    """A hypothesis strategy of plans."""
    from hypothesis import strategies as st

    return st.builds(
        Plan,
        depth=st.sampled_from([0, 1, 40, 200]),
        children=st.sampled_from([0, 3, 300]),
        soft_cycle=st.sampled_from([0, 1, 2, 5]),
        external=st.lists(st.sampled_from(["missing.nwb", "/etc/passwd", "/dev/null", "SELF",
                                           "/proc/self/mem"]), max_size=2, unique=True),
        dtypes=st.lists(st.sampled_from(sorted(ODD_DTYPES)), max_size=4, unique=True),
        huge=st.lists(st.sampled_from(sorted(HUGE)), max_size=2, unique=True),
        where=st.sampled_from(["/acquisition", "/processing", "/", "/acquisition/series"]),
        typed=st.booleans(),
    )


def _odd_dtypes() -> dict[str, Any]:
    import h5py
    import numpy as np

    return {
        "float16": np.float16,
        "complex128": np.complex128,
        "enum": h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1"),
        "vlen_int": h5py.vlen_dtype(np.int32),
        "opaque": np.dtype("V7"),
        "compound_nested": np.dtype([("a", "i4"), ("b", [("c", "f8"), ("d", "S3")])]),
        "compound_empty_names": np.dtype([("", "i4"), (" ", "f4")]),
        "array_field": np.dtype([("a", "i2", (2, 3))]),
        "bool": np.bool_,
        "ref_array": h5py.ref_dtype,
        "regionref": h5py.regionref_dtype,
        "fixed_utf8": h5py.string_dtype("utf-8", 5),
        "big_endian": np.dtype(">f8"),
        "zero_size": np.float64,
    }


ODD_DTYPES = frozenset(
    {"float16", "complex128", "enum", "vlen_int", "opaque", "compound_nested",
     "compound_empty_names", "array_field", "bool", "ref_array", "regionref", "fixed_utf8",
     "big_endian", "zero_size"}
)
HUGE = frozenset({"chunked_2_40", "refs_2_30", "text_2_32", "scalar_chunked_maxshape"})


def build(plan: Plan, source: Path, path: Path) -> Path:
    """A copy of ``source`` with ``plan`` applied."""
    import h5py
    import numpy as np

    shutil.copyfile(source, path)
    with h5py.File(path, "a") as f:
        parent = f[plan.where]
        if isinstance(parent, h5py.Dataset):
            parent = parent.parent
        base = parent.create_group("fuzz")
        if plan.typed:
            base.attrs["namespace"] = "core"
            base.attrs["neurodata_type"] = "NWBDataInterface"
            base.attrs["object_id"] = "00000000-0000-0000-0000-000000000000"
        group = base
        for level in range(plan.depth):
            group = group.create_group(f"d{level}")
        for i in range(plan.children):
            base.create_group(f"c{i}").attrs["i"] = i
        names = [f"loop{i}" for i in range(plan.soft_cycle)]
        for i, name in enumerate(names):
            base[name] = h5py.SoftLink(f"{base.name}/{names[(i + 1) % len(names)]}")
        if plan.soft_cycle:
            base["through_loop"] = h5py.SoftLink(f"{base.name}/loop0/x/y")
        for i, target in enumerate(plan.external):
            filename = path.name if target == "SELF" else target
            base[f"ext{i}"] = h5py.ExternalLink(filename, "/")
            base[f"ext{i}_deep"] = h5py.ExternalLink(filename, "/acquisition/series/data")
        odd = _odd_dtypes()
        for name in plan.dtypes:
            dtype = odd[name]
            if name == "zero_size":
                base.create_dataset(name, shape=(0, 0), dtype=dtype)
            elif name == "ref_array":
                base.create_dataset(name, data=np.array([f["/"].ref, base.ref], dtype=dtype))
            elif name == "regionref":
                ds = f.get("/acquisition/series/data")
                if ds is not None:
                    base.create_dataset(name, data=np.array([ds.regionref[1:3]], dtype=dtype))
            else:
                created = base.create_dataset(name, shape=(3,), dtype=dtype)
                created.attrs.create(f"attr_{name}", np.zeros(2, dtype=created.dtype))
        for name in plan.huge:
            if name == "chunked_2_40":
                base.create_dataset(name, shape=(2**40,), dtype="f8", chunks=(1024,))
            elif name == "refs_2_30":
                base.create_dataset(name, shape=(1, 2**30), dtype=h5py.ref_dtype,
                                    chunks=(1, 1024))
            elif name == "text_2_32":
                base.create_dataset(name, shape=(2**32,), dtype=h5py.string_dtype(),
                                    chunks=(4096,))
            else:
                base.create_dataset(name, shape=(), dtype="i4")
    return path


def special_files(folder: Path, source: Path) -> dict[str, Path]:
    """Paths that are not regular files: a FIFO, a symlink loop, a folder, a device."""
    loop = folder / "loop.nwb"
    loop.symlink_to(loop.name)
    fifo = folder / "fifo.nwb"
    os.mkfifo(fifo)
    dangling = folder / "dangling.nwb"
    dangling.symlink_to(folder / "nowhere.nwb")
    linked = folder / "linked.nwb"
    linked.symlink_to(source)
    directory = folder / "folder.nwb"
    directory.mkdir()
    return {
        "a symlink loop": loop,
        "a FIFO": fifo,
        "a dangling symlink": dangling,
        "a symlink to a good file": linked,
        "a folder": directory,
        "a character device": Path("/dev/zero"),
        "an empty file": _touch(folder / "empty.nwb"),
    }


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def cases_iter(cases: dict[str, Path], scratch: Path) -> Iterator[Job]:
    for i, (case, path) in enumerate(cases.items()):
        yield from jobs_for(case, path, scratch / f"case{i}")


def summary(results: Sequence[Result]) -> str:
    """Seconds per command, and the commands a worker died on (crashes and hangs)."""
    seconds: dict[str, float] = {}
    for result in results:
        seconds[result.job.command] = seconds.get(result.job.command, 0.0) + result.seconds
    lines = ["seconds per command: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())]
    lines += [f"  {r.job.case}: {r.job.command}: {r.died or 'known to hang'} -> exit "
              f"{r.exit_code} {r.stderr.strip()[-160:]}" for r in results if r.isolated]
    return "\n".join(lines)
