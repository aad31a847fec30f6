"""Find, read and resolve the specifications a file carries (or that the user supplies).

Embedded specs live in the group named by the root attribute ``.specloc`` (an
object reference), else ``/specifications``, as
``<namespace>/<version>/<source>`` text datasets. Every namespace and version
is read; the newest version of each (semantic-version order) is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import pydantic
import yaml
from h5py import h5o

from h5model.errors import NoSpecsError, SpecError, validation_problems
from h5model.spec import language, normalize
from h5model.spec.version import newest, version_key

MAX_SPEC_BYTES = 64 * 1024 * 1024
"""A spec text larger than this is refused (specs are kilobytes; this bounds memory)."""


@dataclass(frozen=True)
class NamespaceSpec:
    """One namespace at one version, with its schema sources parsed."""

    name: str
    version: str
    namespace: language.Namespace
    sources: Mapping[str, language.Schema]
    depends: tuple[str, ...]
    content_hash: str
    """sha256 of the normalised namespace and sources (not of the dependencies)."""
    origin: str
    documents: Mapping[str, Any] = field(default_factory=dict)
    """The spec as read (namespace document and each source), for embedding in new files."""

    def embedded_documents(self) -> dict[str, Any]:
        """name -> JSON-able document, as HDMF caches them: sources without file suffixes."""
        out: dict[str, Any] = {}
        renamed: dict[str, str] = {}
        for source, document in self.documents.items():
            if source == "namespace":
                continue
            stem = source
            for suffix in (".yaml", ".yml", ".json"):
                stem = stem.removesuffix(suffix)
            renamed[source] = stem
            out[stem] = document
        namespace = json.loads(json.dumps(self.documents.get("namespace", {}), default=str))
        for entry in namespace.get("namespaces", []):
            for ref in entry.get("schema", []):
                if ref.get("source") in renamed:
                    ref["source"] = renamed[ref["source"]]
        out["namespace"] = namespace
        return out

    def types(self) -> Iterator[tuple[str, language.Group | language.Dataset]]:
        """Every type this namespace defines, nested definitions included."""
        for source in self.sources.values():
            specs: list[language.Group | language.Dataset] = [*source.groups, *source.datasets]
            for spec in specs:
                yield from _definitions(spec)


def _definitions(
    spec: language.Group | language.Dataset,
) -> Iterator[tuple[str, language.Group | language.Dataset]]:
    if spec.data_type_def:
        yield spec.data_type_def, spec
    if isinstance(spec, language.Group):
        children: list[language.Group | language.Dataset] = [*spec.groups, *spec.datasets]
        for child in children:
            yield from _definitions(child)


@dataclass
class SpecSet:
    """The namespaces in force for one file, chosen and dependency-checked."""

    namespaces: dict[str, NamespaceSpec]
    available: dict[str, list[str]] = field(default_factory=dict)
    """Every version seen per namespace (the chosen one is the newest)."""

    def __post_init__(self) -> None:
        self._types: dict[str, dict[str, language.Group | language.Dataset]] = {
            name: dict(ns.types()) for name, ns in self.namespaces.items()
        }
        for ns in self.namespaces.values():
            for dep in ns.depends:
                if dep not in self.namespaces:
                    raise SpecError(
                        f"namespace {ns.name!r} {ns.version} depends on namespace {dep!r}, "
                        "which is neither in the file nor supplied (use --spec)",
                        hdf5_path=ns.origin,
                        rule="spec.namespace-missing",
                    )
        for ns in self.namespaces.values():
            self.search_order(ns.name)  # raises on dependency cycles

    def search_order(self, name: str) -> list[str]:
        """``name`` then its dependencies, breadth first: where its type names are looked up."""
        order: list[str] = []
        queue = [name]
        while queue:
            current = queue.pop(0)
            if current in order:
                continue
            order.append(current)
            queue.extend(self.namespaces[current].depends)
        return order

    def defined(self, namespace: str) -> Mapping[str, language.Group | language.Dataset]:
        return self._types[namespace]

    def find_type(
        self, namespace: str, type_name: str
    ) -> tuple[str, language.Group | language.Dataset] | None:
        """(namespace defining it, spec) for a type name as seen from ``namespace``."""
        for candidate in self.search_order(namespace):
            spec = self._types[candidate].get(type_name)
            if spec is not None:
                return candidate, spec
        return None

    def dependency_closure(self, namespace: str) -> list[str]:
        """``namespace``'s dependencies in an order where each comes after its own deps."""
        done: list[str] = []

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in trail:
                raise SpecError(f"namespaces depend on each other in a cycle: {' -> '.join(trail)}")
            for dep in self.namespaces[name].depends:
                visit(dep, (*trail, name))
            done.append(name)

        visit(namespace, ())
        return done


# -- parsing -------------------------------------------------------------------


