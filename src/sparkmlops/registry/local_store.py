"""The registry's store on a local folder or a shared volume.

Atomic renames and ``os.replace`` (the commit point) with fsync of files and folders,
and an ``O_CREAT | O_EXCL`` lock file. The module-level helpers are the file-system
steps every write goes through, one function each, so tests can crash any of them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sparkmlops.logs import get_logger
from sparkmlops.registry.store import TEMP_PREFIX, VERSION_MARKER, json_document


class LocalStore:
    """A local or shared-volume folder: atomic renames, O_EXCL lock files, fsync."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def uri(self, key: str) -> Path:
        return self.folder / key if key else self.folder

    def make_root(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def make_folder(self, key: str) -> None:
        self.uri(key).mkdir(parents=True)

    def read_text(self, key: str) -> str | None:
        return _read_text(self.uri(key))

    def exists(self, key: str) -> bool:
        return self.uri(key).exists()

    def list(self, key: str) -> list[str]:
        return [path.name for path in _list_dir(self.uri(key))]

    def write_json_atomic(self, key: str, document: dict) -> None:
        _write_json_atomic(self.uri(key), document)

    def write_marker(self, folder: str, version: str) -> None:
        _write_marker(self.uri(folder), version)

    def create_exclusive(self, key: str, content: str) -> bool:
        return _create_exclusive(self.uri(key), content)

    def lock_is_expired(self, holder: dict) -> bool:
        return False  # a local lock is stale only when its process is gone (checked by pid)

    def replace_stale_lock(self, key: str, expected: str, content: str) -> bool:
        """Move the stale lock aside, then create ours with O_EXCL; True when it is ours.

        Only one of several racing runs wins the rename, and the winner checks it moved
        the stale lock and not one a faster run just created.
        """
        lock_file = self.uri(key)
        aside = self.folder / f"{TEMP_PREFIX}stale-lock-{uuid.uuid4().hex[:8]}"
        try:
            _rename(lock_file, aside)
        except FileNotFoundError:
            return False  # another run took it over first
        if _read_text(aside) != expected:
            _restore_lock(aside, lock_file)
            return False
        aside.unlink(missing_ok=True)
        return _create_exclusive(lock_file, content)

    def rename(self, source: str, target: str) -> None:
        _rename(self.uri(source), self.uri(target))

    def copy_tree(self, source: str, target: str) -> None:
        _copy_tree(self.uri(source), self.uri(target))

    def remove(self, key: str) -> None:
        _remove(self.uri(key))



# ---- file-system steps ------------------------------------------------------------------
def _read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None



def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not supported by every filesystem)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError as error:
        get_logger().debug(f"cannot open {folder} to fsync it: {error}")
        return
    try:
        os.fsync(handle)
    except OSError as error:
        get_logger().debug(f"fsync of folder {folder} is not supported here: {error}")
    finally:
        os.close(handle)


def _write_json_atomic(path: Path, document: dict) -> None:
    """Write JSON to a temp file in the same folder, fsync it, and replace ``path``."""
    temp = path.parent / f"{TEMP_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        with open(temp, "w") as stream:
            stream.write(json_document(document))
            stream.flush()
            os.fsync(stream.fileno())
        _replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _replace(source: Path, target: Path) -> None:
    """Atomically replace a file (the registry's commit point)."""
    os.replace(source, target)


def _rename(source: Path, target: Path) -> None:
    """Atomically rename a file or folder; ``target`` must not exist."""
    os.rename(source, target)
    _fsync_dir(target.parent)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target)


def _write_marker(folder: Path, version: str) -> None:
    with open(folder / VERSION_MARKER, "w") as stream:
        stream.write(version + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _create_exclusive(path: Path, content: str) -> bool:
    """Create ``path`` with ``content`` unless it exists (O_CREAT|O_EXCL); True if created."""
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _restore_lock(aside: Path, lock_file: Path) -> None:
    """Put back a live lock that a stale-lock takeover moved by mistake."""
    try:
        os.link(aside, lock_file)  # fails if a lock was created meanwhile: keep that one
    except FileNotFoundError:
        return  # the moved file is already gone (its owner released it): nothing to restore
    except FileExistsError:
        get_logger().warning(f"a registry lock moved aside by a stale-lock takeover could not be restored: {aside}")
        return
    aside.unlink(missing_ok=True)


def _list_dir(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except FileNotFoundError:
        return []


def _remove(path: Path) -> None:
    """Delete a file or folder tree; a failure is logged (repair retries next time)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as error:
        get_logger().warning(f"could not remove {path}: {error}")
