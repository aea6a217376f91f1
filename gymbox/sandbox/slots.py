"""Where runs happen: one slot per concurrent run, each a folder and (when the server may) a user id.

A slot is used by one run at a time. With user isolation (the server runs as root with CAP_SETUID,
CAP_SETGID, CAP_CHOWN, CAP_KILL, CAP_DAC_OVERRIDE and CAP_FOWNER, as in its container), slot i's run is
user `uid_base + i`, which owns only its folder. Its processes are exactly that user's, and
everything it left in the shared /tmp and /dev/shm is what that user owns, so the reset after a run
finds all of it however it was hidden. Runs of other slots cannot read, signal or trace it: they are other
users without capabilities. In the container each slot folder is a tmpfs of its own (`disk_mb`,
`nr_inodes`), a disk quota no other run shares. Without isolation (a server that cannot switch users)
runs share the server's user and the reset can only empty the folder.

A slot whose reset fails (a process that will not die, a folder that will not empty, too little free
space) is set aside: the next run that would use it tries the reset again, and when no slot is usable
the sandbox answers 503, which environments turn into an infrastructure error, never a zero.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gymbox.sandbox.processes import kill_user, user_has_processes

ROOT_ENV = "GYMBOX_SANDBOX_ROOT"  # set by the container: where its per-slot tmpfs folders are mounted
SHARED_DIRS = (Path("/tmp"), Path("/dev/shm"))  # world-writable places a run may also write to
UID_BLOCKS = 2**20  # a random base is 100000 + k * 1024 for k below this: far from any host's users
MAX_FLATTEN_TRIES = 100


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run this request honestly (no clean slot, no disk, a run that will not end)."""


@dataclass
class Slot:
    index: int
    path: Path
    uid: int | None  # None: runs as the server's own user
    broken: str | None = None  # why the last reset failed

    @property
    def owner(self) -> int:
        return os.getuid() if self.uid is None else self.uid


def random_uid_base(count: int) -> int:
    """A block of `count` uids that no other sandbox replica or host account is likely to use.

    RLIMIT_NPROC counts a user's processes across the whole host, so two replicas sharing uids would
    share their runs' process limits."""
    block = max(1024, count)
    return 100_000 + block * secrets.randbelow(UID_BLOCKS)


