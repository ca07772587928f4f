"""Symbiota's own Extended Data Import, driven through its web form as a collection manager
would: log in, upload the CSV ("Media Field Map"), keep the field mapping the page proposes,
import (collections/admin/importextended.php, classes/OccurrenceImport.php, 3.4.14)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import requests
from symbiota_real import RealPortal

IMAGE_MAP = "3"  # OccurrenceImport::IMPORT_IMAGE_MAP


def login(portal: RealPortal) -> requests.Session:
    s = requests.Session()
    r = s.post(
        f"{portal.portal_url}/profile/index.php",
        data={
            "login": portal.admin_user,
            "password": portal.admin_password,
            "action": "login",
            "refurl": "",
        },
        timeout=60,
        allow_redirects=False,
    )
    assert r.status_code == 302, f"login failed: {r.status_code}"
    # The fixture's portal sits at the web root ($CLIENT_ROOT ''), so PHP sends the session
    # cookie without a path and the cookie jar scopes it to /profile; a browser on a portal
    # with a CLIENT_ROOT gets it for the whole portal. Give it the whole site, as there.
    sid = s.cookies.get("PHPSESSID")
    assert sid, "the portal set no session cookie"
    s.cookies.clear()
    s.cookies.set("PHPSESSID", sid, path="/")
    return s


def import_media_csv(portal: RealPortal, csv_path: Path, collid: int = 7) -> str:
    """Import ``csv_path`` with the mapping the page preselects; returns the page's log."""
    s = login(portal)
    page = f"{portal.portal_url}/collections/admin/importextended.php"
    r = s.post(
        page,
        data={
            "importType": IMAGE_MAP,
            "collid": str(collid),
            "associationType": "",
            "submitAction": "initiateImport",
            "MAX_FILE_SIZE": "10000000",
        },
        files={"importFile": (csv_path.name, csv_path.read_bytes(), "text/csv")},
        timeout=120,
        allow_redirects=False,
    )
    assert r.status_code == 200, f"upload: {r.status_code}"
    form = re.search(r'<form name="mappingform".*?</form>', r.text, re.S)
    assert form, "no mapping form: " + _text(r.text)[-500:]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or (kind and kind.group(1) == "checkbox"):  # "create new records": off
            continue
        fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(
        r'<select name="(tf\[\d+\])"[^>]*>(.*?)</select>', form.group(0), re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" SELECTED', body)
        fields[name] = html.unescape(chosen.group(1)) if chosen else ""
    fields["mediaUploadType"] = "image"
    fields["submitAction"] = "importData"
    r = s.post(page, data=fields, timeout=300, allow_redirects=False)
    assert r.status_code == 200, f"import: {r.status_code}"
    text = _text(r.text)
    panel = re.search(r"Action Panel(.*?)Initialize Import", text)
    assert panel, "no import log on the page: " + text[-500:]
    return panel.group(1).strip()


def proposed_mapping(portal: RealPortal, csv_path: Path, collid: int = 7) -> dict[str, str]:
    """The page's proposed field for each CSV column (without importing anything)."""
    s = login(portal)
    r = s.post(
        f"{portal.portal_url}/collections/admin/importextended.php",
        data={"importType": IMAGE_MAP, "collid": str(collid), "submitAction": "initiateImport"},
        files={"importFile": (csv_path.name, csv_path.read_bytes(), "text/csv")},
        timeout=120,
    )
    sources = dict(re.findall(r'name="sf\[(\d+)\]" value="([^"]*)"', r.text))
    out = {}
    for i, body in re.findall(r'<select name="tf\[(\d+)\]"[^>]*>(.*?)</select>', r.text, re.S):
        chosen = re.search(r'<option value="([^"]*)" SELECTED', body)
        out[sources[i]] = chosen.group(1) if chosen else ""
    return out


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
