"""Bad input: every case gets one clear message and leaves the database exactly as it was."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from akrim_analytics import auth
from akrim_analytics import importer
from akrim_analytics.importer import ImportRefused

import import_corpus as corpus
from conftest import REPO, run_cli
from test_import import ANNA, snapshot


@pytest.fixture
def populated(con, tmp_path):
    """A database that already holds an upload, so 'unchanged' means something."""
    importer.import_file(con, ANNA, corpus.messy_spend(tmp_path / "earlier.xlsx"))
    return con


def _csv(tmp_path):
    p = tmp_path / "eksport.xlsx"
    p.write_text("Bilagsdato;Leverandør;Beløp\n01.01.2025;A AS;100\n", encoding="utf-8")
    return p


def _html(tmp_path):
    p = tmp_path / "rapport.xlsx"
    p.write_text("<html><body><table><tr><td>Beløp</td></tr><tr><td>100</td></tr></table></body></html>")
    return p


def _pdf(tmp_path):
    p = tmp_path / "rapport.xlsx"
    p.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    return p


def _truncated(tmp_path):
    full = corpus.messy_spend(tmp_path / "full.xlsx").read_bytes()
    p = tmp_path / "avkortet.xlsx"
    p.write_bytes(full[: len(full) // 2])
    return p


def _garbage(tmp_path):
    import random

    p = tmp_path / "skadet.xlsx"
    rng = random.Random(1)
    p.write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    return p


def _encrypted(tmp_path):
    import msoffcrypto.format.ooxml

    plain = corpus.messy_spend(tmp_path / "plain.xlsx")
    p = tmp_path / "passord.xlsx"
    with plain.open("rb") as src, p.open("wb") as out:
        office = msoffcrypto.format.ooxml.OOXMLFile(src)
        office.encrypt("hemmelig", out)
    return p


def _empty_workbook(tmp_path):
    return corpus.workbook(tmp_path / "tom.xlsx", {"Ark1": [], "Ark2": []})


def _no_amount(tmp_path):
    return corpus.workbook(tmp_path / "uten-belop.xlsx", {"Data": [
        ["Bilagsdato", "Leverandør", "Org.nr.", "Tekst"], ["01.01.2025", "A AS", corpus.ORG_A, "x"]]})


def _too_many_rows(tmp_path):
    return corpus.too_many_rows(tmp_path / "for-mange.xlsx")


def _zip_bomb(tmp_path):
    return corpus.zip_bomb(tmp_path / "bombe.xlsx", 100)


def _empty_file(tmp_path):
    p = tmp_path / "null.xlsx"
    p.write_bytes(b"")
    return p


def _docx(tmp_path):
    import zipfile

    p = tmp_path / "notat.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return p


CASES = {
    "renamed_csv": (_csv, ["tekstfil (CSV)", ".xlsx"]),
    "html": (_html, ["nettside (HTML)"]),
    "pdf": (_pdf, ["PDF"]),
    "corrupt": (_truncated, ["skadet eller ufullstendig"]),
    "corrupt_garbage": (_garbage, ["skadet eller ufullstendig"]),
    "encrypted": (_encrypted, ["passordbeskyttet"]),
    "empty_workbook": (_empty_workbook, ["ingen data"]),
    "missing_field": (_no_amount, ["Beløp", "«Data»", "overskriftsrad 1", "«Bilagsdato»"]),
    "too_many_rows": (_too_many_rows, ["1 048 580", "1 048 576", "«Data»"]),
    "zip_bomb": (_zip_bomb, ["pakkes ut til", "xl/worksheets/sheet1.xml"]),
    "empty_file": (_empty_file, ["tom"]),
    "not_spreadsheet": (_docx, ["ikke et regneark"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_clear_message_and_db_unchanged(populated, tmp_path, case):
    make, words = CASES[case]
    path = make(tmp_path)
    before = snapshot(populated)
    with pytest.raises(ImportRefused) as e:
        importer.import_file(populated, ANNA, path)
    code = case.replace("_garbage", "")
    assert e.value.code == code
    msg = str(e.value)
    assert path.name in msg and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
    assert snapshot(populated) == before


def test_cli_bad_input_exits_non_zero_with_the_same_message(tmp_path):
    path = _pdf(tmp_path)
    dbp = tmp_path / "ny.duckdb"
    p = run_cli("import", path, "--db", dbp)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "Feil: " + str(ImportRefused("pdf", file=path.name))


def test_zip_bomb_is_refused_from_declared_sizes_in_little_memory(tmp_path):
    """A sheet declared as 3 GB in a 3 kB archive: refused before anything is inflated."""
    path = corpus.forged_bomb(tmp_path / "stor-bombe.xlsx")
    assert path.stat().st_size < 10_000
    code = ("import json, resource, sys\n"
            "from akrim_analytics.importer import fileformat, ImportRefused\n"
            "try:\n    fileformat.inspect(sys.argv[1]); out = 'accepted'\n"
            "except ImportRefused as e:\n    out = e.code\n"
            # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a big parent
            # (pytest holding the demo database) would be counted as this process's peak.
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(json.dumps({'out': out, 'mb': int(hwm.split()[1]) / 1024}))")
    p = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["out"] == "zip_bomb" and res["mb"] < 1024


def test_permission_is_checked_before_the_file_is_read(populated, tmp_path):
    with pytest.raises(auth.PermissionDenied):
        importer.import_file(populated, auth.User("l", "leder"), _pdf(tmp_path))