class Slots:
    def __init__(
        self,
        root: Path,
        count: int,
        *,
        uid_base: int | None,
        min_free_mb: int,
        shared_dirs: Iterable[Path] = SHARED_DIRS,
    ) -> None:
        """`uid_base` None: no user isolation. `root/slot-<i>` are created when missing (the container
        mounts them as tmpfs beforehand)."""
        self.root = root
        self.min_free = min_free_mb * 2**20
        self.shared_dirs = [d for d in shared_dirs if d.is_dir()] if uid_base is not None else []
        self._lock = threading.Lock()
        self.slots = [Slot(i, root / f"slot-{i}", None if uid_base is None else uid_base + i) for i in range(count)]
        root.mkdir(parents=True, exist_ok=True)
        for slot in self.slots:
            slot.path.mkdir(mode=0o700, exist_ok=True)
            if slot.uid is not None:
                os.chown(slot.path, slot.uid, slot.uid)
            os.chmod(slot.path, 0o700)
            self.reset(slot)
        self._idle: deque[Slot] = deque(self.slots)

    @property
    def isolated(self) -> bool:
        return self.slots[0].uid is not None

    @property
    def broken(self) -> int:
        return sum(1 for slot in self.slots if slot.broken)

    def acquire(self) -> Slot:
        """A clean idle slot; a set-aside one gets its reset tried again first. Callers never outnumber
        the slots (the executor's pool has as many threads), so an idle one always exists."""
        with self._lock:
            candidates = sorted(self._idle, key=lambda s: s.broken is not None)
        reasons = []
        for slot in candidates:
            with self._lock:
                if slot not in self._idle:
                    continue
                self._idle.remove(slot)
            if slot.broken or _free_bytes(slot.path) < self.min_free:  # or filled from outside a run
                self.reset(slot)
            if not slot.broken:
                return slot
            reasons.append(f"{slot.path}: {slot.broken}")
            with self._lock:
                self._idle.append(slot)
        raise SandboxUnavailable("no clean run folder: " + "; ".join(reasons or ["every slot is busy"]))

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._idle.append(slot)

    def write_files(self, slot: Slot, files: dict[str, str]) -> None:
        """The run's files, owned by its user. Never follows a link or opens a special file: the folder
        was emptied, but O_EXCL|O_NOFOLLOW make sure nothing planted there is written through."""
        needed = sum(len(text.encode()) for text in files.values())
        free = _free_bytes(slot.path)
        if free < needed + self.min_free:
            raise SandboxUnavailable(
                f"{slot.path} has {free // 2**20} MiB free; a run needs {self.min_free // 2**20} MiB beyond its files"
            )
        try:
            for name, text in files.items():
                path = slot.path / name
                for parent in reversed(path.relative_to(slot.path).parents[:-1]):
                    folder = slot.path / parent
                    if not folder.is_dir():
                        folder.mkdir(mode=0o700)
                        os.chown(folder, slot.owner, slot.owner, follow_symlinks=False)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(path, flags, 0o600)
                try:
                    os.fchown(fd, slot.owner, slot.owner)
                    with os.fdopen(fd, "wb", closefd=False) as f:
                        f.write(text.encode())
                finally:
                    os.close(fd)
        except OSError as exc:
            raise SandboxUnavailable(f"could not write the run's files into {slot.path}: {exc}") from None

    def reset(self, slot: Slot) -> None:
        """Leave the slot as new: its user's processes killed, its folder empty, its user's files in the
        shared folders gone. Records why in `slot.broken` instead of raising: the run's own answer is
        already known, and is not the slot's fault."""
        problems = []
        try:
            if slot.uid is not None:
                kill_user(slot.uid)
                if user_has_processes(slot.uid):
                    problems.append(f"processes of uid {slot.uid} survived SIGKILL")
            self._restore_folder(slot)
            empty_directory(slot.path)
            for shared in self.shared_dirs:
                remove_owned(shared, slot.owner)
            if os.listdir(slot.path):
                problems.append("the folder is not empty after cleaning")
            free = _free_bytes(slot.path)
            if free < self.min_free:
                problems.append(f"{free // 2**20} MiB free, below min_free_mb {self.min_free // 2**20}")
        except OSError as exc:
            problems.append(f"cleaning failed: {exc}")
        slot.broken = "; ".join(problems) or None

    @staticmethod
    def _restore_folder(slot: Slot) -> None:
        """The slot's folder as the server made it. A run that shares the server's user (no isolation)
        may have removed it, made it a link, or taken its permissions away; a link is removed, never
        followed."""
        try:
            st = os.lstat(slot.path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(slot.path)
        if st is None or not stat.S_ISDIR(st.st_mode):
            slot.path.mkdir(mode=0o700)
            os.chown(slot.path, slot.owner, slot.owner)
        os.chmod(slot.path, 0o700)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _open_dir(name: str, dir_fd: int) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except PermissionError:  # a `chmod 0` folder of our own user: make it ours to read again
        os.chmod(name, 0o700, dir_fd=dir_fd)
        return os.open(name, flags, dir_fd=dir_fd)


def _empty(dir_fd: int) -> None:
    """Remove everything inside the open folder, never following a link and never recursing: each
    subfolder's entries are moved up into this folder, then the subfolder removed. Depth costs nothing
    (no recursion, one extra descriptor at a time); modes do not matter (the owner or root may chmod);
    FIFOs, sockets and devices are only unlinked, never opened."""
    pending = deque(os.listdir(dir_fd))
    moved = 0
    while pending:
        name = pending.popleft()
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=dir_fd)
            continue
        sub = _open_dir(name, dir_fd)
        try:
            try:
                os.fchmod(sub, 0o700)  # write and search in it, to move its entries out
            except PermissionError:
                pass  # not ours and no CAP_FOWNER: root's CAP_DAC_OVERRIDE may still do
            for child in os.listdir(sub):
                for _ in range(MAX_FLATTEN_TRIES):
                    moved += 1
                    target = f".gymbox-flat-{moved}"
                    try:
                        os.rename(child, target, src_dir_fd=sub, dst_dir_fd=dir_fd)
                        break
                    except OSError as exc:  # the name is taken by a folder, or a moved folder is read-only
                        if exc.errno == errno.EACCES:
                            os.chmod(child, 0o700, dir_fd=sub)
                        elif exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                            raise
                else:
                    raise OSError(errno.EEXIST, f"could not move {child!r} out of {name!r}")
                pending.append(target)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dir_fd)


def empty_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _empty(fd)
    finally:
        os.close(fd)


def remove_owned(shared: Path, uid: int) -> None:
    """Remove every top-level entry of `shared` that `uid` owns (and all inside it)."""
    fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in os.listdir(fd):
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st.st_uid != uid:
                continue
            if stat.S_ISDIR(st.st_mode):
                sub = _open_dir(name, fd)
                try:
                    _empty(sub)
                finally:
                    os.close(sub)
                os.rmdir(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
