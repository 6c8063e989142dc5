"""What the registry needs from where it lives, and what every store writes alike.

A store knows nothing of slots or history: it reads, writes, lists, renames and removes
keys — '/'-paths under one use case's folder, ``""`` being the folder itself — and
offers the two primitives the registry's crash safety and locking rest on: an atomic
replace of a small JSON document and an exclusive create of the lock file.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sparkmlops.reports import json_safe

# The file a slot copy is complete with; written last, read back by the registry.
VERSION_MARKER = "VERSION"
# Everything a crashed step can leave behind starts with this; repair() deletes it.
TEMP_PREFIX = ".tmp-"


class Store(Protocol):
    """Where one use case's registry lives; keys are '/'-paths under its folder."""

    def uri(self, key: str) -> Any:
        """The full location of ``key`` (a Path locally, an s3a:// URI on S3), for loading and messages."""

    def make_root(self) -> None:
        """Make the use case folder usable (create it, or check the bucket answers)."""

    def make_folder(self, key: str) -> None:
        """Create an empty folder that must not exist yet (nothing to do where folders are prefixes)."""

    def read_text(self, key: str) -> str | None:
        """A file's text, or None when it does not exist."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is a file or a folder (on S3: any object at or under it)."""

    def list(self, key: str) -> list[str]:
        """Names directly under the folder ``key``, sorted; empty when it does not exist."""

    def write_json_atomic(self, key: str, document: dict) -> None:
        """Replace ``key`` with the document so readers see the old or the new one (the commit point)."""

    def write_marker(self, folder: str, version: str) -> None:
        """Write ``folder``'s VERSION marker, the last step of a complete slot copy."""

    def create_exclusive(self, key: str, content: str) -> bool:
        """Create ``key`` unless it exists; True only for the one caller that created it."""

    def replace_stale_lock(self, key: str, expected: str, content: str) -> bool:
        """Replace the lock only if it still reads ``expected``; True when it is now ``content``."""

    def lock_is_expired(self, holder: dict) -> bool:
        """Whether a lock's holder is stale by age alone (a dead pid on this host is checked apart)."""

    def rename(self, source: str, target: str) -> None:
        """Move a file or folder to a ``target`` that does not exist (need not be atomic)."""

    def copy_tree(self, source: str, target: str) -> None:
        """Copy a folder to a ``target`` that does not exist."""

    def remove(self, key: str) -> None:
        """Delete a file or folder tree; a missing one is no error."""


def json_document(document: dict) -> str:
    """The text a store writes for a registry JSON document (indented, no NaN, newline-ended)."""
    return json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n"
