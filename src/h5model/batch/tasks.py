"""What is done to one file of a many-file run, as plain data in and plain data out.

The same functions run in this process (a serial run), in a worker process of a local
pool, and in a worker process on a Dask cluster, so their arguments and answers are
JSON: a path, options, and a dict. None of them raises for what is wrong with a file;
that is in the answer.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from h5model.errors import H5ModelError, SpecError
from h5model.hdf5.binding import bind
from h5model.hdf5.graph import build_graph
from h5model.hdf5.kinds import NodeKind
from h5model.hdf5.open import open_hdf5
from h5model.rules.ruleset import RuleSet
from h5model.spec.declared import resolve_layout
from h5model.spec.loader import load_specs
from h5model.storage.journal import JournalError
from h5model.storage.remote import is_url
from h5model.validation import Severity, validate_file

Answer = dict[str, Any]
Task = Callable[[str, dict[str, Any]], Answer]


def validate_task(path: str, options: dict[str, Any]) -> Answer:
    """The issues of one file: ``{"issues": [issue as JSON, ...]}``."""
    report = validate_file(path, spec=options.get("spec"), strict=bool(options.get("strict")),
                           layout=options.get("layout"), index=options.get("index", False))
    return {"issues": [issue.to_json() for issue in report.issues]}


def inventory_task(path: str, options: dict[str, Any]) -> Answer:
    """What one file holds: size, namespaces and versions, objects, types, validity."""
    answer = validate_task(path, options)
    issues = answer["issues"]
    answer = {
        "size": _size(path),
        "namespaces": {},
        "objects": None,
        "types": {},
        "errors": sum(1 for i in issues if i["severity"] == Severity.ERROR.value),
        "warnings": sum(1 for i in issues if i["severity"] == Severity.WARNING.value),
        "issues": issues,
    }
    layout = resolve_layout(options["layout"]) if options.get("layout") else None
    try:
        file = open_hdf5(path if is_url(path) else Path(path))
    except (H5ModelError, JournalError, OSError):
        return answer  # unreadable: the issues say why
    with file:
        specs = None
        try:
            specs = load_specs(file, path, options.get("spec"),
                               layout.namespaces() if layout is not None else None)
            answer["namespaces"] = {
                name: ns.version for name, ns in sorted(specs.namespaces.items())
            }
        except (H5ModelError, OSError, RuntimeError, KeyError, ValueError):
            pass  # no usable specs: the issues say so
        try:
            index = build_graph(file, path)
        except (H5ModelError, OSError, RuntimeError, KeyError, ValueError):
            return answer
        if layout is not None and specs is not None:
            # objects without type attributes are counted by the type the layout binds
            with contextlib.suppress(H5ModelError, SpecError):  # the issues say why not
                bind(index, RuleSet(specs), layout)
        graph = index.graph
        types: Counter[str] = Counter()
        objects = 0
        for _node, data in graph.nodes(data=True):
            if data.get("kind") not in (NodeKind.GROUP, NodeKind.DATASET):
                continue
            objects += 1
            if "type" in data:
                types[f"{data['namespace']}.{data['type']}"] += 1
        answer["objects"] = objects
        answer["types"] = dict(sorted(types.items()))
    return answer


def truncate_task(path: str, options: dict[str, Any]) -> Answer:
    """A truncated copy of one file at ``options["dst"]``: its size, or why not."""
    from h5model.truncation import truncate

    answer: Answer = {"dst": options["dst"], "size": _size(path), "written": None,
                      "problem": None}
    try:
        Path(options["dst"]).parent.mkdir(parents=True, exist_ok=True)
        written = truncate(path, options["dst"], n=int(options.get("n", 10)),
                           keep=tuple(options.get("keep", ())),
                           overwrite=bool(options.get("overwrite")), progress=False,
                           layout=options.get("layout"))
        answer["written"] = written.stat().st_size
    except (H5ModelError, JournalError) as exc:
        answer["problem"] = str(exc) if exc.file is not None else f"{path}: {exc}"
    except OSError as exc:
        answer["problem"] = f"{exc.filename or path}: {exc.strerror or exc}"
    return answer


TASKS: dict[str, Task] = {
    "validate": validate_task,
    "inventory": inventory_task,
    "truncate": truncate_task,
}


def run_task(task: str, path: str, options: dict[str, Any]) -> Answer:
    """Run ``task`` on ``path``; a defect of ours becomes a failure answer, not a raise."""
    try:
        return TASKS[task](path, options)
    except MemoryError:
        return failure("file.crashed", "reading the file ran out of memory")
    except RecursionError:
        return failure("file.crashed", "the file is nested too deeply to read")
    except Exception as exc:
        return failure(
            "file.crashed",
            f"internal error: {type(exc).__name__}: {exc} (please report this, with the "
            "file if you can)",
        )


def failure(rule: str, message: str) -> Answer:
    """The answer for a file whose work did not finish: the rule and why."""
    return {"failure": {"rule": rule, "message": message}}


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