def _parse_text(text: str, where: str, *, yaml_ok: bool) -> Any:
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise SpecError("spec text is nested too deeply", hdf5_path=where) from exc
    except ValueError:
        if not yaml_ok:
            raise SpecError("spec text is not valid JSON", hdf5_path=where) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except (yaml.YAMLError, RecursionError) as exc:
        raise SpecError(f"spec text is neither JSON nor YAML: {exc}", hdf5_path=where) from None


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a spec has no use for them, and they allow blow-ups."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed in a spec", event.start_mark
            )
        return super().compose_node(parent, index)


def _validated(model: type[pydantic.BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        loc, message = validation_problems(exc, separator="/")[0]
        raise SpecError(
            f"spec does not follow the specification language at {loc or 'top level'}: "
            f"{message} ({exc.error_count()} problem(s))",
            hdf5_path=where,
        ) from None
    except RecursionError as exc:
        raise SpecError("spec is nested too deeply", hdf5_path=where) from exc


def content_hash(namespace: Mapping[str, Any], sources: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"namespace": namespace, "sources": dict(sorted(sources.items()))},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _build_namespace(
    raw_namespace: dict[str, Any],
    read_source: Any,
    origin: str,
) -> NamespaceSpec:
    ns = _validated(language.Namespace, raw_namespace, origin)
    sources_raw: dict[str, Any] = {}
    documents: dict[str, Any] = {"namespace": {"namespaces": [raw_namespace]}}
    depends: list[str] = []
    for ref in ns.schema_:
        if ref.namespace:
            if ref.namespace != ns.name and ref.namespace not in depends:
                depends.append(ref.namespace)
        elif ref.source:
            where = f"{origin}/{ref.source}"
            document = read_source(ref.source, where)
            documents[ref.source] = document
            sources_raw[ref.source] = normalize.schema(document, where)
        else:
            raise SpecError(
                "a schema entry names neither a source nor a namespace", hdf5_path=origin
            )
    sources = {
        name: _validated(language.Schema, raw, f"{origin}/{name}")
        for name, raw in sources_raw.items()
    }
    return NamespaceSpec(
        name=ns.name,
        version=ns.version or "",
        namespace=ns,
        sources=sources,
        depends=tuple(depends),
        content_hash=content_hash(raw_namespace, sources_raw),
        origin=origin,
        documents=documents,
    )


# -- embedded specs --------------------------------------------------------------


def find_spec_group(file: h5py.File, label: str) -> tuple[h5py.Group, str] | None:
    """(spec group, its path): ``.specloc`` first, ``/specifications`` second."""
    specloc = file.attrs.get(".specloc")
    default = file.get("specifications")
    if specloc is not None:
        try:
            target = file[specloc]
        except (ValueError, KeyError, TypeError) as exc:
            raise SpecError(
                f"root attribute .specloc does not point at an object ({exc})",
                file=label,
                hdf5_path="/",
            ) from None
        if not isinstance(target, h5py.Group):
            raise SpecError(".specloc does not point at a group", file=label, hdf5_path="/")
        # asking a dereferenced object its name searches the file: compare addresses instead
        if isinstance(default, h5py.Group) and h5o.get_info(default.id).addr == (
            h5o.get_info(target.id).addr
        ):
            return default, "/specifications"
        return target, target.name or "/"
    return (default, "/specifications") if isinstance(default, h5py.Group) else None


def _read_text(dataset: Any, where: str) -> str:
    if not isinstance(dataset, h5py.Dataset):
        raise SpecError("expected a text dataset", hdf5_path=where)
    if dataset.id.get_storage_size() > MAX_SPEC_BYTES or dataset.size > MAX_SPEC_BYTES:
        raise SpecError(f"spec text is larger than {MAX_SPEC_BYTES} bytes", hdf5_path=where)
    try:
        value = dataset[()]
    except (OSError, ValueError) as exc:
        raise SpecError(f"spec text cannot be read ({exc})", hdf5_path=where) from None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "shape") and value.shape == (1,):
        item = value[0]
        return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)
    raise SpecError("expected a scalar text dataset", hdf5_path=where)


def read_embedded(file: h5py.File, label: str) -> SpecSet:
    """Every namespace cached in ``file``; the newest version of each is chosen."""
    found = find_spec_group(file, label)
    if found is None:
        raise NoSpecsError(
            "the file embeds no specifications (no .specloc attribute and no /specifications "
            "group); supply a namespace file with --spec PATH (Python: spec=PATH)",
            file=label,
            hdf5_path="/",
        )
    group, group_path = found
    versions: dict[str, dict[str, h5py.Group]] = {}
    for ns_name, ns_group in group.items():
        if isinstance(ns_group, h5py.Group):
            versions[ns_name] = {v: g for v, g in ns_group.items() if isinstance(g, h5py.Group)}
    chosen: dict[str, NamespaceSpec] = {}
    for ns_name, by_version in versions.items():
        if not by_version:
            continue
        version = newest(list(by_version))
        vgroup = by_version[version]
        where = f"{group_path.rstrip('/')}/{ns_name}/{version}"
        try:
            spec = _read_version_group(vgroup, where, ns_name)
        except SpecError as exc:
            exc.file = label
            raise SpecError(exc.message, file=label, hdf5_path=exc.hdf5_path,
                            rule=exc.rule) from None
        except (OSError, RuntimeError, KeyError, ValueError) as exc:  # a damaged file
            raise SpecError(f"the specification cannot be read ({exc})", file=label,
                            hdf5_path=where) from None
        chosen[spec.name] = spec
    if not chosen:
        raise NoSpecsError("the spec group holds no namespaces", file=label, hdf5_path=group_path)
    try:
        return SpecSet(chosen, {k: sorted(v, key=version_key) for k, v in versions.items()})
    except SpecError as exc:
        raise SpecError(exc.message, file=label, hdf5_path=exc.hdf5_path,
                        rule=exc.rule) from None


