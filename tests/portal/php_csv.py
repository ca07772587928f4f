"""Read a CSV file the way Symbiota's import does: PHP's ``fgetcsv($fh, 0, ',')``
(classes/UtilitiesFileImport.php ~171/190), each value through PHP's ``trim`` as
``Manager::encodeString`` does before storing it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

READ = r"""
$fh = fopen($argv[1], 'rb');
$out = array();
while (($row = fgetcsv($fh, 0, ',')) !== false) { $out[] = $row; }
echo json_encode($out);
"""


def php_available() -> bool:
    return shutil.which("php") is not None


def read_with_php(path: Path) -> list[list[str]]:
    if not php_available():
        pytest.skip("PHP is not installed (apt-get install -y php-cli)")
    done = subprocess.run(
        ["php", "-r", READ, str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    rows: list[list[str]] = json.loads(done.stdout)
    return rows
