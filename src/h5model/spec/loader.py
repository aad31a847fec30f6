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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import pydantic
import yaml
from h5py import h5d, h5o

from h5model.errors import NoSpecsError, SpecError, validation_problems
from h5model.spec import language, limits, normalize
from h5model.spec.version import newest, version_key

MAX_SPEC_BYTES = limits.MAX_SPEC_BYTES
"""The default bound on one spec text; ``spec.limits.MAX_SPEC_BYTES`` is the one enforced."""


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
    """Every type defined in ``spec`` or its nested parts, depth first, without recursion."""
    stack: list[language.Group | language.Dataset] = [spec]
    while stack:
        current = stack.pop()
        if current.data_type_def:
            yield current.data_type_def, current
        if isinstance(current, language.Group):
            children: list[language.Group | language.Dataset] = [
                *current.groups, *current.datasets
            ]
            stack.extend(reversed(children))


@dataclass
class SpecSet:
    """The namespaces in force for one file, chosen and dependency-checked."""

    namespaces: dict[str, NamespaceSpec]
    available: dict[str, list[str]] = field(default_factory=dict)
    """Every version seen per namespace (the chosen one is the newest)."""
    label: str | None = None
    """The file the specs were read for (named in errors found later, e.g. by the rules)."""

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
                        file=self.label,
                        hdf5_path=ns.origin,
                        rule="spec.namespace-missing",
                    )
        for name in self.namespaces:
            self.dependency_closure(name)  # raises on dependency cycles

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
        """``namespace``'s dependencies in an order where each comes after its own deps
        (depth first, without recursion: a chain of namespaces may be long)."""
        done: list[str] = []
        finished: set[str] = set()
        trail: list[str] = []
        on_trail: set[str] = set()
        stack: list[tuple[str, int]] = [(namespace, 0)]
        while stack:
            name, next_dep = stack.pop()
            if next_dep == 0:
                if name in finished:
                    continue
                if name in on_trail:
                    cycle = [*trail[trail.index(name):], name]
                    ns = self.namespaces[name]
                    raise SpecError(
                        f"namespaces depend on each other in a cycle: {' -> '.join(cycle)}",
                        file=self.label,
                        hdf5_path=ns.origin,
                        rule="spec.namespace-cycle",
                    )
                trail.append(name)
                on_trail.add(name)
            depends = self.namespaces[name].depends
            if next_dep < len(depends):
                stack.append((name, next_dep + 1))
                if depends[next_dep] in self.namespaces:
                    stack.append((depends[next_dep], 0))
                continue
            trail.pop()
            on_trail.discard(name)
            finished.add(name)
            done.append(name)
        return done


# -- parsing -------------------------------------------------------------------


def _parse_text(text: str, where: str, *, yaml_ok: bool, trusted: bool = False) -> Any:
    """The document a spec text holds, bounded: no huge integers, no deep nesting.
    ``trusted``: text shipped with h5model, which may be parsed by libyaml (a hundred
    times faster, but it cannot refuse aliases, so never for text from elsewhere)."""
    document = _parse(text, where, yaml_ok=yaml_ok, trusted=trusted)
    _check_document(document, where)
    return document


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("+-")) > limits.MAX_INTEGER_DIGITS:
        raise _HugeInteger(digits)
    return int(digits)


class _HugeInteger(ValueError):
    def __str__(self) -> str:
        return (
            f"an integer of {len(self.args[0].lstrip('+-'))} digits "
            f"(at most {limits.MAX_INTEGER_DIGITS} are allowed)"
        )


