"""Turning command-line arguments into ordered inputs: files, folders, globs, stdin, mistakes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gabortag.errors import AudioError
from gabortag.io.discover import AUDIO_EXTENSIONS, InputItem, _glob_root, discover, is_audio_name


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")  # content does not matter here: discovery never decodes


def relatives(items: list[InputItem]) -> list[str]:
    return [item.relative for item in items]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    touch(
        root,
        "b.wav",
        "a.FLAC",
        "notes.txt",
        "sub/z.mp3",
        "sub/deeper/c.ogg",
        "sub/readme.md",
        "a b.wav",
        ".hidden.wav",
        ".cache/x.wav",
        "sub/.git/y.wav",
    )
    return root


def test_audio_extensions() -> None:
    assert {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".w64", ".rf64"} <= AUDIO_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in AUDIO_EXTENSIONS)
    assert is_audio_name("X.WAV") and not is_audio_name("x.txt") and not is_audio_name("wav")


def test_folder_is_recursive_sorted_and_skips_hidden(tree: Path) -> None:
    items, errors = discover([str(tree)])
    assert errors == []
    sep = os.sep
    assert relatives(items) == [
        "a b.wav",
        "a.FLAC",
        "b.wav",
        f"sub{sep}deeper{sep}c.ogg",
        f"sub{sep}z.mp3",
    ]
    assert all(item.source == os.path.join(str(tree), item.relative) for item in items)


def test_file_argument_taken_whatever_its_extension(tree: Path) -> None:
    items, errors = discover([str(tree / "notes.txt"), str(tree / "sub" / "z.mp3")])
    assert errors == []
    assert items == [
        InputItem(str(tree / "notes.txt"), "notes.txt"),
        InputItem(str(tree / "sub" / "z.mp3"), "z.mp3"),
    ]


def test_stdin_once(tree: Path) -> None:
    items, errors = discover(["-", str(tree / "b.wav"), "-"])
    assert errors == []
    assert items == [InputItem("-", "stdin"), InputItem(str(tree / "b.wav"), "b.wav")]


def test_argument_order_kept_and_duplicates_dropped(tree: Path) -> None:
    link = tree.parent / "alias.wav"
    link.symlink_to(tree / "b.wav")
    args = [
        str(tree / "sub"),
        str(tree / "b.wav"),
        str(tree),
        str(link),
        str(tree / "sub" / "z.mp3"),
    ]
    items, errors = discover(args)
    assert errors == []
    sep = os.sep
    assert relatives(items) == [f"deeper{sep}c.ogg", "z.mp3", "b.wav", "a b.wav", "a.FLAC"]
    assert items[2].source == str(tree / "b.wav")


def test_symlinks_in_folders(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    touch(outside, "real.wav")
    root = tmp_path / "root"
    touch(root, "own.wav")
    (root / "linked.wav").symlink_to(outside / "real.wav")
    (root / "dirlink").symlink_to(outside)  # folder symlinks are not entered: no cycles
    (root / "loop").symlink_to(root)
    (root / "broken.wav").symlink_to(tmp_path / "gone.wav")
    items, errors = discover([str(root)])
    assert errors == []
    # The broken link is kept: the loader reports it, per file, with a clear reason.
    assert relatives(items) == ["broken.wav", "linked.wav", "own.wav"]


def test_missing_and_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    touch(empty, "a.txt", ".b.wav")
    missing = str(tmp_path / "missing.wav")
    items, errors = discover([missing, str(empty), str(tmp_path / "*.nothing"), ""])
    assert items == []
    assert [(e.path, e.reason) for e in errors[:3]] == [
        (missing, "no such file or folder"),
        (str(empty), "folder contains no audio files"),
        (str(tmp_path / "*.nothing"), "pattern matched no files"),
    ]
    assert "no such file or folder" in str(errors[3])
    assert all(isinstance(e, AudioError) and "\n" not in str(e) for e in errors)


def test_errors_do_not_stop_other_arguments(tree: Path) -> None:
    items, errors = discover([str(tree / "nope.wav"), str(tree / "b.wav")])
    assert relatives(items) == ["b.wav"]
    assert [e.reason for e in errors] == ["no such file or folder"]


def test_glob_relative_to_fixed_prefix(tree: Path) -> None:
    sep = os.sep
    items, errors = discover([str(tree / "*.wav")])
    assert errors == []
    assert relatives(items) == ["a b.wav", "b.wav"]  # hidden files are not matched
    items, errors = discover([str(tree / "**" / "*.*")])
    assert errors == []
    assert relatives(items) == [
        "a b.wav",
        "a.FLAC",
        "b.wav",
        "notes.txt",  # matched by the pattern itself: taken
        f"sub{sep}deeper{sep}c.ogg",
        f"sub{sep}readme.md",
        f"sub{sep}z.mp3",
    ]


def test_glob_matching_folders_expands_them(tree: Path) -> None:
    sep = os.sep
    items, errors = discover([str(tree / "s*")])
    assert errors == []
    assert relatives(items) == [f"sub{sep}deeper{sep}c.ogg", f"sub{sep}z.mp3"]
    items, errors = discover([str(tree / "sub" / "[a-z]*") + sep])  # trailing slash: folders only
    assert errors == []
    assert relatives(items) == [f"deeper{sep}c.ogg"]


def test_glob_folders_without_audio(tree: Path) -> None:
    touch(tree, "empty1/x.txt")
    items, errors = discover([str(tree / "empty?")])
    assert items == []
    assert [e.reason for e in errors] == ["pattern matched no audio files"]


def test_relative_glob_from_cwd(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    items, errors = discover(["*.wav", "sub/**/*.ogg"])
    assert errors == []
    assert items == [
        InputItem("a b.wav", "a b.wav"),
        InputItem("b.wav", "b.wav"),
        InputItem(os.path.join("sub", "deeper", "c.ogg"), os.path.join("deeper", "c.ogg")),
    ]


def test_existing_file_with_glob_characters_is_literal(tmp_path: Path) -> None:
    touch(tmp_path, "take[1].wav", "take1.wav")
    items, errors = discover([str(tmp_path / "take[1].wav")])
    assert errors == []
    assert relatives(items) == ["take[1].wav"]


def test_non_utf8_and_spaced_names(tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9 \xff.wav")
    (tmp_path / odd).write_bytes(b"RIFF")
    touch(tmp_path, "with space.wav")
    items, errors = discover([str(tmp_path)])
    assert errors == []
    assert sorted(relatives(items)) == sorted([odd, "with space.wav"])
    assert all(os.path.exists(item.source) for item in items)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_subfolder_is_reported(tree: Path) -> None:
    locked = tree / "sub" / "deeper"
    locked.chmod(0)
    try:
        items, errors = discover([str(tree)])
    finally:
        locked.chmod(0o755)
    assert "c.ogg" not in " ".join(relatives(items))
    assert [e.path for e in errors] == [str(locked)]
    assert "permission denied" in errors[0].reason


@pytest.mark.parametrize(
    ("pattern", "root"),
    [
        ("*.wav", "."),
        ("data/*.wav", "data"),
        ("data/**/*.wav", "data"),
        ("data/x/[ab]*/c.wav", os.path.join("data", "x")),
        ("/srv/audio/*/a.wav", os.path.join(os.sep, "srv", "audio")),
        ("/*.wav", os.sep),
        ("data/*/", "data"),
    ],
)
def test_glob_root(pattern: str, root: str) -> None:
    assert _glob_root(pattern.replace("/", os.sep)) == root
