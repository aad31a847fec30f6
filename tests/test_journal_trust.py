"""A journal is applied only when it proves it belongs to the file as it is now.

Regressions: a 16-byte journal truncated a valid file to nothing; a journal left by a
save that died at its commit point corrupted a file copied over it afterwards; a journal
planted by another user made root's ``validate`` overwrite root's file. Now read-only
commands never write (they refuse an interrupted save, naming ``h5model recover``), and
a writer or ``h5model recover`` applies only a journal made for this device, inode and
size, owned by the file's owner, reached without a symbolic link, whose checksums hold.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import NOBODY, in_child

import h5model
from h5model.cli.app import main
from h5model.storage.journal import (
    ForeignJournal,
    InterruptedSave,
    JournaledFile,
    journal_path,
)

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user, or becoming one, needs root",
)


def state(path: Path) -> tuple[str, int, int, int, int, int]:
    """Every byte and every stat field a write, truncation, chmod or chown would change."""
    info = os.lstat(path)
    data = b"" if stat.S_ISLNK(info.st_mode) else path.read_bytes()
    return (hashlib.sha256(data).hexdigest(), info.st_mode, info.st_uid, info.st_gid,
            info.st_size, info.st_mtime_ns)


def crash_mid_save(path: Path, grow: int = 0) -> None:
    """A save that overwrote bytes in two places (and appended ``grow`` bytes), then died."""

    def save() -> None:
        journaled = JournaledFile(path)
        size = journaled.original_size
        journaled.seek(0)
        journaled.write(b"\xff" * 100)
        journaled.seek(size // 2)
        journaled.write(b"\xee" * 300)
        if grow:
            journaled.seek(size)
            journaled.write(b"\xdd" * grow)
        journaled.flush()

    in_child(save)
    assert journal_path(path).exists()


def crash_at_commit(path: Path) -> None:
    """A save that wrote everything and its commit record, then died before deleting its
    journal."""

    def save() -> None:
        journaled = JournaledFile(path)
        journaled.seek(0)
        journaled.write(b"\xff" * 100)

        def die(*_: object, **__: object) -> None:
            os._exit(0)

        Path.unlink = die  # type: ignore[method-assign]
        journaled.commit()

    in_child(save)
    assert journal_path(path).exists()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(64 * 1024))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


# -- what a crash leaves, rolled back ----------------------------------------------------------
def test_recover_rolls_back_a_crashed_save(data_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    original = data_file.read_bytes()
    crash_mid_save(data_file, grow=5000)
    assert data_file.read_bytes() != original
    code, text = run(["recover", str(data_file)], capsys)
    assert code == 0
    assert "rolled back an interrupted save: restored 400 bytes in 2 places" in text
    assert data_file.read_bytes() == original
    assert not journal_path(data_file).exists()
    assert run(["recover", str(data_file)], capsys) == (
        0, f"{data_file}: nothing to recover (no journal of an interrupted save)\n")


def test_a_writer_open_rolls_back_a_crashed_save(nwb: Path, tmp_path: Path) -> None:
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    original = path.read_bytes()
    crash_mid_save(path)
    with pytest.raises(InterruptedSave, match=f"h5model recover {path}"):
        h5model.open(path)
    with h5model.open(path, "r+"):
        pass
    assert path.read_bytes() == original
    assert not journal_path(path).exists()


def test_recover_of_a_missing_file_exits_1(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(["recover", str(tmp_path / "nope.nwb")], capsys)
    assert code == 1 and "no such file" in text


# -- journals that do not prove they belong to the file -----------------------------------------
def refused_by_recover(path: Path, capsys: pytest.CaptureFixture[str], reason: str) -> None:
    """``h5model recover`` and a writer open refuse the journal, naming file, journal and
    reason, and neither the file nor the journal changes."""
    journal = journal_path(path)
    before = state(path), state(journal)
    code, text = run(["recover", str(path)], capsys)
    assert code == 1, text
    assert str(path) in text and str(journal) in text and reason in text
    assert "left it alone" in text
    with pytest.raises(ForeignJournal, match=reason):
        h5model.open(path, "r+")
    assert (state(path), state(journal)) == before


def test_journal_of_another_inode_is_not_applied(data_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    replacement = data_file.with_name("new.bin")
    replacement.write_bytes(os.urandom(64 * 1024))
    os.replace(replacement, data_file)  # a new file (new inode) of the same size
    refused_by_recover(data_file, capsys, "inode")


def test_journal_for_another_size_is_not_applied(data_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    with open(data_file, "ab") as handle:
        handle.write(b"more")
    refused_by_recover(data_file, capsys, "the file is 65540 bytes")


def test_file_copied_over_a_crashed_save_is_not_corrupted(
        data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(40_000))
    shutil.copyfile(other, data_file)  # cp: same inode, other bytes and size
    refused_by_recover(data_file, capsys, "the file is 40000 bytes")
    assert data_file.read_bytes() == other.read_bytes()


def test_journal_with_a_broken_checksum_is_not_applied(
        data_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    journal = journal_path(data_file)
    data = bytearray(journal.read_bytes())
    data[36] ^= 1  # a bit of the recorded size
    journal.write_bytes(bytes(data))
    refused_by_recover(data_file, capsys, "fails its checksum")


def test_old_sixteen_byte_journal_truncates_nothing(
        nwb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    journal = journal_path(path)
    journal.write_bytes(b"H5MJRNL1" + struct.pack("<Q", 0))
    before = state(path), state(journal)
    for argv in (["validate", str(path)], ["show", str(path)]):
        code, text = run(argv, capsys)
        assert code == 2 and str(journal) in text and "earlier h5model" in text
    with pytest.raises(ForeignJournal):
        h5model.open(path)
    assert (state(path), state(journal)) == before
    refused_by_recover(path, capsys, "earlier h5model")


def test_save_that_died_at_its_commit_point_is_never_rolled_back(
        nwb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    crash_at_commit(path)
    shutil.copyfile(nwb, path)  # the user puts a good copy back with cp
    before = state(path)
    code, _ = run(["show", str(path)], capsys)  # the journal says: complete, nothing to undo
    assert code == 0
    assert state(path) == before
    code, text = run(["recover", str(path)], capsys)
    assert code == 0 and "had completed" in text
    assert path.read_bytes() == nwb.read_bytes()
    assert not journal_path(path).exists()


@needs_root
def test_journal_owned_by_another_user_is_not_applied(
        data_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    os.chown(journal_path(data_file), NOBODY, NOBODY)
    refused_by_recover(data_file, capsys, f"owned by user {NOBODY}")


def test_symlinked_journal_is_not_followed(data_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    crash_mid_save(data_file)
    elsewhere = tmp_path / "elsewhere"
    journal_path(data_file).rename(elsewhere)
    journal_path(data_file).symlink_to(elsewhere)
    before = state(elsewhere)
    refused_by_recover(data_file, capsys, "symbolic link")
    assert state(elsewhere) == before


# -- read-only commands never write --------------------------------------------------------------
def test_read_only_commands_change_no_byte_and_no_bit(
        nwb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    path.chmod(0o640)
    crash_mid_save(path)
    journal = journal_path(path)
    before = state(path), state(journal)
    for argv in (["validate", str(path)], ["show", str(path)],
                 ["graph", str(path), "-o", str(tmp_path / "g.json")],
                 ["generate", str(path), "-o", str(tmp_path / "models")],
                 ["truncate", str(path), str(tmp_path / "small.nwb")]):
        code, text = run(argv, capsys)
        assert code == 2, (argv, text)
        assert f"h5model recover {path}" in text, argv
        assert (state(path), state(journal)) == before, argv
    with pytest.raises(InterruptedSave, match=f"h5model recover {path}"):
        h5model.open(path)
    assert (state(path), state(journal)) == before
    assert run(["recover", str(path)], capsys)[0] == 0
    assert path.read_bytes() == nwb.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_journal_is_no_more_readable_than_its_file(nwb: Path, tmp_path: Path) -> None:
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    path.chmod(0o600)
    crash_mid_save(path)
    assert stat.S_IMODE(journal_path(path).stat().st_mode) == 0o600


# -- a stranger in a shared folder -------------------------------------------------------------
@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    """A folder like /tmp (everyone may create, nobody may delete another's files) that
    an unprivileged user can reach."""
    folder = Path(tempfile.mkdtemp(prefix="h5model-test-shared-"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(work: Callable[[], None]) -> None:
    def become_nobody() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        work()

    in_child(become_nobody)


@needs_root
def test_journal_planted_by_a_stranger_is_never_applied(
        nwb: Path, sticky_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sticky_folder / "root.nwb"
    shutil.copyfile(nwb, path)
    path.chmod(0o644)
    info = path.stat()

    def plant() -> None:
        # a journal that names the right device, inode and size, with good checksums,
        # and would write zeros over the start of root's file
        from h5model.storage import journal as fmt

        undo = fmt._record(fmt.UNDO, 0, 4096, b"\0" * 4096)
        journal_path(path).write_bytes(
            fmt._header(info.st_dev, info.st_ino, info.st_size) + undo)

    as_nobody(plant)
    journal = journal_path(path)
    assert journal.stat().st_uid == NOBODY
    before = state(path), state(journal)
    for argv in (["validate", str(path)], ["show", str(path)]):
        code, text = run(argv, capsys)
        assert code == 2 and f"owned by user {NOBODY}" in text, text
    refused_by_recover(path, capsys, f"owned by user {NOBODY}")
    assert (state(path), state(journal)) == before


@needs_root
def test_root_saving_a_users_file_leaves_a_journal_that_user_owns(
        data_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chown(data_file, NOBODY, NOBODY)
    original = data_file.read_bytes()
    crash_mid_save(data_file)
    info = journal_path(data_file).stat()
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY)
    assert run(["recover", str(data_file)], capsys)[0] == 0
    assert data_file.read_bytes() == original
