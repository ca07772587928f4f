"""Pixel sizes of the BisQue sandbox's image_service operations (pure).

Follows ``source/bqserver/bq/image_service/controllers/operations/resize.py`` (~36-128) and
``thumbnail.py`` (~37-134) of UCSB-VRL/bisqueUCSB 8ba481c: a plain ``resize:W`` scales to width
W whatever the master's size (it upscales a narrower master); ``,AR`` fits a box keeping the
aspect ratio; ``,MX`` does the same but leaves a smaller master untouched; ``thumbnail`` fits its
box (default 128,128) and never upscales.
"""

from __future__ import annotations

from collections.abc import Sequence


def compute_new_size(
    imw: int, imh: int, w: int, h: int, keep_aspect_ratio: bool, no_upsample: bool
) -> tuple[int, int]:
    """resize.py ~36-51 in Python 3 (Python 2's round() rounds halves away from zero)."""
    if no_upsample and imw <= w and imh <= h:
        return imw, imh
    if keep_aspect_ratio:
        if imw / float(w) >= imh / float(h):
            h = 0
        else:
            w = 0
    if w == 0:
        w = int(imw / (imh / float(h)) + 0.5)
    if h == 0:
        h = int(imh / (imw / float(w)) + 0.5)
    return w, h


def _resize(size: tuple[int, int], arg: str) -> tuple[int, int]:
    ss = arg.split(",")
    w = int(ss[0]) if ss and ss[0].isdigit() else 0
    h = int(ss[1]) if len(ss) > 1 and ss[1].isdigit() else 0
    method = ss[2].upper() if len(ss) > 2 else "BL"
    extra = ss[3].upper() if len(ss) > 3 else ""
    if w <= 0 and h <= 0:
        raise ValueError(f"Resize: size is unsupported: [{arg}]")
    if method not in ("NN", "BL", "BC"):
        raise ValueError(f"Resize: method is unsupported: [{arg}]")
    max_bounding = extra == "MX"
    if max_bounding and size[0] <= w and size[1] <= h:
        return size  # "Max bounding resize requested on a smaller image, skipping"
    return compute_new_size(size[0], size[1], w, h, extra in ("AR", "MX"), max_bounding)


def _thumbnail(size: tuple[int, int], arg: str) -> tuple[int, int]:
    ss = arg.split(",") if arg else []
    w = int(ss[0]) if ss and ss[0].isdigit() else 128
    h = int(ss[1]) if len(ss) > 1 and ss[1].isdigit() else 128
    return compute_new_size(size[0], size[1], w, h, True, True)


def derivative_size(master: tuple[int, int], steps: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """The pixels after ``steps`` ((operation, argument) in URL order); ValueError -> 400.
    Operations other than resize/thumbnail (format, …) keep the size."""
    size = master
    for op, arg in steps:
        if op == "resize":
            size = _resize(size, arg)
        elif op == "thumbnail":
            size = _thumbnail(size, arg)
    return size
