"""Atomic writes: nothing half-written is ever left at the destination."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path beside PATH; on success fsync it and move it onto PATH."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(
    path: str | Path, overwrite: bool = False, inputs: Iterable[str | Path | None] = ()
) -> Iterator[Path]:
    """Yield a temporary folder beside PATH; on success it replaces PATH in one rename.

    On failure the temporary folder is removed and PATH is left as it was. Replacing PATH
    is refused when one of the inputs (files the output is made from) lies inside it.
    """
    path = Path(path)
    refuse_inputs_inside(path, inputs)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder; expected a folder path.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} already exists and is not empty; pass --overwrite.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result should not be
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f"{tmp.name}.old")
            path.rename(old)
        tmp.rename(path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def removed_on_failure(folder: str | Path, keep: Callable[[], bool]) -> Iterator[Path]:
    """A folder that did not exist before is removed again when the work inside fails,
    unless keep() says it holds something worth resuming from; an existing one is left."""
    folder = Path(folder)
    fresh = not folder.exists()
    try:
        yield folder
    except BaseException:
        if fresh and not keep():
            shutil.rmtree(folder, ignore_errors=True)
        raise


def refuse_inputs_inside(path: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """FileExistsError when an existing output folder holds one of the run's inputs (its
    replacement would delete them); commands call it before their work, atomic_folder
    again before replacing."""
    path = Path(path)
    inside = [str(p) for p in inputs if p is not None and _within(Path(p), path)]
    if inside and path.exists():
        raise FileExistsError(
            f"{inside[0]} lies inside the output folder {path}, which the run would "
            "replace; expected the inputs outside it (or another --out)."
        )


def _within(item: Path, folder: Path) -> bool:
    """Whether item is folder or lies inside it, after resolving links."""
    return item.resolve().is_relative_to(folder.resolve())
