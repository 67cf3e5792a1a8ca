"""Where results go: checking an output path before the work, and writing a file whole or not at all.

- :func:`check_output` runs before a long computation, so a path that cannot be written (a parent that is a file,
  a folder without write permission, an existing file that must not be replaced) fails in a second, not after
  an hour.
- :func:`atomic_path` gives a temporary name in the output's folder; the file written there is fsync'ed and
  renamed over the output only when the writer returns, so a crash or a kill leaves the previous file (or none),
  never a truncated one. Checkpoints are written the same way (:func:`agents.checkpoint.save_checkpoint`).
"""

from __future__ import annotations

import os
from pathlib import Path

from agents.checkpoint import atomic_path  # noqa: F401  (one atomic writer for checkpoints and outputs)

#: What an output path names: a file, or a folder that will hold files.
KINDS = ("file", "folder")


def check_output(path: str | Path, name: str, kind: str = "file", *, overwrite: bool = True,
                 overwrite_hint: str = "overwrite=True") -> Path:
    """Check that ``path`` can be written, before any work: raise a message naming ``name`` if not.

    Args:
        path: The output file or folder (it need not exist; missing parent folders will be created).
        name: How the caller names the path in messages: ``"output_path"``, ``"--out"``…
        kind: ``"file"`` (replaced or created) or ``"folder"`` (created if needed, files written inside).
        overwrite: Whether an existing file may be replaced (files only).
        overwrite_hint: How the caller spells the permission to overwrite: ``"overwrite=True"``, ``"--overwrite"``.

    Returns:
        ``path`` as a :class:`~pathlib.Path` (``~`` expanded).

    Raises:
        FileExistsError: a file exists at ``path`` and ``overwrite`` is False.
        ValueError: ``path`` is a folder where a file is wanted or the reverse, or one of its parents is a file.
        PermissionError: the folder that would be written in is not writable.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    p = Path(path).expanduser()
    if p.exists():
        if kind == "file" and p.is_dir():
            raise ValueError(f"{name} {str(p)!r} is a folder, not a file")
        if kind == "folder" and not p.is_dir():
            raise ValueError(f"{name} {str(p)!r} is a file, not a folder")
        if kind == "file" and not overwrite:
            raise FileExistsError(f"{name} {str(p)!r} exists; pass {overwrite_hint} to replace it")
    folder = p if kind == "folder" else p.parent
    while not folder.exists() and folder != folder.parent:  # the nearest existing ancestor
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{name} {str(p)!r}: {str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} {str(p)!r}: cannot write in the folder {str(folder)!r}")
    return p


__all__ = ["KINDS", "atomic_path", "check_output"]
