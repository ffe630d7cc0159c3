"""Roster import from CSV: merged into org.yaml, validated, new version hash; bad rows refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from config.loader import DEFAULT_DIR
from config.model import Org

HEADER = "unit_id,name,kind,parent,code_prefix,chief_id,chief_name,chief_dingtalk\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "import", "roster", *args],
                          capture_output=True, text=True)


def test_roster_csv_merges_and_changes_the_version(tmp_path: Path) -> None:
    import yaml

    org_path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org_path)
    before = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c12,新设市人民检察院,city,prov,,p-chief-c12,周新,dt-9001\n"
                        "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城,\n",
                        encoding="utf-8")
    r = run(str(csv_path), "--org", str(org_path))
    assert r.returncode == 0, r.stderr
    after = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
    assert after.version_hash() in r.stdout and after.version_hash() != before.version_hash()
    assert "a running bot uses the new roster at its next tick" in r.stdout  # no restart
    assert len([u for u in after.units if u.kind == "county"]) == 112
    chief = next(p for p in after.people if p.id == "p-chief-c12-01")
    assert (chief.name, chief.unit, chief.roles) == ("吴城", "c12-01", ("chief",))
    assert org_path.read_text(encoding="utf-8").startswith("# SYNTHETIC DEMO DATA")


def test_bad_roster_rows_leave_org_unchanged(tmp_path: Path) -> None:
    org_path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org_path)
    original = org_path.read_bytes()
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c13,某市,town,prov,,,,\nc13-01,某县,county,c99,ZZ,,,\n",
                        encoding="utf-8")
    r = run(str(csv_path), "--org", str(org_path))
    assert r.returncode == 1 and f"{csv_path}:2: 类型（kind）须为 city（市院）或 county（县区院）" in r.stderr
    csv_path.write_text(HEADER + "c13-01,某县,county,c99,ZZ,,,\n", encoding="utf-8")
    r = run(str(csv_path), "--org", str(org_path))
    assert r.returncode == 1 and f"{csv_path}:2: 上级单位「c99」不存在" in r.stderr
    assert org_path.read_bytes() == original
