"""Where generated model modules come from: committed, cached, or generated now.

Modules are keyed by a hash of the spec content (and of their dependencies'
keys and the generator version), never by namespace name and version alone:
two files may claim ``core 2.7.0`` and disagree. The modules for what current
pynwb writes are committed under ``generated/``; anything else is generated on
first use and cached under ``$H5MODEL_CACHE_DIR`` (default
``~/.cache/h5model``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from h5model.codegen.keys import module_key
from h5model.errors import SpecError
from h5model.rules.ruleset import NamespaceRules, RuleSet
from h5model.spec.loader import NamespaceSpec, SpecSet, namespace_from_documents

if TYPE_CHECKING:  # translation imports linkml-runtime: only when something must be generated
    from linkml_runtime.linkml_model.meta import SchemaDefinition

    from h5model.codegen.models import ModuleRef


GENERATED_PACKAGE = "h5model._generated"
CACHE_PACKAGE = "h5model._models"
_lock = threading.RLock()
_loaded: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Folder for modules generated on demand."""
    env = os.environ.get("H5MODEL_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "h5model"


def _committed_entries() -> tuple[Path, dict[str, dict[str, str]]]:
    """(folder of the committed modules, module key -> its index.json entry)."""
    try:
        package = importlib.import_module(GENERATED_PACKAGE)
    except ImportError:
        return Path(), {}
    folder = Path(package.__file__ or "").parent
    index = folder / "index.json"
    if not index.exists():
        return folder, {}
    data = json.loads(index.read_text())
    return folder, {str(k): {str(f): str(v) for f, v in entry.items()} for k, entry in data.items()}


def committed_index() -> dict[str, str]:
    """module key -> module name of the committed modules."""
    return {key: entry["module"] for key, entry in _committed_entries()[1].items()}


_committed_specs: dict[str, NamespaceSpec] = {}


def committed_namespaces() -> dict[str, NamespaceSpec]:
    """namespace -> its spec, for every committed module that carries its spec documents
    (what current pynwb writes): files can be written from scratch without a spec on disk.
    Read once per process; each rebuilt spec must hash to its module's key."""
    with _lock:
        if _committed_specs:
            return dict(_committed_specs)
        folder, entries = _committed_entries()
        read: dict[str, NamespaceSpec] = {}
        for entry in entries.values():
            if "specs" not in entry:
                continue
            path = folder / entry["specs"]
            try:
                documents = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SpecError(f"the committed specs cannot be read ({exc})",
                                file=str(path)) from None
            read[entry["namespace"]] = namespace_from_documents(documents, entry["specs"])
        specs = SpecSet(read, label=str(folder))
        keys = namespace_keys(specs)
        for key, entry in entries.items():
            ns = entry["namespace"]
            if ns in keys and keys[ns] != key:
                raise SpecError(f"the specs of namespace {ns!r} do not match the committed "
                                f"module {entry['module']} (regenerate it)", file=str(folder))
        _committed_specs.update(read)
        return dict(read)


def committed_specs(namespaces: str | Sequence[str] | None = None,
                    label: str | None = None) -> SpecSet:
    """The committed specs of ``namespaces`` and everything they depend on (None: every
    committed namespace), for a new file named ``label``."""
    available = committed_namespaces()
    wanted = list(available) if namespaces is None else (
        [namespaces] if isinstance(namespaces, str) else list(namespaces)
    )
    unknown = [ns for ns in wanted if ns not in available]
    if unknown:
        raise SpecError(
            f"no committed specs for namespace(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(sorted(available))} (pass spec=... for others)", file=label)
    everything = SpecSet(available, label=label)
    chosen: dict[str, NamespaceSpec] = {}
    for ns in wanted:
        for dep in everything.dependency_closure(ns):
            chosen[dep] = available[dep]
    return SpecSet(chosen, label=label)


def namespace_keys(specs: SpecSet) -> dict[str, str]:
    """Module key of every namespace, computed from content hashes alone (no translation)."""
    keys: dict[str, str] = {}
    for name in specs.namespaces:
        for ns in specs.dependency_closure(name):
            if ns in keys:
                continue
            deps = [d for d in specs.dependency_closure(ns) if d != ns]
            keys[ns] = module_key(specs.namespaces[ns].content_hash, [keys[d] for d in deps])
    return keys


def require(key: str) -> ModuleType:
    """The module for ``key``, already generated (committed or cached)."""
    with _lock:
        module = _loaded.get(key)
        if module is not None:
            return module
        committed = committed_index().get(key)
        if committed is not None:
            module = importlib.import_module(f"{GENERATED_PACKAGE}.{committed}")
        else:
            path = cache_dir() / f"m_{key}.py"
            if not path.exists():
                raise SpecError(f"no generated models for key {key}; open the file again")
            module = _import_file(f"{CACHE_PACKAGE}.m_{key}", path)
        _loaded[key] = module
        return module


def _import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import generated models from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (SyntaxError, ImportError, NameError, TypeError, AttributeError, ValueError) as exc:
        del sys.modules[name]
        raise SpecError(
            f"cached models {path} cannot be imported ({type(exc).__name__}: {exc}); "
            "delete the file to have them generated again",
            rule="spec.codegen",
        ) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _available(key: str) -> bool:
    return key in _loaded or key in committed_index() or (cache_dir() / f"m_{key}.py").exists()


def generated(specs: SpecSet) -> bool:
    """Whether models exist for every namespace of ``specs`` (committed or cached): then
    every type of these exact specs was resolved into rules once, without error."""
    return all(_available(key) for key in namespace_keys(specs).values())


def modules_for(specs: SpecSet) -> dict[str, ModuleType]:
    """namespace -> generated module, generating and caching what is missing."""
    keys = namespace_keys(specs)
    with _lock:
        missing = [ns for ns, key in keys.items() if not _available(key)]
        if missing:
            sources = generate_sources(specs)
            folder = cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for ns in missing:
                _write_atomic(folder / f"m_{keys[ns]}.py", sources[ns][1])
        return {ns: require(key) for ns, key in keys.items()}


def generate_sources(specs: SpecSet) -> dict[str, tuple[SchemaDefinition, str]]:
    """namespace -> (LinkML schema, pydantic source) for every namespace of ``specs``.

    Every source is compiled before it is handed out: a module that would not import is
    a SpecError naming the namespace and the type, never a file in the cache."""
    from h5model.codegen.linkml import linkml_schema
    from h5model.codegen.models import module_source

    keys = namespace_keys(specs)
    out: dict[str, tuple[SchemaDefinition, str]] = {}
    for ns, rules, deps, header in _namespaces_to_generate(specs):
        try:
            source = module_source(rules, deps, header=header)
        except SpecError as exc:
            raise _named(exc, specs, ns) from None
        check_compiles(source, specs, ns)
        out[ns] = (linkml_schema(rules, keys[ns], keys), source)
    return out


def generate_stubs(specs: SpecSet) -> dict[str, str]:
    """namespace -> type stub (``.pyi``) of its module: every class at module level, as a
    type checker reads them (the module itself builds its classes on first access)."""
    from h5model.codegen.models import module_stub

    out: dict[str, str] = {}
    for ns, rules, deps, header in _namespaces_to_generate(specs):
        try:
            out[ns] = module_stub(rules, deps, header=header)
        except SpecError as exc:
            raise _named(exc, specs, ns) from None
    return out


def _namespaces_to_generate(
    specs: SpecSet,
) -> list[tuple[str, NamespaceRules, list[ModuleRef], str]]:
    """(namespace, its rules, the modules it uses, module header), dependencies first."""
    from h5model.codegen.models import ModuleRef

    ruleset = RuleSet(specs)
    keys = namespace_keys(specs)
    built: dict[str, NamespaceRules] = {}
    for name in specs.namespaces:
        for ns in specs.dependency_closure(name):  # each after what it depends on
            if ns not in built:
                built[ns] = ruleset.namespace(ns)
    out = []
    for ns, rules in built.items():
        expressions = module_variables(list(rules.depends))
        deps = [ModuleRef(built[d], expressions[d], keys[d]) for d in rules.depends]
        header = (
            f"Pydantic models for namespace {ns!r} version {rules.version!r}, generated by "
            f"h5model from its specification (module key {keys[ns]})."
        )
        out.append((ns, rules, deps, header))
    return out


def module_variables(namespaces: list[str]) -> dict[str, str]:
    """namespace -> the variable its module is bound to in generated source, one each.

    Names fold to ``_ns_`` plus ASCII letters, digits and ``_``; namespaces that fold
    alike (``a-b``, ``a_b``) are told apart by a number, in the (fixed) order given."""
    from h5model.codegen.linkml import schema_name

    out: dict[str, str] = {}
    used: set[str] = set()
    for ns in namespaces:
        base = f"_ns_{schema_name(ns)}"
        name, counter = base, 2
        while name in used:
            name, counter = f"{base}_{counter}", counter + 1
        used.add(name)
        out[ns] = name
    return out


def check_compiles(source: str, specs: SpecSet, namespace: str) -> None:
    """Raise SpecError, naming the namespace and the type, when ``source`` is not Python."""
    try:
        compile(source, f"<models of namespace {namespace!r}>", "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 0
        owner = _class_at(source, line)
        where = f" in the class of type {owner!r}" if owner else ""
        raise SpecError(
            f"the models generated for namespace {namespace!r} are not valid Python{where} "
            f"({type(exc).__name__}: {getattr(exc, 'msg', exc)}); refusing to use them",
            file=specs.label,
            hdf5_path=specs.namespaces[namespace].origin,
            rule="spec.codegen",
        ) from None


def _class_at(source: str, line: int) -> str | None:
    """The name of the class whose body holds line ``line`` of ``source``, if any."""
    for text in reversed(source.splitlines()[:line]):
        text = text.lstrip()  # classes sit inside their builder functions
        if text.startswith("class "):
            return text[len("class "):].split("(", 1)[0].split(":", 1)[0]
    return None


def _named(exc: SpecError, specs: SpecSet, namespace: str) -> SpecError:
    if exc.file is not None:
        return exc
    return SpecError(
        f"namespace {namespace!r}: {exc.message}",
        file=specs.label,
        hdf5_path=exc.hdf5_path or specs.namespaces[namespace].origin,
        rule=exc.rule,
    )


def linkml_yaml(schema: SchemaDefinition) -> str:
    from linkml_runtime.dumpers import yaml_dumper

    return str(yaml_dumper.dumps(schema))


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


MAX_STEM = 64
"""Longest file stem of a written module (versions and names may be any length)."""


def module_file_stem(namespace: str, version: str) -> str:
    """A module file name for a namespace at a version: ASCII letters, digits and ``_``,
    lowercase, at most ``MAX_STEM`` long (a long one ends in a hash of the whole)."""
    text = f"{namespace}_{version}"
    stem = "".join(c if c.isascii() and c.isalnum() else "_" for c in text).lower()
    if not stem[:1].isalpha():
        stem = f"m_{stem}"
    if len(stem) > MAX_STEM:
        stem = f"{stem[:MAX_STEM - 17]}_{_short_hash(text)}"
    return stem


def module_file_stems(specs: SpecSet) -> dict[str, str]:
    """namespace -> module file stem, distinct for every namespace of ``specs`` (names
    that fold alike, like ``a-b`` and ``a_b``, get a hash of their own name appended)."""
    stems = {ns: module_file_stem(ns, spec.version) for ns, spec in specs.namespaces.items()}
    folded: dict[str, int] = {}
    for stem in stems.values():
        folded[stem] = folded.get(stem, 0) + 1
    return {
        ns: stem if folded[stem] == 1 else f"{stem}_{_short_hash(ns)}"
        for ns, stem in stems.items()
    }


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def write_models(specs: SpecSet, folder: Path) -> dict[str, tuple[str, list[Path]]]:
    """LinkML YAML, pydantic source and its type stub for every namespace of ``specs``,
    written to ``folder``.

    Every source is generated and compiled before the first file is written: a spec
    that cannot become importable models writes nothing. Returns namespace -> (module
    key, the files written)."""
    keys = namespace_keys(specs)
    sources = generate_sources(specs)
    stubs = generate_stubs(specs)
    stems = module_file_stems(specs)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[str, list[Path]]] = {}
    for ns, (schema, source) in sorted(sources.items()):
        module_path = folder / f"{stems[ns]}.py"
        stub_path = folder / f"{stems[ns]}.pyi"
        yaml_path = folder / f"{stems[ns]}.linkml.yaml"
        module_path.write_text(source, encoding="utf-8")
        stub_path.write_text(stubs[ns], encoding="utf-8")
        yaml_path.write_text(linkml_yaml(schema), encoding="utf-8")
        written[ns] = (keys[ns], [yaml_path, module_path, stub_path])
    return written


SPEC_SUFFIX = ".spec.json"
"""Beside each committed module: the spec documents it was generated from, as JSON."""


def write_committed(specs: SpecSet, folder: Path) -> list[Path]:
    """Write modules, LinkML YAML, their spec documents and index.json for every
    namespace of ``specs``."""
    index: dict[str, Mapping[str, str]] = {}
    paths: list[Path] = []
    stems = module_file_stems(specs)
    for ns, (key, files) in write_models(specs, folder).items():
        spec_path = folder / f"{stems[ns]}{SPEC_SUFFIX}"
        documents = json.dumps(specs.namespaces[ns].documents, indent=1, ensure_ascii=True)
        spec_path.write_text(documents + "\n", encoding="utf-8")
        index[key] = {
            "module": stems[ns],
            "namespace": ns,
            "specs": spec_path.name,
            "version": specs.namespaces[ns].version,
        }
        paths += [*files, spec_path]
    index_path = folder / "index.json"
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths.append(index_path)
    return paths
