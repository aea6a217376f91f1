"""The system calls a run may not make, as a seccomp filter its process installs before `exec`.

Every run gets the same filter, inherited by all it forks and kept across `exec`; nothing in the run can
remove it. It denies:
- sockets of any family but AF_UNIX (and io_uring, which can open sockets without the socket() call):
  a run reaches no network address at all, not the environment beside it, not the host, not the
  sandbox's own HTTP port, whatever the container's networks allow;
- ptrace, process_vm_readv/writev and pidfd_getfd: a run cannot read or change another process's memory;
- kill(-1, ...): a run cannot signal every process its user may signal;
- System V shared memory, semaphores and message queues, and POSIX message queues: objects that outlive
  their process outside any folder the sandbox cleans.
It also denies every call of another ABI than the native one (i386 `int 0x80`, x32), which would
otherwise bypass the rules above by number. Built with ctypes: no dependency, x86_64 and aarch64 only.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket
import struct
from collections.abc import Callable

PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# Classic BPF opcodes (linux/bpf_common.h).
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]. Little-endian only,
# so the low half of args[0] (an int: socket's family, kill's pid) is at offset 16.
NR, ARCH, ARG0_LOW = 0, 4, 16
X32_SYSCALL_BIT = 0x40000000


class Arch:
    def __init__(self, audit: int, numbers: dict[str, int], *, has_x32: bool) -> None:
        self.audit, self.numbers, self.has_x32 = audit, numbers, has_x32


DENIED = (
    *("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "io_uring_setup"),
    *("shmget", "semget", "msgget", "mq_open"),
)
ARCHES = {
    "x86_64": Arch(
        0xC000003E,
        {
            "socket": 41,
            "kill": 62,
            "ptrace": 101,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            "pidfd_getfd": 438,
            "io_uring_setup": 425,
            "shmget": 29,
            "semget": 64,
            "msgget": 68,
            "mq_open": 240,
        },
        has_x32=True,
    ),
    "aarch64": Arch(
        0xC00000B7,
        {
            "socket": 198,
            "kill": 129,
            "ptrace": 117,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            "pidfd_getfd": 438,
            "io_uring_setup": 425,
            "shmget": 194,
            "semget": 190,
            "msgget": 186,
            "mq_open": 180,
        },
        has_x32=False,
    ),
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _deny(err: int) -> bytes:
    return _insn(RET_K, SECCOMP_RET_ERRNO | err)


def filter_program(arch: Arch) -> bytes:
    """The BPF program, one 8-byte instruction after another."""
    allow = _insn(RET_K, SECCOMP_RET_ALLOW)
    prog = [_insn(LD_W_ABS, ARCH), _insn(JEQ_K, arch.audit, jt=1), _deny(errno.ENOSYS), _insn(LD_W_ABS, NR)]
    if arch.has_x32:
        prog += [_insn(JGE_K, X32_SYSCALL_BIT, jf=1), _deny(errno.ENOSYS)]

    def rule(name: str, block: list[bytes]) -> None:
        # if nr == name: run the block (which always returns), else jump over it
        prog.append(_insn(JEQ_K, arch.numbers[name], jf=len(block)))
        prog.extend(block)

    for name in DENIED:
        rule(name, [_deny(errno.EPERM)])
    rule("socket", [_insn(LD_W_ABS, ARG0_LOW), _insn(JEQ_K, socket.AF_UNIX, jf=1), allow, _deny(errno.EACCES)])
    rule("kill", [_insn(LD_W_ABS, ARG0_LOW), _insn(JEQ_K, 0xFFFFFFFF, jf=1), _deny(errno.EPERM), allow])
    prog.append(allow)
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def make_installer() -> Callable[[], None]:
    """A function that installs the filter in the calling process; call it in the child before `exec`.

    Built once in the server, so the child only makes two prctl calls. Raises here, at start-up, on an
    architecture it has no table for: a sandbox that cannot filter must not run code.
    """
    arch = ARCHES.get(platform.machine())
    if arch is None:
        raise RuntimeError(f"the sandbox filters system calls on {', '.join(ARCHES)} only, not {platform.machine()}")
    program = filter_program(arch)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    prctl = _libc().prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    keep = (buffer, fprog)  # the closure holds them, so the memory lives as long as the installer

    def install() -> None:
        if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(keep[1]), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")

    return install


def forbid_new_privileges() -> bool:
    """PR_SET_NO_NEW_PRIVS on this process and all it starts: no exec gains a privilege (a set-user-ID
    file, file capabilities). Docker's `no-new-privileges`, which a Swarm ignores; switching to a run's
    user stays allowed, since that is a system call of a privileged process, not an exec."""
    return bool(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)


def make_undumpable() -> bool:
    """PR_SET_DUMPABLE 0 on this process: its /proc files become root's, and no process of its own
    user may ptrace it or open its memory, so a run that shares the server's user still cannot."""
    return bool(_libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
