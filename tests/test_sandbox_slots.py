"""Run slots: the cleanup no permission, special file, link or depth can defeat, and the checks on file names.

In-process, on real folders. Whether the host lets these tests switch users does not matter here: a slot
without a uid is cleaned the same way, as the server's own user (the Docker tests cover run users).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gymbox.sandbox.files import run_files
from gymbox.sandbox.protocol import ExecuteRequest, InvalidRequest
from gymbox.sandbox.slots import SandboxUnavailable, Slots, empty_directory


def plant_everything(folder: Path, outside: Path) -> None:
    """What a hostile run can leave in its folder with its own user's rights."""
    (folder / "locked" / "inner").mkdir(parents=True)
    (folder / "locked" / "inner" / "file").write_text("x")
    os.mkfifo(folder / "locked" / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "locked" / "sock"))
    (folder / "escape").symlink_to(outside)  # a link out: must be removed, never followed
    deep = folder / "deep"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    for _ in range(3000):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        new = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = new
    os.close(fd)
    os.chmod(folder / "locked" / "inner", 0)
    os.chmod(folder / "locked", 0)
    (folder / "readonly").mkdir()
    (folder / "readonly" / "f").write_text("x")
    os.chmod(folder / "readonly", 0o500)


def test_cleanup_removes_locked_folders_fifos_sockets_and_deep_trees_and_follows_no_link(tmp_path: Path) -> None:
    folder, outside = tmp_path / "slot", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("not the run's")
    plant_everything(folder, outside)
    empty_directory(folder)
    assert os.listdir(folder) == []
    assert (outside / "keep").read_text() == "not the run's"


def test_a_slot_that_cannot_be_cleaned_is_set_aside_and_the_sandbox_refuses_honestly(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root", 1, uid_base=None, min_free_mb=0)
    slot = slots.acquire()
    slots.write_files(slot, {"main.py": "print(1)", "data/x.txt": "x"})
    assert (slot.path / "data" / "x.txt").read_text() == "x"
    slots.reset(slot)
    assert os.listdir(slot.path) == []
    assert slot.broken is None
    slots.release(slot)

    # A disk with less free space than the sandbox needs: no run is attempted, and it says why.
    slots.min_free = 2**62
    with pytest.raises(SandboxUnavailable, match=r"no clean run folder: .*MiB free, below min_free_mb"):
        slots.acquire()
    assert slot.broken is not None
    # Once there is room again, the slot is cleaned and used again.
    slots.min_free = 0
    assert slots.acquire() is slot
    assert slot.broken is None


def test_a_slot_folder_a_run_removed_or_replaced_by_a_link_is_restored_without_following_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not the run's")
    slots = Slots(tmp_path / "root", 2, uid_base=None, min_free_mb=0)
    first, second = slots.slots
    first.path.rmdir()
    second.path.rmdir()
    second.path.symlink_to(outside)
    for slot in (first, second):
        slots.reset(slot)
        assert slot.broken is None
        assert slot.path.is_dir()
        assert not slot.path.is_symlink()
    assert (outside / "keep").read_text() == "not the run's"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a\x00b": ""}, "control character"),
        ({"a\nb": ""}, "control character"),
        ({"a": "", "a/b": ""}, "both a file and a folder"),
        ({"main.py/x": ""}, "both a file and a folder"),
        ({"x" * 300: ""}, "longer than 255 bytes"),
        ({"/etc/passwd": ""}, "relative path"),
        ({"a/../../b": ""}, "relative path"),
        ({"a//b": ""}, "relative path"),
        ({"a/": ""}, "relative path"),
        ({"./a": ""}, "relative path"),
        ({"": ""}, "relative path"),
        ({"main.py": ""}, "main.py"),
        ({"/".join("d" * 20): ""}, "more than 16 parts"),
    ],
)
def test_a_file_name_the_sandbox_cannot_create_as_given_is_refused_with_the_name(
    files: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        run_files(ExecuteRequest(code="print(1)", files=files))


def test_good_file_names_are_kept() -> None:
    files = run_files(ExecuteRequest(code="c", files={"data/words.txt": "w", "é/ü.py": "u", "x" * 255: ""}))
    assert files == {"main.py": "c", "data/words.txt": "w", "é/ü.py": "u", "x" * 255: ""}


@pytest.mark.parametrize("field", ["code", "stdin"])
def test_a_lone_surrogate_is_a_validation_error_not_a_crash(field: str) -> None:
    with pytest.raises(ValueError, match="not valid Unicode"):
        ExecuteRequest.model_validate({"code": "print(1)", field: "a\udc80b"})
