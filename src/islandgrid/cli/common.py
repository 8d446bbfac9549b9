"""Shared CLI plumbing: one error boundary, console helpers, and the one writer of output folders.

:func:`atomic_dir` is how every command writes files. A command writes only its own files, each one
atomically (written completely in a hidden staging folder inside the target, flushed to disk, then moved
into place with :func:`os.replace`: a reader sees the old file or the new one, never half of one), and it
never removes or replaces a file it did not write. What it wrote is listed, with a SHA-256 per file, in a
small manifest in the folder (:data:`MANIFEST`); a file of the same name is replaced only when the manifest
says islandgrid wrote it and it is unchanged since. Anything else (a file the user put there or edited, a
folder, a link) stops the command with exit code 2 before anything is moved, naming the files and the fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from islandgrid.errors import InputError, IslandgridError

P = ParamSpec("P")
R = TypeVar("R")

#: The manifest of the files islandgrid wrote into a folder: name -> sha256, command, time (UTC).
MANIFEST = ".islandgrid-outputs.json"
#: Its format tag.
MANIFEST_FORMAT = "islandgrid-outputs/1"
_STAGING_PREFIX = ".islandgrid-tmp-"


def err_console() -> Console:
    """A console on stderr, so that ``--json`` keeps stdout clean."""
    return Console(stderr=True)


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn islandgrid errors into a one-paragraph message and an exit code; never a traceback.

    :class:`InputError` exits 2, other :class:`IslandgridError` exit 1.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except IslandgridError as exc:
            err_console().print(
                f"[bold red]error ({type(exc).__name__}):[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(exc.exit_code) from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def atomic_dir(target: Path, field: str = "--out") -> Iterator[Path]:
    """Yield a staging folder; on success move each file written there into ``target``, atomically.

    ``target`` is created if missing (parents too). The files get the permissions of any new file
    (``0o666`` less the umask). On any exception nothing is moved, the staging folder is removed and
    folders this call created are removed again if empty: ``target`` is left as it was.

    Parameters
    ----------
    target : Path
        The output folder (``--out``); ``.`` is the current folder.
    field : str
        The option named in error messages.

    Raises
    ------
    InputError
        ``target`` is not a folder or cannot be written, or a file to write would replace a file
        islandgrid did not write (or one changed since): nothing is written.
    """
    target = Path(target)
    created = _make_folder(target, field)
    try:
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=target))
    except OSError as exc:
        _remove_empty(created)
        raise InputError(
            f"cannot write into this folder ({exc.strerror})",
            field=field,
            value=str(target),
            fix="choose a folder you can write to",
        ) from None
    try:
        with _folder_lock(target):
            yield staging
            _publish(staging, target, field)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _make_folder(target: Path, field: str) -> list[Path]:
    """Create ``target`` and missing parents; return the folders created (deepest last)."""
    if target.exists() and not target.is_dir():
        raise InputError(
            "is a file, not a folder",
            field=field,
            value=str(target),
            fix=f"give a folder for {field} (created if missing), not an existing file; the file is left as it is",
        )
    missing = [p for p in (target, *target.parents) if not p.exists()][::-1]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(
            "part of this path is a file, not a folder", field=field, value=str(target), fix="choose another folder"
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot create this folder ({exc.strerror})",
            field=field,
            value=str(target),
            fix="choose a folder you can write to",
        ) from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: never removes anything that is in it


@contextmanager
def _folder_lock(target: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder itself (no lock file): two commands never mix manifests."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(target: Path, field: str) -> dict[str, dict[str, Any]]:
    path = target / MANIFEST
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and not path.is_symlink() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("files"), dict):
        raise InputError(
            f"{MANIFEST} in this folder is not islandgrid's list of its outputs",
            field=field,
            value=str(target),
            fix=f"choose another {field} folder, or move {MANIFEST} out of it",
        )
    return {str(k): v for k, v in doc["files"].items() if isinstance(v, dict)}


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=_STAGING_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _command() -> str:
    """The command words of this run (``islandgrid report carbon``), for the manifest; no paths, no options."""
    words = []
    for arg in sys.argv[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*", arg):
            break
        words.append(arg)
    return " ".join(["islandgrid", *words])


def _publish(staging: Path, target: Path, field: str) -> None:
    """Check every staged file against the folder, then move them in and update the manifest."""
    names = sorted(p.name for p in staging.iterdir())
    if not names:
        return
    if any(not (staging / n).is_file() or (staging / n).is_symlink() for n in names) or MANIFEST in names:
        raise IslandgridError(f"an output writer left something other than plain files in {staging}")  # a bug
    manifest = _read_manifest(target, field)
    refused: list[str] = []
    before: dict[str, str] = {}
    for name in names:
        dest = target / name
        if not dest.exists() and not dest.is_symlink():
            continue
        entry = manifest.get(name)
        if dest.is_symlink() or not dest.is_file() or entry is None:
            refused.append(name)
            continue
        digest = _sha256(dest)
        if digest not in (entry.get("sha256"), entry.get("sha256_before")):
            refused.append(name)
            continue
        before[name] = digest
    if refused:
        listed = ", ".join(refused)
        raise InputError(
            f"would replace {listed}, which islandgrid did not write here (or which changed since it did); "
            "nothing was written",
            field=field,
            value=str(target),
            fix=f"choose another {field} folder, or move {listed} out of it",
        )
    mode = 0o666 & ~_umask()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = _command()
    files = {n: e for n, e in manifest.items() if n not in names and (target / n).is_file()}
    for name in names:
        src = staging / name
        with open(src, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(src, mode)
        files[name] = {"sha256": _sha256(src), "command": command, "written_utc": now}
        if name in before:  # until the new file is in place, the old one is still islandgrid's
            files[name]["sha256_before"] = before[name]

    def save() -> None:
        doc = {"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))}
        _write_file(target / MANIFEST, (json.dumps(doc, indent=1) + "\n").encode("utf-8"), mode)

    save()
    for name in names:
        os.replace(staging / name, target / name)
    for entry in files.values():
        entry.pop("sha256_before", None)
    save()
    _fsync_folder(target)


def main_guard(app: Callable[..., Any]) -> None:
    """Run a typer app; last-resort guard so that no traceback reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        err_console().print("interrupted")
        sys.exit(130)
