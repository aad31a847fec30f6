"""Name patterns from layouts, matched in time linear in the name (no backtracking).

Patterns come from strangers, and Python's ``re`` backtracks: ``(a+)+$`` or a run of
``a*a*a*...`` takes exponential or high-polynomial time on a crafted name. A layout
pattern is therefore a small safe subset, compiled here into a list of pieces and
matched by simulating every position at once (a Thompson-style state set):

- literal characters, ``\\`` escapes of them, ``.``, ``\\d``, ``\\w``, ``\\s``;
- character classes ``[a-z0-9_]``, negated ``[^...]``;
- a quantifier after one of these: ``*``, ``+``, ``?``, ``{n}``, ``{m,n}``, ``{m,}``;
- ``|`` between whole alternatives; a leading ``^`` and trailing ``$`` are allowed
  (a pattern always matches the whole name).

Groups, back-references and look-arounds are refused, so no pattern can nest
quantifiers. Patterns and the pieces they expand to are bounded in size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from h5model.errors import SpecError

MAX_PATTERN_LENGTH = 256
MAX_REPEAT = 255
MAX_STATES = 4096
"""The most states the pieces of one pattern may expand to (counted repeats unrolled)."""

_SPECIAL = set("\\.[]{}()*+?|^$")
_CLASSES: dict[str, Callable[[str], bool]] = {
    "d": str.isdigit,
    "w": lambda c: c.isalnum() or c == "_",
    "s": str.isspace,
}


@dataclass(frozen=True, slots=True)
class _Piece:
    test: Callable[[str], bool]
    low: int
    high: int | None


@dataclass(frozen=True)
class NamePattern:
    """A compiled pattern: ``matches(name)`` is a whole-name match."""

    text: str
    alternatives: tuple[tuple[_Piece, ...], ...]

    def matches(self, name: str) -> bool:
        return any(_run(pieces, name) for pieces in self.alternatives)


def compile_pattern(text: str, where: str | None = None) -> NamePattern:
    """Compile ``text`` or raise ``SpecError`` saying what is not allowed."""
    if not isinstance(text, str):
        raise SpecError("a name pattern must be text", hdf5_path=where)
    if len(text) > MAX_PATTERN_LENGTH:
        raise SpecError(f"name pattern longer than {MAX_PATTERN_LENGTH} characters",
                        hdf5_path=where)
    body = text[1:] if text.startswith("^") else text
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    alternatives = []
    states = 0
    for alternative in _split_alternatives(body, text, where):
        pieces = _Parser(alternative, text, where).pieces()
        states += sum(p.low + (1 if p.high is None else p.high - p.low) for p in pieces)
        if states > MAX_STATES:
            raise SpecError(f"name pattern {text!r} repeats too much (over {MAX_STATES} "
                            "states)", hdf5_path=where)
        alternatives.append(pieces)
    return NamePattern(text, tuple(alternatives))


def _split_alternatives(body: str, text: str, where: str | None) -> list[str]:
    out, current, i, in_class = [], "", 0, False
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        if char == "|" and not in_class:
            out.append(current)
            current = ""
        else:
            current += char
        i += 1
    out.append(current)
    return out


class _Parser:
    def __init__(self, body: str, text: str, where: str | None) -> None:
        self.body, self.text, self.where, self.i = body, text, where, 0

    def error(self, what: str) -> SpecError:
        return SpecError(f"name pattern {self.text!r}: {what} (allowed: characters, classes, "
                         "., \\d, \\w, \\s, one quantifier each, | between alternatives)",
                         hdf5_path=self.where)

    def pieces(self) -> tuple[_Piece, ...]:
        out: list[_Piece] = []
        while self.i < len(self.body):
            test = self.atom()
            low, high = self.quantifier()
            out.append(_Piece(test, low, high))
        return tuple(out)

    def atom(self) -> Callable[[str], bool]:
        char = self.body[self.i]
        self.i += 1
        if char == "\\":
            return self.escape(in_class=False)
        if char == ".":
            return lambda c: True
        if char == "[":
            return self.char_class()
        if char in "()":
            raise self.error("groups are not allowed")
        if char in _SPECIAL:
            raise self.error(f"{char!r} is not allowed here")
        return char.__eq__

    def escape(self, *, in_class: bool) -> Callable[[str], bool]:
        if self.i >= len(self.body):
            raise self.error("a trailing backslash")
        char = self.body[self.i]
        self.i += 1
        if char in _CLASSES:
            return _CLASSES[char]
        if char in _SPECIAL or char in "-/ :":
            return char.__eq__
        raise self.error(f"escape \\{char} is not allowed")

    def char_class(self) -> Callable[[str], bool]:
        negate = self.body.startswith("^", self.i)
        if negate:
            self.i += 1
        tests: list[Callable[[str], bool]] = []
        first = True
        while True:
            if self.i >= len(self.body):
                raise self.error("an unclosed character class")
            char = self.body[self.i]
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            self.i += 1
            if char == "\\":
                tests.append(self.escape(in_class=True))
                continue
            if (self.i + 1 < len(self.body) and self.body[self.i] == "-"
                    and self.body[self.i + 1] != "]"):
                end = self.body[self.i + 1]
                self.i += 2
                if end == "\\" or ord(end) < ord(char):
                    raise self.error(f"a bad range {char}-{end}")
                tests.append(_between(char, end))
            else:
                tests.append(char.__eq__)
        members = tuple(tests)
        if negate:
            return lambda c: not any(t(c) for t in members)
        return lambda c: any(t(c) for t in members)

    def quantifier(self) -> tuple[int, int | None]:
        if self.i >= len(self.body):
            return 1, 1
        char = self.body[self.i]
        simple = {"*": (0, None), "+": (1, None), "?": (0, 1)}
        if char in simple:
            self.i += 1
            bounds = simple[char]
        elif char == "{":
            close = self.body.find("}", self.i)
            if close < 0:
                raise self.error("an unclosed {")
            inner = self.body[self.i + 1 : close]
            self.i = close + 1
            bounds = self.counted(inner)
        else:
            return 1, 1
        if self.i < len(self.body) and self.body[self.i] in "*+?{":
            raise self.error("a quantifier may not follow a quantifier")
        return bounds

    def counted(self, inner: str) -> tuple[int, int | None]:
        low_text, comma, high_text = inner.partition(",")
        if not low_text.isdigit() or (high_text and not high_text.isdigit()):
            raise self.error(f"a bad repeat {{{inner}}}")
        if len(low_text) > 3 or len(high_text) > 3:
            raise self.error(f"repeat {{{inner}}} is over {MAX_REPEAT}")
        low = int(low_text)
        high = None if comma and not high_text else int(high_text) if comma else low
        if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
            raise self.error(f"a bad repeat {{{inner}}}")
        return low, high


def _run(pieces: tuple[_Piece, ...], name: str) -> bool:
    """Simulate every way through the pieces at once: O(len(name) * states)."""
    # a state is (piece index, times the piece has matched so far, capped at its low bound
    # or, for bounded pieces, at its high bound)
    def closure(states: set[tuple[int, int]]) -> set[tuple[int, int]]:
        stack = list(states)
        seen = set(states)
        while stack:
            index, count = stack.pop()
            if index < len(pieces) and count >= pieces[index].low:
                nxt = (index + 1, 0)
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    current = closure({(0, 0)})
    for char in name:
        moved: set[tuple[int, int]] = set()
        for index, count in current:
            if index == len(pieces):
                continue
            piece = pieces[index]
            if piece.high is not None and count >= piece.high:
                continue
            if piece.test(char):
                cap = piece.low if piece.high is None else piece.high
                moved.add((index, min(count + 1, cap)))
        if not moved:
            return False
        current = closure(moved)
    return (len(pieces), 0) in current


def _between(low: str, high: str) -> Callable[[str], bool]:
    return lambda c: low <= c <= high
