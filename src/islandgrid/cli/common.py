"""Shared CLI plumbing: one error boundary, console helpers, atomic output folders."""

from __future__ import annotations

import functools
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
def atomic_dir(target: Path) -> Iterator[Path]:
    """Write into a temporary sibling folder and move it into place only on success.

    Nothing half-written is ever left at ``target``; an existing ``target`` is
    replaced only after the new content is complete.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def main_guard(app: Callable[..., Any]) -> None:
    """Run a typer app; last-resort guard so that no traceback reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        err_console().print("interrupted")
        sys.exit(130)
