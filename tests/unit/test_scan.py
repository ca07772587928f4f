from __future__ import annotations

import builtins
import hashlib
import os
from pathlib import Path

import pytest
from imaging import image_bytes, make_mixed_folder, noise_jpeg, write

from cyverse_link.config.settings import SourceSettings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import LocalFile, Problem
from cyverse_link.dropfolder import scan as scan_mod
from cyverse_link.dropfolder import sniff
from cyverse_link.dropfolder.scan import inspect_file, scan


def src(root: Path, **kw: object) -> SourceSettings:
    return SourceSettings(path=root, **kw)  # type: ignore[arg-type]


def by_rel(root: Path, **kw: object) -> dict[str, LocalFile]:
    return {f.rel_path: f for f in scan(src(root, **kw))}


def test_mixed_folder_problems(tmp_path: Path) -> None:
    make_mixed_folder(tmp_path)
    files = by_rel(tmp_path)
    assert sorted(files) == [
        "ASU0000001.jpg",
        "ASU0000001_b.JPG",
        "ASU0000002.png",
        "ASU0000003.tif",
        "ASU0000006.jpg",
        "ASU0000007.jpg",
        "ASU0000008.jpg",
        "ASU0000009.jpg",
        "IMG_4711.jpg",
        "nested/deeper/ASU0000004_dorsal.jpeg",
        "ünïcode/ASU0000005 (1).jpg",
    ]
    for good in ("ASU0000001.jpg", "ASU0000002.png", "ASU0000003.tif", "IMG_4711.jpg"):
        assert files[good].problems == (), (good, files[good].detail)
    assert files["ASU0000001.jpg"].mime == "image/jpeg"
    assert files["ASU0000002.png"].mime == "image/png"
    assert files["ASU0000003.tif"].mime == "image/tiff"
    assert files["ASU0000006.jpg"].problems == (Problem.EMPTY,)
    assert files["ASU0000007.jpg"].problems == (Problem.CORRUPT,)
    assert "truncated" in (files["ASU0000007.jpg"].detail or "")
    assert files["ASU0000008.jpg"].problems == (Problem.NOT_IMAGE,)
    assert "text" in (files["ASU0000008.jpg"].detail or "")
    png_as_jpg = files["ASU0000009.jpg"]
    assert png_as_jpg.problems == (Problem.WRONG_EXTENSION,)
    assert png_as_jpg.mime == "image/png" and not png_as_jpg.fatal
    assert png_as_jpg.detail == "named .jpg but contains image/png"


def test_md5_is_the_content_md5(tmp_path: Path) -> None:
    data = noise_jpeg(300, 300)
    write(tmp_path / "a.jpg", data)
    (f,) = scan(src(tmp_path))
    assert f.md5 == hashlib.md5(data).hexdigest()
    assert f.size == len(data)
    assert f.mtime_ns == (tmp_path / "a.jpg").stat().st_mtime_ns


def test_order_is_global_sorted_rel_path_order(tmp_path: Path) -> None:
    names = [
        "a.jpg",
        "a-1.jpg",
        "a/z.jpg",
        "a/b/c.jpg",
        "a b/x.jpg",
        "a0.jpg",
        "B.jpg",
        "b.jpg",
        "é.jpg",
        "e.jpg",
        "z/a.jpg",
        "Z.jpg",
        "a/a.jpg",
        "ab/c.jpg",
        "a!.jpg",
        "ä/ö.jpg",
    ]
    for n in names:
        write(tmp_path / n, b"x")
    got = [f.rel_path for f in scan(src(tmp_path))]
    assert got == sorted(names)


def test_scan_streams_instead_of_listing_everything_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for d in range(5):
        write(tmp_path / f"d{d}" / "x.jpg", b"x")
    listed: list[str] = []
    real = os.scandir

    def counting(path: str | os.PathLike[str]) -> os._ScandirIterator[str]:  # type: ignore[name-defined]
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(scan_mod.os, "scandir", counting)
    it = scan(src(tmp_path))
    first = next(it)
    assert first.rel_path == "d0/x.jpg"
    assert len(listed) == 2  # root and d0 only: nothing else walked yet
    assert len(list(it)) == 4


def test_include_exclude_case_insensitive(tmp_path: Path) -> None:
    for n in ["A.JPG", "b.Tif", "c.gif", "rejects/d.jpg", "keep/e.jpg", "keep/SKIP_f.jpg"]:
        write(tmp_path / n, b"x")
    files = by_rel(tmp_path, include=("*.jpg", "*.TIF"), exclude=("REJECTS/*", "skip_*"))
    assert sorted(files) == ["A.JPG", "b.Tif", "keep/e.jpg"]
    files = by_rel(tmp_path, include=("keep/*.jpg",), exclude=())
    assert sorted(files) == ["keep/SKIP_f.jpg", "keep/e.jpg"]
    files = by_rel(tmp_path, exclude=("rejects",))  # a folder name prunes the folder
    assert "rejects/d.jpg" not in files


def test_skips_hidden_temporary_and_derivatives(tmp_path: Path) -> None:
    for n in [
        ".DS_Store.jpg",
        "._a.jpg",
        ".hidden/x.jpg",
        "a.jpg.part",
        "b.jpg.crdownload",
        "c.jpg~",
        "~$d.jpg",
        "_derivatives/e.0123abcd.web.jpg",
        "sub/_Derivatives/f.jpg",
        "ok.jpg",
    ]:
        write(tmp_path / n, b"x")
    assert list(by_rel(tmp_path, include=())) == ["ok.jpg"]


