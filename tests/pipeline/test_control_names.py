"""Issue 13 item 15: names with newlines or ANSI escapes went raw into log lines (a name could
forge ``evil.jpg: linked``); a name with ESC failed at iRODS with ``SYS_API_INPUT_ERR -14000 …
see the log`` instead of a reason given before anything was sent."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyverse_link.config.credentials import redactor
from cyverse_link.config.settings import SourceSettings
from cyverse_link.core.logsafe import printable
from cyverse_link.core.models import Problem, Status
from cyverse_link.dropfolder.scan import scan

from .test_pipeline import World, image, make_settings

CONTROL = st.characters(min_codepoint=1, max_codepoint=0x1F) | st.just("\x7f")
NAME = st.text(st.characters(exclude_characters="/\x00", codec="utf-8"), max_size=20)


@given(NAME, CONTROL, NAME)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_control_character_anywhere_in_the_name_is_a_bad_name(
    tmp_path: Path, before: str, control: str, after: str
) -> None:
    drop = tmp_path / "d"
    drop.mkdir(exist_ok=True)
    for old in drop.iterdir():
        old.unlink()
    name = f"ASU0000001{before}{control}{after}.jpg"
    (drop / name).write_bytes(b"\xff\xd8\xff" + b"x" * 30)
    found = list(scan(SourceSettings(path=drop)))
    if name.startswith(".") or name.lower().endswith((".part", ".tmp", "~")):
        return
    (local,) = found
    assert local.problems == (Problem.BAD_NAME,) and local.fatal
    assert f"U+{ord(next(c for c in name if c < ' ' or c == chr(127))):04X}" in (local.detail or "")


def test_esc_and_newline_names_fail_before_anything_is_sent(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "ASU0000001.jpg").write_bytes(image((1, 1, 1)))
    (drop / "ASU0000002\x1b[31m.jpg").write_bytes(image((2, 2, 2)))
    (drop / "ASU0000003\nevil.jpg: linked.jpg").write_bytes(image((3, 3, 3)))
    w = World(make_settings(tmp_path))
    w.portal.specimens.update({"ASU0000002": [102], "ASU0000003": [103]})
    report = w.run()
    led = w.ledger()
    assert led["ASU0000001.jpg"].status is Status.DONE
    for name in ("ASU0000002\x1b[31m.jpg", "ASU0000003\nevil.jpg: linked.jpg"):
        assert "control character" in (led[name].detail or "")
    assert not any("\x1b" in p or "\n" in p for p in w.objects())
    assert report.counts.failed == 2


@given(st.text(max_size=40))
def test_printable_is_one_line_and_leaves_plain_text_alone(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    if (
        text.isprintable()
        and "\\" not in text
        and not any(
            c in text for c in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        )
    ):
        assert shown == text


def test_a_name_cannot_forge_a_log_line() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    log = logging.getLogger("cyverse_link.test_forge")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("%s: failed at %s", "x.jpg\nINFO cyverse_link: evil.jpg: linked\x1b[2K", "up")
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        "WARNING cyverse_link.test_forge: x.jpg\\nINFO cyverse_link: evil.jpg: linked\\x1b[2K: "
        "failed at up"
    )


def test_status_failed_shows_a_hostile_name_escaped(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cyverse_link.cli import cli

    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "ASU0000003\nFAILED evil.jpg.jpg").write_bytes(image((3, 3, 3)))
    s = make_settings(tmp_path)
    World(s).run()
    config = tmp_path / "c.yaml"
    config.write_text(
        "collection: {collid: 7, code: ASU}\nsource: {path: in}\n"
        "irods: {user: me, collection: /iplant/home/p}\nsymbiota: {mode: csv}\n"
        f"state: {{db_url: '{s.state.db_url}', report_dir: reports}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--failed"])
    failed = [ln for ln in result.output.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith("FAILED ASU0000003\\nFAILED evil.jpg.jpg:")
