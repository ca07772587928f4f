"""The real Symbiota 3.4.14 portal and REST API, from `../shared/symbiota/portal` (its README).

Tests that need it skip with a reason where `../shared/symbiota` or PHP is missing (a user's fresh
clone); CI sets CYVERSE_LINK_REQUIRE_SYMBIOTA=1 so that they fail there instead of skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path


def _find_portal() -> Path:
    """`shared/symbiota/portal` beside the checkout (../shared), or beside a worktree's parent
    (../../shared for a worktree under wt/); CYVERSE_LINK_SYMBIOTA_PORTAL overrides."""
    if os.environ.get("CYVERSE_LINK_SYMBIOTA_PORTAL"):
        return Path(os.environ["CYVERSE_LINK_SYMBIOTA_PORTAL"])
    here = Path(__file__).resolve()
    for parent in here.parents[1:4]:
        candidate = parent / "shared" / "symbiota" / "portal"
        if candidate.exists():
            return candidate
    return here.parents[2] / "shared" / "symbiota" / "portal"


PORTAL = _find_portal()
REQUIRED_PHP_MODULES = ("mysqli", "pdo_mysql", "mbstring")


@dataclass(frozen=True)
class RealPortal:
    """One running portal: its database (SQLAlchemy URL), web root, API root and token."""

    name: str
    schema: str
    db_url: str
    portal_url: str
    api_url: str
    api_token: str
    admin_user: str
    admin_password: str
    root: Path


def unavailable() -> str | None:
    """None if the real portal can be started here, else why not."""
    if not PORTAL.exists():
        return f"the real Symbiota fixture is not here ({PORTAL})"
    if shutil.which("php") is None:
        return "PHP is not installed (apt-get install -y php-cli php-mysql php-mbstring php-xml)"
    modules = subprocess.run(["php", "-m"], capture_output=True, text=True).stdout.lower()
    missing = [m for m in REQUIRED_PHP_MODULES if m not in modules.split()]
    if missing:
        return f"PHP lacks {', '.join(missing)} (apt-get install -y php-mysql php-mbstring php-xml)"
    if shutil.which("mariadb") is None:
        return "the mariadb client is not installed"
    return None


def portal_up(schema: str = "3.4", collections: tuple[str, ...] = ("7:ASU:PLANTS",)) -> RealPortal:
    """Start a new portal with its own database; `portal_down` stops it and drops the database."""
    name = f"cl_sym_{uuid.uuid4().hex[:10]}"
    args = [str(PORTAL), "up", name, "--schema", schema]
    for spec in collections:
        args += ["--collection", spec]
    done = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if done.returncode:
        subprocess.run([str(PORTAL), "down", name], capture_output=True, timeout=60)
        raise RuntimeError(f"portal up failed: {done.stderr.strip()[-500:]}")
    info = json.loads(done.stdout)
    return RealPortal(
        name=name,
        schema=info["schema"],
        db_url=info["db_url"],
        portal_url=info["portal_url"],
        api_url=info["api_url"],
        api_token=info["api_token"],
        admin_user=info["admin_user"],
        admin_password=info["admin_password"],
        root=Path(info["root"]),
    )


def portal_down(portal: RealPortal) -> None:
    # Dropping ~400 tables and removing the unpacked tree can take minutes on a loaded
    # machine; a slow clean-up is not a test failure (the next `up` uses a new name).
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run([str(PORTAL), "down", portal.name], capture_output=True, timeout=300)


def required() -> bool:
    return os.environ.get("CYVERSE_LINK_REQUIRE_SYMBIOTA") == "1"


# Tables the tests fill, in the order their rows can be deleted (media.occid is RESTRICT).
_TEST_TABLES = ("media", "images", "omoccuridentifiers", "omoccurrences")


def clear_rows(db_url: str) -> None:
    """Empty what a test wrote into a shared portal (media rows, occurrences, identifiers, a
    test's trigger named ``reject``), so that portals are started once per session."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            conn.execute(sa.text("DROP TRIGGER IF EXISTS reject"))
            for table in _TEST_TABLES:
                if table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()