def test_known_unchanged_files_are_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.jpg", image_bytes())
    write(tmp_path / "b.jpg", b"")
    write(tmp_path / "c.jpg", image_bytes(seed=4))
    first = {f.rel_path: f for f in scan(src(tmp_path))}
    opened: list[str] = []
    real_open = builtins.open

    def spy(file: object, *args: object, **kw: object) -> object:
        opened.append(str(file))
        return real_open(file, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", spy)

    def known(rel: str, size: int, mtime_ns: int) -> LocalFile | None:
        f = first[rel]
        return f if (f.size, f.mtime_ns) == (size, mtime_ns) and rel != "c.jpg" else None

    again = {f.rel_path: f for f in scan(src(tmp_path), known=known)}
    assert opened == [str(tmp_path / "c.jpg")]  # once: Pillow checks it from memory
    assert again["a.jpg"] == first["a.jpg"]
    assert again["b.jpg"].problems == (Problem.EMPTY,)


def test_too_large_follows_current_limit_without_reading(tmp_path: Path) -> None:
    data = image_bytes()
    write(tmp_path / "a.jpg", data)
    (f,) = scan(src(tmp_path, max_web_bytes=10))
    assert f.problems == (Problem.TOO_LARGE,) and not f.fatal
    assert "max_web_bytes" in (f.detail or "")
    (g,) = scan(src(tmp_path), known=lambda *_: f)
    assert g.problems == ()  # limit raised back: flag dropped without opening


def test_truncated_large_jpeg_caught_by_tail_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = noise_jpeg(400, 400)
    write(tmp_path / "full.jpg", data)
    write(tmp_path / "cut.jpg", data[: len(data) * 3 // 4])
    monkeypatch.setattr(sniff, "FULL_DECODE_BYTES", 0)  # as for a big master: no decode
    files = by_rel(tmp_path)
    assert files["full.jpg"].problems == ()
    assert files["cut.jpg"].problems == (Problem.CORRUPT,)


def test_truncated_png_and_tiff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = image_bytes("PNG", (200, 200))
    tif = image_bytes("TIFF", (200, 200))
    write(tmp_path / "p.png", png[: len(png) - 30])
    assert tif[:8] == b"II*\x00\x08\x00\x00\x00"  # Pillow writes the first IFD up front
    write(tmp_path / "t.tif", tif[: len(tif) // 2])  # image data cut off
    write(tmp_path / "h.tif", tif[:12])  # first IFD cut off
    monkeypatch.setattr(sniff, "FULL_DECODE_BYTES", 0)  # prove the cheap checks alone
    files = by_rel(tmp_path)
    assert files["p.png"].problems == (Problem.CORRUPT,)
    assert files["t.tif"].problems == (Problem.CORRUPT,), files["t.tif"].detail
    assert "truncated" in (files["t.tif"].detail or "")
    assert files["h.tif"].problems == (Problem.CORRUPT,)


def test_garbage_after_magic_is_corrupt(tmp_path: Path) -> None:
    write(tmp_path / "x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    write(tmp_path / "y.jpg", b"\xff\xd8\xff\xe0" + os.urandom(200) + b"\xff\xd9")
    files = by_rel(tmp_path)
    assert files["x.png"].problems == (Problem.CORRUPT,)
    assert files["y.jpg"].problems == (Problem.CORRUPT,)


def test_binary_unknown_and_pdf_are_not_images(tmp_path: Path) -> None:
    write(tmp_path / "a.jpg", b"%PDF-1.4\n...")
    write(tmp_path / "b.jpg", b"\x00\x01\x02\x03" * 50)
    files = by_rel(tmp_path)
    assert files["a.jpg"].problems == (Problem.NOT_IMAGE,)
    assert "application/pdf" in (files["a.jpg"].detail or "")
    assert files["b.jpg"].problems == (Problem.NOT_IMAGE,)


def test_unreadable_file_is_a_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.jpg", image_bytes())
    write(tmp_path / "b.jpg", image_bytes())
    real_open = builtins.open

    def deny(file: object, *args: object, **kw: object) -> object:
        if str(file).endswith("a.jpg"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", deny)
    files = by_rel(tmp_path)
    assert files["a.jpg"].problems == (Problem.UNREADABLE,)
    assert files["a.jpg"].detail == "cannot read: Permission denied"
    assert files["b.jpg"].problems == ()


def test_file_still_growing_is_left_for_next_run(tmp_path: Path) -> None:
    p = write(tmp_path / "a.jpg", image_bytes())
    skipped: list[tuple[str, str]] = []
    st = p.stat()
    got = inspect_file(
        p,
        "a.jpg",
        st.st_size - 5,
        st.st_mtime_ns,
        10**9,
        skip=lambda r, why: skipped.append((r, why)),
    )
    assert got is None
    assert skipped and skipped[0][0] == "a.jpg" and "next run" in skipped[0][1]


def test_missing_source_folder_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^source.path: .* does not exist"):
        list(scan(src(tmp_path / "nope")))


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.jpg", b"x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    skipped: list[str] = []
    got = [f.rel_path for f in scan(src(tmp_path), on_skip=lambda r, w: skipped.append(r))]
    assert got == ["a/x.jpg"]
    assert skipped == ["a/loop"]


def test_non_utf8_name_is_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path / "ok.jpg", b"x")
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.jpg"), "wb") as fh:
        fh.write(b"x")
    skipped: list[tuple[str, str]] = []
    got = [f.rel_path for f in scan(src(tmp_path), on_skip=lambda r, w: skipped.append((r, w)))]
    assert got == ["ok.jpg"]
    assert skipped[0][1] == "file name is not UTF-8"
