"""Semantic-version ordering for namespace versions.

HDMF compares versions as strings, so ``2.10.0`` sorts before ``2.9.0``; here
versions compare by their numbers, a release after its pre-releases, and
anything unparseable before every parseable version.
"""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^v?(?P<nums>\d+(?:\.\d+)*)(?:[-.+_]?(?P<pre>[0-9A-Za-z.\-]+))?$")

VersionKey = tuple[int, tuple[int, ...], int, tuple[tuple[int, int | str], ...], str]


def version_key(version: str | None) -> VersionKey:
    """A sort key: ``sorted(versions, key=version_key)[-1]`` is the newest."""
    text = (version or "").strip()
    match = _SEMVER.match(text)
    if match is None:
        return (0, (), 0, (), text)
    nums = tuple(int(n) for n in match.group("nums").split("."))
    nums = nums + (0,) * max(0, 3 - len(nums))
    pre = match.group("pre")
    if not pre:
        return (1, nums, 1, (), text)
    parts: list[tuple[int, int | str]] = []
    for part in re.split(r"[.\-]", pre):
        if part.isdigit():
            parts.append((0, int(part)))
        elif part:
            parts.append((1, part))
    return (1, nums, 0, tuple(parts), text)


def newest(versions: list[str]) -> str:
    """The newest of ``versions`` by semantic-version order."""
    if not versions:
        raise ValueError("no versions")
    return max(versions, key=version_key)
