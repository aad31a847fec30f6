"""The ``h5model`` command: show, generate, graph, validate, inventory, truncate, set, recover,
tail.

Errors name the file and the HDF5 path and exit non-zero, without a traceback:
1 for a file or spec h5model cannot read as asked, 2 for bad usage, and 2 when a
read-only command finds the journal of an interrupted save (it changes nothing;
``h5model recover FILE`` rolls the save back). With ``--isolate`` the command runs in
a child process under time and memory limits (``cli.isolate``): a file that crashes
libhdf5, or makes it run or allocate without end, is an exit 2 naming the file.
``validate``, ``inventory`` and ``truncate`` take many files, folders and patterns, read
them in parallel (``--jobs``, ``--scheduler``; ``batch``) and stream one report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from h5model.cli.isolate import DEFAULT_MEMORY_MIB, DEFAULT_SECONDS
from h5model.errors import H5ModelError
from h5model.storage.journal import JournalError

READ_ONLY = frozenset({"show", "generate", "graph", "truncate", "inventory", "tail"})
"""Commands that never write to the file they read (``validate`` reports on its own)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="h5model",
        description="Read self-describing HDF5 files (NWB, HDMF) as typed pydantic models.",
    )
    parser.add_argument("--version", action="version", version=f"h5model {_version()}")
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="run the command in a child process under time and memory limits, so that a "
        "file that crashes the HDF5 library is an error (exit 2) naming it",
    )
    parser.add_argument(
        "--time-limit",
        type=_positive(float),
        default=None,
        metavar="SECONDS",
        help=f"wall-clock limit of an isolated command (default {DEFAULT_SECONDS:g}); "
        "implies --isolate",
    )
    parser.add_argument(
        "--memory-limit",
        type=_positive(int),
        default=None,
        metavar="MIB",
        help=f"address-space limit of an isolated command in MiB (default "
        f"{DEFAULT_MEMORY_MIB}); implies --isolate",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_layout(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--layout",
            default=None,
            metavar="NAME|PATH",
            help="type objects without type attributes by their position: a shipped layout "
            "(see `h5model layouts`), a layout folder or its layout.yaml",
        )

    def add_file(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", type=_source, help="an HDF5 file, or its URL (https://, s3://...)")
        p.add_argument(
            "--spec",
            action="append",
            type=Path,
            default=None,
            metavar="PATH",
            help="a namespace file (YAML/JSON) to use in addition to, or instead of, the "
            "file's embedded specs; may be repeated",
        )
        add_layout(p)

    def add_batch(p: argparse.ArgumentParser) -> None:
        p.add_argument("--jobs", "-j", type=_positive(int), default=None, metavar="N",
                       help="read files in N local worker processes; a file that crashes "
                       "or hangs its worker becomes an error row of its own")
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="read files on the running Dask scheduler at ADDRESS "
                       "(pip install 'h5model[distributed]')")
        p.add_argument("--timeout", type=_positive(float), default=None, metavar="SECONDS",
                       help="stop reading a file after SECONDS (a worker process per "
                       f"file; default with --jobs or --scheduler: {DEFAULT_SECONDS:g})")

    show = sub.add_parser("show", help="print the object tree with types, shapes and dtypes")
    add_file(show)
    show.add_argument("--depth", type=int, default=None, help="stop below this depth")
    show.add_argument("--index", type=_index_choice, default=None, metavar="auto|INDEX",
                      help="read the metadata from this index (path or URL); by default "
                      "(auto) from a matching one beside the file or in the index cache")

    indexer = sub.add_parser(
        "index",
        help="write a file's metadata index, so that opening it (even remotely) needs no "
        "HDF5 metadata reads",
    )
    indexer.add_argument("file", type=_source, help="an HDF5 file, or its URL")
    indexer.add_argument("-o", "--output", type=Path, default=None, metavar="INDEX",
                         help="where to write it (default: the index cache, keyed by the "
                         "file's size and modification time or ETag)")
    indexer.add_argument("--chunks", nargs="+", default=(), metavar="HDF5_PATH",
                         help="datasets whose chunk offsets to keep as well")

    generate = sub.add_parser(
        "generate", help="write the file's specs as LinkML YAML and pydantic modules"
    )
    add_file(generate)
    generate.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")

    validate = sub.add_parser(
        "validate",
        help="check files against their own specs (exit 0 valid, 1 invalid, 2 unreadable)",
    )
    inventory = sub.add_parser(
        "inventory",
        help="a row per file: size, namespaces, objects, types, validation status",
    )
    for command, formats in ((validate, ("text", "json", "junit")),
                             (inventory, ("text", "json", "junit", "csv", "parquet"))):
        command.add_argument("files", nargs="+", metavar="FILE",
                             help="files, folders (searched recursively), glob patterns "
                             "or URLs")
        command.add_argument("--format", choices=formats, default="text")
        command.add_argument(
            "--output",
            "-o",
            type=Path,
            default=None,
            metavar="PATH",
            help="write the report here instead of standard output",
        )
        command.add_argument(
            "--strict",
            action="store_true",
            help="objects and attributes the spec does not define are errors",
        )
        command.add_argument(
            "--spec",
            action="append",
            type=Path,
            default=None,
            metavar="NAMESPACE_FILE",
            help="a namespace file to validate against; may be repeated",
        )
        command.add_argument(
            "--index", type=_index_choice, default=False, metavar="auto|INDEX",
            help="check from a metadata index, with no HDF5 read (rules that read dataset "
            "values are skipped): 'auto' uses each file's matching one (beside it or in the "
            "index cache), a path or URL names the index of the one file given",
        )
        add_layout(command)
        add_batch(command)

    graph = sub.add_parser("graph", help="write the object graph as GraphML or JSON")
    add_file(graph)
    graph.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output file; .graphml or .json",
    )

    setter = sub.add_parser(
        "set",
        help="set one attribute (or scalar dataset) in place, parsed by its spec dtype",
    )
    setter.add_argument("file", type=_source, help="an HDF5 file (edited in place, safely)")
    setter.add_argument("target", metavar="HDF5_PATH/ATTR",
                        help="object path and attribute name, e.g. /units/description")
    setter.add_argument("value", metavar="VALUE",
                        help="the new value; arrays as JSON lists, e.g. '[1, 2]'")
    setter.add_argument("-v", "--verbose", action="store_true",
                        help="also say how the save reached the disk (reflink, copy or "
                        "journal) and why")
    add_layout(setter)

    truncate = sub.add_parser(
        "truncate",
        help="write a small copy with the first N rows of every dataset, kept consistent",
    )
    truncate.add_argument("src", nargs="+", metavar="SRC",
                          help="the file to copy; or several files, folders or patterns")
    truncate.add_argument("dst", type=Path, metavar="DST",
                          help="the copy to write; for several sources, a folder")
    truncate.add_argument(
        "-n", type=_rows, default=10, metavar="N", help="rows to keep (default 10)"
    )
    truncate.add_argument(
        "--keep",
        action="extend",
        nargs="+",
        default=[],
        metavar="HDF5_PATH",
        help="copy these objects whole (a table keeps all its rows); may be repeated",
    )
    truncate.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    add_layout(truncate)
    add_batch(truncate)

    sub.add_parser("layouts", help="list the shipped layouts with their versions")

    drafter = sub.add_parser(
        "infer",
        help="draft a layout (namespace, types and layout.yaml) from a file",
    )
    drafter.add_argument("file", type=Path, help="an HDF5 file")
    drafter.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                         help="the folder to write the layout into (created)")
    drafter.add_argument("--name", default=None,
                         help="the layout's and namespace's name (default: from the file's)")
    drafter.add_argument("--overwrite", action="store_true",
                         help="replace layout files already in DIR")

    stytra = sub.add_parser(
        "stytra", help="stytra sessions: the metadata JSON (and logs) into a file and back")
    stytra_sub = stytra.add_subparsers(dest="stytra_command", required=True)
    importer = stytra_sub.add_parser(
        "import", help="write a new session file from stytra's metadata JSON (and its logs)")
    importer.add_argument("file", type=Path, metavar="METADATA_JSON",
                          help="the session's *_metadata.json")
    importer.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                          help="the session file to write (refused if it exists)")
    importer.add_argument("--log", action="append", default=[], metavar="NAME=CSV",
                          help="a log stytra saved as CSV, e.g. behavior_log=x_behavior_log.csv;"
                          " may be repeated")
    exporter = stytra_sub.add_parser(
        "export", help="write the metadata JSON (and logs) a session file holds, as stytra does")
    exporter.add_argument("file", type=Path, help="a session file (layout stytra)")
    exporter.add_argument("-o", "--output", type=Path, required=True, metavar="METADATA_JSON",
                          help="the JSON document to write (refused if it exists)")
    exporter.add_argument("--logs", type=Path, default=None, metavar="DIR",
                          help="also write each log as <name>.csv into this folder")
    exporter.add_argument("--strict-json", action="store_true",
                          help="refuse NaN and infinities, which standard JSON cannot hold "
                          "(stytra writes them as NaN/Infinity)")

    embedder = sub.add_parser(
        "embed",
        help="make a file that follows a layout self-describing: validate it, then add the "
        "specs and type attributes in one safe save (exit 1, nothing written, if invalid)",
    )
    embedder.add_argument("file", type=Path, help="an HDF5 file (edited in place, safely)")
    embedder.add_argument("--layout", required=True, metavar="NAME|PATH",
                          help="the layout the file follows: a shipped layout, a layout "
                          "folder or its layout.yaml")
    embedder.add_argument("--root-type", default=None, metavar="TYPE",
                          help="the root's type, if not the layout's root type")
    embedder.add_argument("--strict", action="store_true",
                          help="objects no type binds count as errors")
    embedder.add_argument("-v", "--verbose", action="store_true",
                          help="also say how the save reached the disk and why")

    recover = sub.add_parser(
        "recover",
        help="roll back a save that a crash interrupted (exit 0 done or nothing to do, "
        "1 when the journal beside the file does not belong to it)",
    )
    recover.add_argument("file", type=Path, help="an HDF5 file with an interrupted save")

    follower = sub.add_parser(
        "tail",
        help="print the last rows of a dataset, table or event group, then the rows a "
        "streaming writer adds (like tail -f; Ctrl-C stops)",
    )
    follower.add_argument("file", type=Path, help="an HDF5 file, perhaps being written")
    follower.add_argument("hdf5_path", help="the dataset, table or event group to follow")
    follower.add_argument("-n", "--lines", type=_rows, default=10,
                          help="last rows printed first (default 10)")
    follower.add_argument("--interval", type=_positive(float), default=1.0, metavar="SECONDS",
                          help="how often to look for new rows (default 1)")
    add_layout(follower)
    return parser


