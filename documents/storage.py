"""File storage for rendered documents, addressed by a relative key, with sha256 digests."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DocumentStorage:
    """Stores files under `root`; keys are relative POSIX paths such as `2026/ab/<uuid>.pdf`.

    The root must live outside the web root: files are served only by a view that has
    checked authorisation, never by the web server directly.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        # Keys may come from database rows an attacker could influence (or a bug could
        # corrupt), so refuse anything that could point outside the root rather than
        # trying to normalise it into something "safe".
        if not key or "\x00" in key or "\\" in key:
            raise ValueError(f"invalid storage key: {key!r}")
        pure = PurePosixPath(key)
        if pure.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"invalid storage key: {key!r}")
        root = self.root.resolve()
        candidate = root.joinpath(*pure.parts)
        # A symlink inside the root could still lead outside it.
        if not candidate.resolve().is_relative_to(root):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return candidate

    def put(self, key: str, data: bytes) -> str:
        """Write `data` under `key` atomically and return its sha256 hex digest.

        An existing file under the same key is replaced: document jobs are re-run after a
        crash, and the caller records the digest it gets back.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The temporary file sits in the target's directory so that os.replace is a rename
        # within one filesystem, hence atomic: readers see the old file or the new one,
        # never a half-written PDF.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._fsync_dir(target.parent)
        return sha256_hex(data)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        # Without syncing the directory, the rename itself may be lost on power failure
        # even though the file content was synced; the documents row would then point
        # at nothing. Some platforms cannot open directories, hence the suppress.
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
