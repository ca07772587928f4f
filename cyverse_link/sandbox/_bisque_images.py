"""blob_service and image_service answers of the BisQue sandbox (see ``_bisque_handler``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from cyverse_link.sandbox._bisque_model import (
    _IMAGE_OPS,
    _Reply,
    blob_mime,
    render_jpeg,
    split_subpath,
)
from cyverse_link.sandbox._bisque_ops import derivative_size

if TYPE_CHECKING:
    from cyverse_link.sandbox._bisque_handler import _Handler


def blob(h: _Handler, uniq: str) -> _Reply:
    """``/blob_service/<uniq>`` (blobsrv.py ~340-372): not a uniq code -> 404; missing or
    not readable -> 403 for everyone (never a challenge); Content-Type from the file name
    (guess_mime ~299-308: ``image/<ext>`` for images); an attachment unless ``noattach``."""
    if not uniq.startswith("00-"):
        return _Reply(404, b"Must be resource unique code")
    with h.sb._lock:
        res = h.sb.resources.get(uniq)
        if res is None or not h.sb.visible(res, h.user, "1"):
            return _Reply(403, b"resource does not exist or permission denied")
    filename, _ = split_subpath(res.name)
    headers = {"Content-Type": blob_mime(filename), "Cache-Control": "max-age=3628800"}
    disposition = "" if "noattach" in h.query else "attachment; "
    headers["Content-Disposition"] = f'{disposition}filename="{quote(filename)}"'
    return _Reply(200, render_jpeg(res.size), headers)


def image(h: _Handler, uniq: str, ops: list[str]) -> _Reply:
    """image_service: check_access (image_service/controllers/service.py ~232-242) refuses
    a missing or unreadable resource alike (403 logged in / 401 anonymous, which the
    challenge turns into a login redirect); ``resize`` follows operations/resize.py ~36-128."""
    with h.sb._lock:
        res = h.sb.resources.get(uniq)
        if res is None or not h.sb.visible(res, h.user, "1"):
            return h._deny()
        steps = [tuple(op.split(":", 1)) for op in ops]
        steps += [(k, h.query[k]) for k in _IMAGE_OPS if k in h.query]
        remaining, retry_after = h.sb._render
        if steps and remaining > 0:
            h.sb._render = (remaining - 1, retry_after)
            sep = "&" if "?" in h.path else "?"
            return _Reply(
                307,
                b"",
                {
                    "Retry-After": str(retry_after),
                    "Location": f"{h.sb.url}{h.path}{sep}timeout=15",
                },
            )
    if not steps:  # the bare image URL: the original bytes
        filename, _ = split_subpath(res.name)
        return _Reply(200, render_jpeg(res.size), {"Content-Type": blob_mime(filename)})
    try:
        size = derivative_size(res.size, [(s[0], s[1] if len(s) > 1 else "") for s in steps])
    except ValueError as exc:
        return _Reply(400, str(exc).encode())
    headers = {"Content-Type": "image/jpeg", "Cache-Control": "max-age=3628800"}
    return _Reply(200, render_jpeg(size), headers)