def _read_version_group(vgroup: h5py.Group, where: str, ns_name: str) -> NamespaceSpec:
    if "namespace" not in vgroup:
        raise SpecError("missing the 'namespace' dataset", hdf5_path=where)
    raw = normalize.namespaces(
        _parse_text(_read_text(vgroup["namespace"], f"{where}/namespace"), where, yaml_ok=True),
        f"{where}/namespace",
    )
    matching = [n for n in raw["namespaces"] if n.get("name") == ns_name] or raw["namespaces"]

    def read_source(source: str, at: str) -> Any:
        name = source if source in vgroup else source.removesuffix(".yaml")
        if "/" in name or name not in vgroup:
            raise SpecError(f"schema source {source!r} is missing", hdf5_path=at)
        text = _read_text(vgroup[name], f"{where}/{name}")
        return _parse_text(text, f"{where}/{name}", yaml_ok=True)

    return _build_namespace(matching[0], read_source, where)


# -- specs on disk ------------------------------------------------------------------


def read_namespace_files(paths: list[Path]) -> dict[str, NamespaceSpec]:
    """Namespaces from namespace files on disk (YAML or JSON); sources beside each file."""
    out: dict[str, NamespaceSpec] = {}
    for path in paths:
        path = Path(path)
        label = str(path)
        raw = normalize.namespaces(
            _parse_text(_spec_file_text(path, label), label, yaml_ok=True), label
        )
        folder = path.resolve().parent

        def read_source(source: str, at: str, folder: Path = folder) -> Any:
            candidate = (folder / source).resolve()
            if not candidate.is_relative_to(folder):
                raise SpecError(
                    f"schema source {source!r} lies outside the namespace file's folder",
                    hdf5_path=at,
                )
            for suffix in (".yaml", ".yml", ".json"):
                if candidate.exists():
                    break
                candidate = (folder / source).resolve().with_name(Path(source).name + suffix)
            if not candidate.exists():
                raise SpecError(f"schema source {source!r} not found", hdf5_path=at)
            return _parse_text(_spec_file_text(candidate, str(candidate)), at, yaml_ok=True)

        for entry in raw["namespaces"]:
            spec = _build_namespace(entry, read_source, label)
            current = out.get(spec.name)
            if current is None or version_key(spec.version) > version_key(current.version):
                out[spec.name] = spec
    return out


def _spec_file_text(path: Path, label: str) -> str:
    """A spec file's text; only a regular file is opened (a FIFO or a device would block)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise SpecError(f"cannot read namespace file ({exc.strerror})", file=label) from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError("not a regular file", file=label)
    if info.st_size > MAX_SPEC_BYTES:
        raise SpecError(f"spec file is larger than {MAX_SPEC_BYTES} bytes", file=label)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read namespace file ({exc.strerror})", file=label) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (invalid byte at offset {exc.start})",
                        file=label) from None


def combine(embedded: SpecSet | None, supplied: Mapping[str, NamespaceSpec], label: str) -> SpecSet:
    """Supplied namespaces override embedded ones of the same name."""
    namespaces = dict(embedded.namespaces) if embedded is not None else {}
    namespaces.update(supplied)
    if not namespaces:
        raise NoSpecsError("no specifications to read the file with", file=label)
    try:
        return SpecSet(namespaces, dict(embedded.available) if embedded else {})
    except SpecError as exc:
        raise SpecError(exc.message, file=label, hdf5_path=exc.hdf5_path,
                        rule=exc.rule) from None


PathLike = str | os.PathLike[str]


def load_specs(file: h5py.File, label: str, spec: PathLike | Sequence[PathLike] | None) -> SpecSet:
    """The file's embedded specs, overridden or supplied by namespace files on disk."""
    supplied = supplied_specs(spec)
    try:
        embedded: SpecSet | None = read_embedded(file, label)
    except NoSpecsError:
        if not supplied:
            raise
        embedded = None
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # a damaged spec group
        raise SpecError(f"the embedded specifications cannot be read ({exc})", file=label,
                        hdf5_path="/specifications") from None
    return combine(embedded, supplied, label) if supplied else embedded  # type: ignore[return-value]


def supplied_specs(spec: PathLike | Sequence[PathLike] | None) -> dict[str, Any]:
    """Namespace files given on the command line or as ``spec=``, read."""
    if spec is None:
        return {}
    paths = [Path(spec)] if isinstance(spec, str | os.PathLike) else [Path(p) for p in spec]
    return dict(read_namespace_files(paths)) if paths else {}
