"""Semantic-version ordering for namespace versions.

HDMF compares versions as strings, so ``2.10.0`` sorts before ``2.9.0``; here
versions compare by their numbers, a release after its pre-releases, and
anything unparseable before every parseable version. Numbers compare by their digits
(length, then text), never converted to ``int``: a version with a 5,000-digit number
is merely a very new version, not an error.
"""

from __future__ import annotations

import re

_SEMVER = re.compile(r"v?(?P<nums>[0-9]+(?:\.[0-9]+)*)(?:[-.+_]?(?P<pre>[0-9A-Za-z.\-]+))?")

Number = tuple[int, str]
"""A decimal number as (count of digits, digits), leading zeros dropped: orders like int."""
VersionKey = tuple[int, tuple[Number, ...], int, tuple[tuple[int, Number | str], ...], str]


def _number(digits: str) -> Number:
    significant = digits.lstrip("0")
    return (len(significant), significant)


def version_key(version: str | None) -> VersionKey:
    """A sort key: ``sorted(versions, key=version_key)[-1]`` is the newest."""
    text = (version or "").strip()
    match = _SEMVER.fullmatch(text)
    if match is None:
        return (0, (), 0, (), text)
    nums = tuple(_number(n) for n in match.group("nums").split("."))
    nums = nums + (_number("0"),) * max(0, 3 - len(nums))
    pre = match.group("pre")
    if not pre:
        return (1, nums, 1, (), text)
    parts: list[tuple[int, Number | str]] = []
    for part in re.split(r"[.\-]", pre):
        if part.isascii() and part.isdigit():
            parts.append((0, _number(part)))
        elif part:
            parts.append((1, part))
    return (1, nums, 0, tuple(parts), text)


def newest(versions: list[str]) -> str:
    """The newest of ``versions`` by semantic-version order."""
    if not versions:
        raise ValueError("no versions")
    return max(versions, key=version_key)
