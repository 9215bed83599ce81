"""Where the bundled campaign data lives, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

CAMPAIGN_FILE = "apt10.stix21.json"


def campaign_data_path() -> Path:
    """The bundled APT10 / menuPass / Cloud Hopper STIX 2.1 bundle.

    A wheel carries it inside the package; an editable install reads the
    repository's ``data/`` directly, so a rebuilt bundle is used at once.
    """
    package = Path(__file__).resolve().parents[1]
    packaged = package / "data" / CAMPAIGN_FILE
    if packaged.is_file():
        return packaged
    return package.parents[1] / "data" / CAMPAIGN_FILE
