"""Where the bundled campaign data lives, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

CAMPAIGN_FILE = "apt10.stix21.json"
# The bundled campaigns by name (the command's ``-i bundled:NAME``): their files under data/.
CAMPAIGNS = {"apt10": CAMPAIGN_FILE}
DEFAULT_CAMPAIGN = "apt10"


def campaign_data_path(name: str = DEFAULT_CAMPAIGN) -> Path:
    """A bundled campaign's STIX 2.1 bundle; by default APT10 / menuPass /
    Cloud Hopper. ValueError for a name not bundled.

    A wheel carries it inside the package; an editable install reads the
    repository's ``data/`` directly, so a rebuilt bundle is used at once.
    """
    file = CAMPAIGNS.get(name)
    if file is None:
        raise ValueError(f"no bundled campaign data named {name!r} (bundled: {', '.join(sorted(CAMPAIGNS))})")
    package = Path(__file__).resolve().parents[1]
    packaged = package / "data" / file
    if packaged.is_file():
        return packaged
    return package.parents[1] / "data" / file