def _parse(text: str, where: str, *, yaml_ok: bool, trusted: bool = False) -> Any:
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError as exc:
        raise SpecError("spec text is nested too deeply", hdf5_path=where) from exc
    except _HugeInteger as exc:
        raise SpecError(f"spec text holds {exc}", hdf5_path=where) from None
    except ValueError:
        if not yaml_ok:
            raise SpecError("spec text is not valid JSON", hdf5_path=where) from None
    loader: Any = _TRUSTED_LOADER if trusted else _NoAliasLoader
    try:
        return yaml.load(text, Loader=loader)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        # ValueError: YAML integers too long for Python to convert
        raise SpecError(f"spec text is neither JSON nor YAML: {exc}", hdf5_path=where) from None


def _check_document(document: Any, where: str) -> None:
    """Refuse containers nested deeper than ``MAX_DOCUMENT_DEPTH`` and integers longer than
    ``MAX_INTEGER_DIGITS`` (YAML's ints are not bounded while parsing), without recursion.
    Only containers are stacked: a spec is thousands of short texts."""
    max_bits = 4 * limits.MAX_INTEGER_DIGITS
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if type(value) is dict:
            items: Any = (*value, *value.values())
        elif type(value) is list:
            items = value
        else:
            _check_scalar(value, max_bits, where)
            continue
        if depth >= limits.MAX_DOCUMENT_DEPTH:
            raise SpecError(
                f"spec text is nested more than {limits.MAX_DOCUMENT_DEPTH} levels deep",
                hdf5_path=where,
            )
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is not str:
                _check_scalar(item, max_bits, where)


def _check_scalar(value: Any, max_bits: int, where: str) -> None:
    if isinstance(value, dict | list):  # subclasses, which YAML and JSON never make
        _check_document(value, where)
    elif isinstance(value, int) and value.bit_length() > max_bits:
        raise SpecError(
            f"spec text holds an integer of more than {limits.MAX_INTEGER_DIGITS} digits",
            hdf5_path=where,
        )


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a spec has no use for them, and they allow blow-ups."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed in a spec", event.start_mark
            )
        return super().compose_node(parent, index)


_TRUSTED_LOADER: Any = getattr(yaml, "CSafeLoader", _NoAliasLoader)
"""For YAML shipped with h5model only (``trusted``): libyaml's safe loader when present."""


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
    """(spec group, its path): ``.specloc`` first, ``/specifications`` second.

    ``/specifications`` counts only as a group stored in the file: a soft or external
    link there is not followed (specs are never read from outside the file)."""
    specloc = file.attrs.get(".specloc")
    default = _stored_member(file, "specifications", "/specifications", label)
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


def _stored_member(group: h5py.Group, name: str, where: str, label: str | None) -> Any:
    """``group[name]`` when it is stored in the file (a hard link), None when absent.

    Soft links may loop or lead anywhere in the file and external links lead out of it:
    specs are read from what the spec group itself holds, so either is a spec error."""
    try:
        link = group.get(name, getlink=True)
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        raise SpecError(f"cannot be read ({exc})", file=label, hdf5_path=where) from None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        kind = "an external" if isinstance(link, h5py.ExternalLink) else "a soft"
        raise SpecError(
            f"is {kind} link; specs are only read from groups and datasets stored in "
            "the spec group itself",
            file=label,
            hdf5_path=where,
        )
    try:
        return group[name]
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        raise SpecError(f"cannot be opened ({exc})", file=label, hdf5_path=where) from None


def _check_storage(dataset: h5py.Dataset, where: str) -> None:
    """Refuse a spec dataset whose bytes live outside the file (external raw storage, a
    virtual dataset mapping other files)."""
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5d.VIRTUAL or plist.get_external_count() > 0:
        raise SpecError(
            "spec text is stored outside the file (external or virtual storage); "
            "refusing to read it",
            hdf5_path=where,
        )


