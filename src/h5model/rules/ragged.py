"""hdmf-common's ragged columns: a column ``x`` is ragged when ``x_index`` (a VectorIndex
over ``x``) sits beside it, doubly ragged with ``x_index_index``, and so on.

Row i of ``x`` is ``x[index[i-1]:index[i]]`` (row 0 starts at 0); the table's rows are
counted by the outermost index. Reading, appending rows, validation and truncation all
walk this chain: they find it here.
"""

from __future__ import annotations

from collections.abc import Container

INDEX_SUFFIX = "_index"


def ragged_chain(names: Container[str], name: str) -> list[str]:
    """``name`` and its indexes, innermost first (``x``, ``x_index``, ``x_index_index``)."""
    chain = [name]
    while f"{chain[-1]}{INDEX_SUFFIX}" in names:
        chain.append(f"{chain[-1]}{INDEX_SUFFIX}")
    return chain


def indexed_name(index_name: str) -> str | None:
    """The column an index is named for (``x`` for ``x_index``), if it follows the rule."""
    if index_name.endswith(INDEX_SUFFIX) and len(index_name) > len(INDEX_SUFFIX):
        return index_name[: -len(INDEX_SUFFIX)]
    return None
