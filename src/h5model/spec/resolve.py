"""Inheritance resolution: a type's spec with everything it inherits merged in.

Cached specs are not resolved: a type lists only what it adds or overrides;
its other parts live in its parent's spec. Overrides may be partial (a
subtype may restate ``data`` only to change its dtype), so parts with the same
name merge field by field, the subtype's settings winning.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from h5model.errors import SpecError
from h5model.spec import language, limits
from h5model.spec.loader import SpecSet

Spec = language.Group | language.Dataset
T = TypeVar("T", bound=BaseModel)

_NOT_INHERITED = {"data_type_def"}


def merge(base: T, own: T) -> T:
    """``own`` laid over ``base``: set fields win, named parts merge recursively."""
    if type(base) is not type(own):
        raise SpecError(
            f"{_label(own)} overrides a {type(base).__name__.lower()} with a "
            f"{type(own).__name__.lower()}"
        )
    update: dict[str, Any] = {}
    for name in type(own).model_fields:
        if name in _NOT_INHERITED:
            continue
        own_value = getattr(own, name)
        base_value = getattr(base, name)
        if name in ("attributes", "datasets", "groups", "links"):
            update[name] = merge_parts(base_value, own_value)
        elif name in own.model_fields_set and own_value not in (None, []):
            update[name] = own_value
        else:
            update[name] = base_value
    update["data_type_def"] = getattr(own, "data_type_def", None)
    return type(own).model_construct(
        **{k: v for k, v in update.items() if k in type(own).model_fields}
    )


def part_key(part: BaseModel) -> str:
    """Parts match by name; unnamed typed parts match by the type they include."""
    name = getattr(part, "name", None)
    if name:
        return f"name:{name}"
    if isinstance(part, language.Link):
        return f"link:{part.target_type}"
    type_name = getattr(part, "data_type_def", None) or getattr(part, "data_type_inc", None)
    return f"type:{type_name}"


def merge_parts(base: list[T], own: list[T]) -> list[T]:
    merged: dict[str, T] = {part_key(p): p for p in base}
    for part in own:
        key = part_key(part)
        merged[key] = merge(merged[key], part) if key in merged else part
    return list(merged.values())


def _label(spec: object) -> str:
    name = getattr(spec, "data_type_def", None) or getattr(spec, "name", None)
    return repr(name) if name else "a part"


class Resolver:
    """Resolved specs of every type of a spec set, computed once each."""

    def __init__(self, specs: SpecSet) -> None:
        self.specs = specs
        self._done: dict[tuple[str, str], Spec] = {}
        self._depths: dict[tuple[str, str], int] = {}
        """How many ancestors each resolved type has."""
        self._lineages: dict[tuple[str, str], list[str]] = {}

    def type_spec(self, namespace: str, type_name: str) -> tuple[str, Spec]:
        """(defining namespace, resolved spec) of a type seen from ``namespace``."""
        found = self.specs.find_type(namespace, type_name)
        if found is None:
            raise SpecError(
                f"type {type_name!r} is not defined in namespace {namespace!r} "
                "or the namespaces it depends on",
                file=self.specs.label,
                hdf5_path=self.specs.namespaces[namespace].origin,
                rule="type.unknown",
            )
        defining, spec = found
        return defining, self.resolved(defining, spec)

    def resolved(self, namespace: str, spec: Spec) -> Spec:
        """``spec`` (of ``namespace``) with everything it inherits merged in.

        The chain of ancestors is walked without recursion, from ``spec`` up to the first
        ancestor already resolved (or the root), then merged from the top down; a chain
        longer than ``MAX_INHERITANCE_DEPTH`` or one that comes back on itself is refused.
        """
        chain: list[tuple[str, Spec]] = []
        seen: set[tuple[str, str]] = set()
        merged: Spec | None = None
        above = 0  # ancestors of the topmost type of ``chain``
        ns, current = namespace, spec
        while True:
            key = (ns, current.data_type_def or "")
            if current.data_type_def:
                done = self._done.get(key)
                if done is not None:
                    merged, above = done, self._depths[key] + 1
                    break
                if key in seen:
                    names = [s.data_type_def or s.data_type_inc or "?" for _, s in chain]
                    raise self._error(
                        namespace, spec,
                        f"inherits from itself through {' -> '.join([*names, key[1]])}",
                        "type.inheritance-cycle",
                    )
                seen.add(key)
            chain.append((ns, current))
            if not current.data_type_inc:
                break
            if len(chain) > limits.MAX_INHERITANCE_DEPTH:  # checked again below
                raise self._error(
                    namespace, spec,
                    f"has more than {limits.MAX_INHERITANCE_DEPTH} ancestors",
                    "type.inheritance-depth",
                )
            found = self.specs.find_type(ns, current.data_type_inc)
            if found is None:
                raise self._error(
                    ns, current, f"extends unknown type {current.data_type_inc!r}",
                    "type.unknown",
                )
            ns, current = found
        if len(chain) - 1 + above > limits.MAX_INHERITANCE_DEPTH:
            raise self._error(
                namespace, spec,
                f"has more than {limits.MAX_INHERITANCE_DEPTH} ancestors",
                "type.inheritance-depth",
            )
        for ns, current in reversed(chain):
            try:
                merged = current if merged is None else merge(merged, current)
            except SpecError as exc:
                raise self._error(ns, current, exc.message, exc.rule or "spec.malformed") from None
            if current.data_type_def:
                self._done[(ns, current.data_type_def)] = merged
                self._depths[(ns, current.data_type_def)] = above
            above += 1
        assert merged is not None
        return merged

    def _error(self, namespace: str, spec: Spec, problem: str, rule: str) -> SpecError:
        name = spec.data_type_def or spec.data_type_inc
        return SpecError(
            f"type {name!r} of namespace {namespace!r} {problem}",
            file=self.specs.label,
            hdf5_path=self.specs.namespaces[namespace].origin,
            rule=rule,
        )

    def lineage(self, namespace: str, type_name: str) -> list[str]:
        """``type_name`` and every type it inherits from, nearest first (a cycle ends it;
        at most ``MAX_INHERITANCE_DEPTH`` ancestors are followed)."""
        cached = self._lineages.get((namespace, type_name))
        if cached is not None:
            return cached
        walked: list[tuple[tuple[str, str], str]] = []
        seen: set[str] = set()
        tail: list[str] = []
        current: str | None = type_name
        ns = namespace
        while current is not None and current not in seen:
            if len(walked) > limits.MAX_INHERITANCE_DEPTH:
                break
            known = self._lineages.get((ns, current))
            if known is not None:
                tail = [name for name in known if name not in seen]
                break
            found = self.specs.find_type(ns, current)
            if found is None:
                break
            walked.append(((ns, current), current))
            seen.add(current)
            ns, spec = found
            current = spec.data_type_inc
        names = [name for _, name in walked] + tail
        for i, (key, _) in enumerate(walked):
            self._lineages.setdefault(key, names[i:])
        return names

    def is_a(self, namespace: str, type_name: str, wanted: str) -> bool:
        """True when ``type_name`` (seen from ``namespace``) is ``wanted`` or a subtype of it."""
        return wanted in self.lineage(namespace, type_name)

    def part(self, namespace: str, part: Spec) -> Spec:
        """A part that includes a type (``data_type_inc`` with no def), merged over it."""
        if part.data_type_inc and not part.data_type_def:
            _, base = self.type_spec(namespace, part.data_type_inc)
            merged = merge(base, part)
            return merged
        return part
