"""The report's output folder: every file stays inside it, is written whole, and is recorded.

A spec or a data file from someone else decides the names of tables, figures and
outcomes. They never decide where a file goes:

- file names are built by :func:`file_stem` (letters, digits, ``_`` and ``-`` only), so
  no name can hold a path separator, ``..`` or a hidden-file dot;
- a symbolic link inside the folder (a file or a subfolder) whose target lies outside the
  folder is refused with :class:`~impact.errors.OutputPathError` before anything is
  written through it;
- each file is written to a temporary file beside it and moved into place with
  :func:`os.replace`, which replaces a link rather than following it, so an interrupted
  write never leaves half a file;
- the folder records the SHA-256 of every file written, for the provenance sidecar.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from impact.errors import OutputPathError

__all__ = ["FILE_MODE", "MAX_STEM", "OutputFolder", "file_stem"]

#: Permissions of written files (a temporary file starts private to its owner).
FILE_MODE = 0o644

#: Longest file-name stem built from a name (file systems allow 255 bytes; room is left
#: for the extension and the temporary-file prefix).
MAX_STEM = 100

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def file_stem(name: str) -> str:
    """A file-name stem for a table, figure or outcome name.

    Letters, digits, ``_`` and ``-`` are kept; every other character (path separators,
    dots, spaces, non-ASCII) becomes ``_``; at most :data:`MAX_STEM` characters.

    Raises
    ------
    OutputPathError
        The name has no letter or digit (nothing would identify the file).
    """
    stem = _UNSAFE.sub("_", str(name))[:MAX_STEM]
    if not any(ch.isalnum() for ch in stem):
        raise OutputPathError(
            f"cannot build a file name from {name!r}: it needs at least one ASCII letter or digit."
        )
    return stem


@dataclass
class OutputFolder:
    """A folder the report writes into, and the files written so far.

    Attributes
    ----------
    root : Path
        The resolved folder (the user's ``--out``; itself may be a link).
    written : dict of str to str
        SHA-256 of each written file by its path relative to ``root`` (``/``-separated).
    """

    root: Path
    written: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: str | Path) -> OutputFolder:
        """Create ``directory`` (and parents) if needed.

        Raises
        ------
        OutputPathError
            ``directory`` exists and is not a folder.
        """
        path = Path(directory)
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"output folder {str(path)!r} exists and is not a folder.")
        path.mkdir(parents=True, exist_ok=True)
        return cls(path.resolve())

    def target(self, *parts: str, folder: bool = False) -> Path:
        """The path of ``root/part/...`` (a file, or a folder if ``folder``) after checking
        that it stays inside ``root``.

        Raises
        ------
        OutputPathError
            A part is not a plain name (separators, ``..``, a leading dot); an existing
            part is a symbolic link to a place outside the folder (or a loop); a file
            stands where a folder goes, or a folder where a file goes.
        """
        for part in parts:
            if not _PART.fullmatch(part) or ".." in part:
                raise OutputPathError(f"{part!r} is not a plain file or folder name.")
        path = self.root
        for k, part in enumerate(parts):
            path = path / part
            wants_folder = folder or k < len(parts) - 1
            if wants_folder and path.exists() and not path.is_dir():
                raise OutputPathError(f"{str(path)!r} is in the way of a folder; move it away.")
            if not wants_folder and path.is_dir():
                raise OutputPathError(f"{str(path)!r} is a folder in the way of a file; move it.")
            if path.is_symlink():
                try:
                    dest = path.resolve(strict=False)
                except (OSError, RuntimeError):  # a link loop
                    dest = None
                if dest is None or not dest.is_relative_to(self.root):
                    where = "a loop" if dest is None else repr(str(dest))
                    raise OutputPathError(
                        f"{str(path)!r} is a symbolic link to {where}, outside the output "
                        f"folder {str(self.root)!r}; remove the link or choose another folder."
                    )
        return path

    def write(self, *parts: str, data: bytes | str) -> Path:
        """Write ``data`` (text as UTF-8) to ``root/part/...`` whole, and record it.

        Missing subfolders are created; see :meth:`target` for what is refused.
        """
        path = self.target(*parts)
        blob = data.encode("utf-8") if isinstance(data, str) else data
        if len(parts) > 1:
            self.target(*parts[:-1], folder=True).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.written["/".join(parts)] = hashlib.sha256(blob).hexdigest()
        return path