def _text_size(dataset: h5py.Dataset, where: str) -> int:
    """An upper bound of the bytes reading ``dataset`` brings into memory, learnt
    without reading it: fixed-size elements from shape and dtype, a variable-length
    string from the length stored beside it in the file."""
    count = dataset.size
    vlen = h5py.check_vlen_dtype(dataset.dtype)
    string = h5py.check_string_dtype(dataset.dtype)
    if vlen is None and not (string is not None and string.length is None):
        return int(count) * int(dataset.dtype.itemsize)
    if count > 1:
        raise SpecError(
            f"expected a scalar text dataset, found {count} variable-length elements",
            hdf5_path=where,
        )
    if count == 0:
        return 0
    file_size = int(dataset.file.id.get_filesize())
    if file_size <= limits.MAX_SPEC_BYTES:
        return file_size  # a variable-length value is stored in the file: it is no bigger
    length = _stored_vlen_length(dataset)
    if length is None:
        raise SpecError(
            "the size of this variable-length spec text cannot be learnt before reading "
            f"it (the file is larger than {limits.MAX_SPEC_BYTES} bytes and the text is "
            "not stored contiguously); refusing to read it",
            hdf5_path=where,
        )
    return length


BYTE_READERS: list[Callable[[h5py.File], Callable[[int, int], bytes] | None]] = []
"""Ways to read bytes of a file whose driver has no file descriptor: each gives, for an
open file, ``read(size, offset)`` or None. Opening a remote file adds its own
(``hdf5.open``), as the spec layer knows nothing of networks."""


def _stored_vlen_length(dataset: h5py.Dataset) -> int | None:
    """The length of a contiguous variable-length element, from its file record (a
    4-byte little-endian length, then the heap address), or None where it cannot be
    reached (another storage layout, a file driver without a file descriptor or a remote
    file behind it)."""
    offset = dataset.id.get_offset()
    remote = next((read for find in BYTE_READERS if (read := find(dataset.file)) is not None),
                  None) if offset is not None else None
    if offset is None or (dataset.file.driver != "sec2" and remote is None):
        return None
    try:
        if remote is not None:
            record = remote(4, int(offset))
        else:
            handle = dataset.file.id.get_vfd_handle()
            record = os.pread(int(handle), 4, int(offset))
    except (OSError, ValueError, TypeError):
        return None
    return int.from_bytes(record, "little") if len(record) == 4 else None


def _read_text(dataset: Any, where: str) -> str:
    if not isinstance(dataset, h5py.Dataset):
        raise SpecError("expected a text dataset", hdf5_path=where)
    try:
        _check_storage(dataset, where)
        size = _text_size(dataset, where)
    except (OSError, ValueError, RuntimeError) as exc:
        raise SpecError(f"spec text cannot be read ({exc})", hdf5_path=where) from None
    if size > limits.MAX_SPEC_BYTES:
        raise SpecError(
            f"spec text is larger than {limits.MAX_SPEC_BYTES} bytes", hdf5_path=where
        )
    try:
        value = dataset[()]
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise SpecError(f"spec text cannot be read ({exc})", hdf5_path=where) from None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "shape") and value.shape == (1,):
        item = value[0]
        if isinstance(item, bytes):
            return item.decode("utf-8", errors="replace")
        if isinstance(item, str):
            return item
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
    base = group_path.rstrip("/")
    versions: dict[str, dict[str, h5py.Group]] = {}
    for ns_name in group:
        ns_group = _stored_member(group, ns_name, f"{base}/{ns_name}", label)
        if isinstance(ns_group, h5py.Group):
            versions[ns_name] = {}
            for v in ns_group:
                member = _stored_member(ns_group, v, f"{base}/{ns_name}/{v}", label)
                if isinstance(member, h5py.Group):
                    versions[ns_name][v] = member
    chosen: dict[str, NamespaceSpec] = {}
    for ns_name, by_version in versions.items():
        if not by_version:
            continue
        version = newest(list(by_version))
        vgroup = by_version[version]
        where = f"{base}/{ns_name}/{version}"
        try:
            spec = _read_version_group(vgroup, where, ns_name)
        except SpecError as exc:
            raise SpecError(exc.message, file=label, hdf5_path=exc.hdf5_path,
                            rule=exc.rule) from None
        except (OSError, RuntimeError, KeyError, ValueError) as exc:  # a damaged file
            raise SpecError(f"the specification cannot be read ({exc})", file=label,
                            hdf5_path=where) from None
        chosen[spec.name] = spec
    if not chosen:
        raise NoSpecsError("the spec group holds no namespaces", file=label, hdf5_path=group_path)
    return SpecSet(chosen, {k: sorted(v, key=version_key) for k, v in versions.items()},
                   label=label)


