"""Cache keys of generated modules, computable without translating anything.

Kept apart from translation so that opening a file whose models are already
generated never imports linkml-runtime.
"""

from __future__ import annotations

import hashlib
import json

GENERATOR_VERSION = "7"
"""Bump when translation or generation changes what a spec turns into."""


def module_key(content_hash: str, dep_keys: list[str]) -> str:
    """Cache key of a namespace's models: its spec content, its deps' keys, the generator."""
    text = json.dumps([content_hash, sorted(dep_keys), GENERATOR_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:24]