def _source(text: str) -> Path | str:
    """A file to read: a local path, or a URL kept as written (a Path would fold ``//``)."""
    from h5model.storage.remote import is_url

    return text if is_url(text) else Path(text)


def _index_choice(text: str) -> Path | str | bool:
    """``auto`` (a matching index, wherever it is) or an index's path or URL."""
    return True if text == "auto" else _source(text)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, not {text!r}")
        return value

    return parse


def _rows(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("h5model")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(arguments)
    _plain_warnings()
    if args.isolate or args.time_limit is not None or args.memory_limit is not None:
        return _isolated(args, arguments)
    # validate's 1 means "invalid": a file it cannot read at all is a 2
    unreadable = 2 if args.command in ("validate", "inventory") else 1
    try:
        if args.command in ("validate", "inventory") or _many(args):
            from h5model.cli.many import run_many

            return run_many(args)
        return _run(args)
    except JournalError as exc:
        print(f"h5model: error: {exc}", file=sys.stderr)
        return 2 if args.command in READ_ONLY else unreadable
    except H5ModelError as exc:
        # an error raised where the file is not known still names it
        where = "" if exc.file is not None else f"{_named(args)}: "
        print(f"h5model: error: {where}{exc}", file=sys.stderr)
        return unreadable
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"h5model: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return unreadable
    except MemoryError:
        print(f"h5model: error: {_named(args)}: out of memory reading the file",
              file=sys.stderr)
        return 2
    except RecursionError:
        print(f"h5model: error: {_named(args)}: the file is nested too deeply to read",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a defect of ours: say so plainly, and where
        print(
            f"h5model: internal error: {_named(args)}: {type(exc).__name__}: {exc} "
            "(please report this, with the file if you can)",
            file=sys.stderr,
        )
        return 2


def _plain_warnings() -> None:
    """An index that cannot be used is said in one line, as the errors are."""
    import warnings

    from h5model.hdf5.index_lookup import IndexWarning

    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *rest: object,
             **named: object) -> None:
        if issubclass(category, IndexWarning):
            print(f"h5model: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, *rest, **named)  # type: ignore[arg-type]

    warnings.showwarning = show


def _files(args: argparse.Namespace) -> list[Path | str]:
    """The input files a command reads."""
    if args.command in ("validate", "inventory"):
        return list(args.files)
    if args.command == "layouts":
        return []
    if args.command == "truncate":
        return [Path(f) for f in args.src]
    return [args.file]


def _many(args: argparse.Namespace) -> bool:
    """A ``truncate`` of several files (or a folder, a pattern, or with workers)."""
    if args.command != "truncate":
        return False
    one = Path(args.src[0])
    return (
        len(args.src) > 1 or one.is_dir() or (not one.exists() and bool(set("*?[") & set(
            args.src[0]))) or args.jobs is not None or args.scheduler is not None
        or args.timeout is not None
    )


def _named(args: argparse.Namespace) -> str:
    return ", ".join(str(f) for f in _files(args))


def _global_options(arguments: list[str]) -> int:
    """How many leading arguments are the global options (the command's come after)."""
    takes_value = {"--time-limit", "--memory-limit"}
    i = 0
    while i < len(arguments) and arguments[i].startswith("-"):
        i += 2 if arguments[i] in takes_value else 1
    return i


def _isolated(args: argparse.Namespace, arguments: list[str]) -> int:
    """Run the command in a child under limits; an abnormal end is exit 2 naming the file."""
    from h5model.cli.isolate import Limits, run_isolated

    limits = Limits(
        seconds=args.time_limit if args.time_limit is not None else DEFAULT_SECONDS,
        memory_mib=args.memory_limit if args.memory_limit is not None else DEFAULT_MEMORY_MIB,
    )
    try:
        outcome = run_isolated(arguments[_global_options(arguments):], limits=limits,
                               capture=False)
    except KeyboardInterrupt:
        return 130
    message = outcome.message(_files(args))
    if message is not None:
        sys.stdout.flush()
        print(message, file=sys.stderr)
    return outcome.exit_code


def _run(args: argparse.Namespace) -> int:
    from h5model.hdf5.open import open_hdf5
    from h5model.session.file import File
    from h5model.spec.loader import load_specs

    if args.command == "index":
        from h5model.session.file import write_index

        print(write_index(args.file, args.output, chunks=args.chunks))
        return 0
    if args.command == "show":
        from h5model.cli.show import tree_lines

        with File(args.file, spec=args.spec, layout=args.layout, index=args.index) as file:
            for line in tree_lines(file, args.depth):
                print(line)
        return 0
    if args.command == "layouts":
        from h5model.spec.layout import shipped

        for layout in shipped().values():
            print(f"{layout.name}\t{layout.version}\t{layout.doc}")
        return 0
    if args.command == "generate":
        spec = args.spec
        if args.layout is not None:
            from h5model.spec.layout import load_layout

            spec = [*(spec or []), load_layout(args.layout).namespace_file]
        h5 = open_hdf5(args.file)
        try:
            specs = load_specs(h5, str(args.file), spec)
        finally:
            h5.close()
        from h5model.codegen.registry import write_models

        for _key, paths in write_models(specs, args.output).values():
            for path in paths:
                print(path)
        return 0
    if args.command == "graph":
        suffix = args.output.suffix.lower()
        if suffix not in (".graphml", ".xml", ".json"):
            print(
                f"h5model: error: {args.output}: use a .graphml or .json output file",
                file=sys.stderr,
            )
            return 2
        from h5model.cli.graph import write_graph

        with File(args.file, spec=args.spec, layout=args.layout) as file:
            write_graph(file.graph, args.output)
            print(
                f"{args.output}: {file.graph.number_of_nodes()} nodes, "
                f"{file.graph.number_of_edges()} edges"
            )
        return 0
    if args.command == "set":
        from h5model.cli.set_value import set_value

        old, new, report = set_value(args.file, args.target, args.value, layout=args.layout)
        print(f"{args.file}: {args.target}: {old!r} -> {new!r}")
        if args.verbose and report is not None:
            print(f"{args.file}: saved by {report.method}: {report.reason}")
        return 0
    if args.command == "recover":
        return _recover(args.file)
    if args.command == "tail":
        from h5model.cli.tail import tail

        return tail(args.file, args.hdf5_path, lines=args.lines, interval=args.interval,
                    layout=args.layout, out=sys.stdout)
    if args.command == "embed":
        return _embed(args)
    if args.command == "stytra":
        from h5model.cli.stytra import run_stytra

        return run_stytra(args)
    if args.command == "infer":
        from h5model.inference import infer

        draft = infer(args.file, args.output, name=args.name, overwrite=args.overwrite)
        print(f"{draft.layout_file}: layout {draft.namespace!r}, root type {draft.root_type}, "
              f"{len(draft.types)} type(s)")
        return 0
    if args.command == "truncate":
        from h5model.truncation import truncate

        src = _source(args.src[0])
        written = truncate(src, args.dst, n=args.n, keep=args.keep, overwrite=args.overwrite,
                           layout=args.layout)
        before, after = Path(src).stat().st_size, written.stat().st_size
        print(f"{written}: {after:,} bytes (from {before:,} bytes)")
        return 0
    raise AssertionError(args.command)


def _embed(args: argparse.Namespace) -> int:
    """0 embedded; 1 the file does not fit the layout (the report printed, nothing written)."""
    from h5model.cli.embed import EmbedRefused, embed

    try:
        done = embed(args.file, args.layout, root_type=args.root_type, strict=args.strict)
    except EmbedRefused as refused:
        sys.stdout.write(refused.report.to_text())
        print(f"{args.file}: does not fit the layout; nothing was written", file=sys.stderr)
        return 1
    print(f"{args.file}: {len(done.typed)} object(s) typed, specs embedded")
    if args.verbose:
        print(f"{args.file}: saved by {done.save.method}: {done.save.reason}")
    return 0


def _recover(path: Path) -> int:
    """Roll back an interrupted save, as its writer would have; say what was done."""
    from h5model.errors import NotHDF5Error
    from h5model.storage.locking import WriterLock, recover

    if not path.is_file():
        raise NotHDF5Error("no such file", file=path)
    lock = WriterLock(path)  # no writer of this user is mid-save meanwhile
    try:
        outcome = recover(path)
    finally:
        lock.release()
    if outcome is None:
        print(f"{path}: nothing to recover (no journal of an interrupted save)")
    else:
        print(f"{path}: {outcome.done}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