def _read_version_group(vgroup: h5py.Group, where: str, ns_name: str) -> NamespaceSpec:
    namespace = _stored_member(vgroup, "namespace", f"{where}/namespace", None)
    if namespace is None:
        raise SpecError("missing the 'namespace' dataset", hdf5_path=where)
    raw = normalize.namespaces(
        _parse_text(_read_text(namespace, f"{where}/namespace"), where, yaml_ok=True),
        f"{where}/namespace",
    )
    matching = [n for n in raw["namespaces"] if n.get("name") == ns_name] or raw["namespaces"]

    names = set(vgroup)  # the member names only: no link is followed to list them

    def read_source(source: str, at: str) -> Any:
        name = source if source in names else source.removesuffix(".yaml")
        if "/" in name or name not in names:
            raise SpecError(f"schema source {source!r} is missing", hdf5_path=at)
        dataset = _stored_member(vgroup, name, f"{where}/{name}", None)
        text = _read_text(dataset, f"{where}/{name}")
        return _parse_text(text, f"{where}/{name}", yaml_ok=True)

    return _build_namespace(matching[0], read_source, where)


def namespace_from_documents(documents: Mapping[str, Any], origin: str) -> NamespaceSpec:
    """One namespace rebuilt from the documents it was read from (``NamespaceSpec.documents``:
    ``namespace`` plus each source by name), e.g. specs kept as data beside generated models.
    The content hash comes out as when the documents were first read."""
    raw = normalize.namespaces(documents.get("namespace"), f"{origin}/namespace")
    if len(raw["namespaces"]) != 1:
        raise SpecError(
            f"expected one namespace entry, found {len(raw['namespaces'])}",
            hdf5_path=f"{origin}/namespace",
        )

    def read_source(source: str, at: str) -> Any:
        if source == "namespace" or source not in documents:
            raise SpecError(f"schema source {source!r} is missing", hdf5_path=at)
        return documents[source]

    return _build_namespace(raw["namespaces"][0], read_source, origin)


# -- specs on disk ------------------------------------------------------------------


def read_namespace_files(paths: list[Path], *, trusted: bool = False) -> dict[str, NamespaceSpec]:
    """Namespaces from namespace files on disk (YAML or JSON); sources beside each file.
    ``trusted``: files shipped with h5model (see ``_parse_text``)."""
    out: dict[str, NamespaceSpec] = {}
    for path in paths:
        path = Path(path)
        label = str(path)
        raw = normalize.namespaces(
            _parse_text(_spec_file_text(path, label), label, yaml_ok=True, trusted=trusted),
            label,
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
            return _parse_text(_spec_file_text(candidate, str(candidate)), at, yaml_ok=True,
                               trusted=trusted)

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
    if info.st_size > limits.MAX_SPEC_BYTES:
        raise SpecError(f"spec file is larger than {limits.MAX_SPEC_BYTES} bytes", file=label)
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
    return SpecSet(namespaces, dict(embedded.available) if embedded else {}, label=label)


PathLike = str | os.PathLike[str]


def load_specs(file: h5py.File, label: str, spec: PathLike | Sequence[PathLike] | None,
               read: Mapping[str, NamespaceSpec] | None = None) -> SpecSet:
    """The file's embedded specs, overridden or supplied by namespace files on disk (and
    ``read``: namespaces already read, e.g. a layout's)."""
    supplied = {**supplied_specs(spec), **(read or {})}
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
