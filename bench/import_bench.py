"""Import speed: a 1 000 000-row, 7-column spend export (title rows above the header,
Excel dates, numbers, a total row at the end).

Times, each in its own process:
  (a) a bare fastexcel read of the sheet to Arrow,
  (b) the full command-line import into a fresh database
      (``python -m akrim_analytics import FILE --db NEW``: sniffing, zip check, header
      detection, read, parse/validate in SQL, suppliers, insert, categorise, link, commit),
  (c) pandas.read_excel with openpyxl, for reference: on the first 100 000 rows,
      extrapolated to the whole file (said so in the output); ``--full`` times all rows.

Targets: (b)/(a) <= 1.5, peak memory of (b) <= 2 GB, (c)/(b) >= 10.
The file is cached in bench/out/ (building it takes a minute or two).

    .venv/bin/python bench/import_bench.py [--rows N] [--full]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
VERSION = 1
HEADER_ROW = 3  # 0-based: title, "printed by", blank, header


def build(path: Path, rows: int) -> None:
    import xlsxwriter

    rng = random.Random(20251231)
    tmp = path.with_suffix(".tmp.xlsx")
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    ws = wb.add_worksheet("Reskontro")
    datef = wb.add_format({"num_format": "dd.mm.yyyy"})
    ws.write_string(0, 0, "Leverandørreskontro 2025 – Benchmark kommune")
    ws.write_string(1, 0, "Skrevet ut av: analytiker, 15.01.2026")
    ws.write_row(HEADER_ROW, 0, ["Bilagsdato", "Lev.nr", "Leverandørnavn", "Org.nr.", "Art", "Ansvar", "Beløp"])
    # 5 000 suppliers with MOD11-valid org numbers
    sups = []
    n = 0
    base = 910000000
    while len(sups) < 5000:
        first8 = str(base + n * 7)[:8]
        n += 1
        w = (3, 2, 7, 6, 5, 4, 3, 2)
        r = 11 - sum(int(d) * x for d, x in zip(first8, w)) % 11
        if r == 10:
            continue
        org = int(first8 + str(0 if r == 11 else r))
        sups.append((10000 + len(sups), f"Leverandør {len(sups)} AS", org))
    days = [dt.datetime(2025, 1, 1) + dt.timedelta(days=d) for d in range(365)]
    accounts = [11000 + 10 * i for i in range(40)] + [12300, 12400, 12600, 12710]
    departments = [1100, 1200, 2100, 2200, 3100, 3200, 4100, 4200, 4300, 4400, 5100]
    total = 0
    for i in range(rows):
        r = HEADER_ROW + 1 + i
        s = sups[min(int(rng.paretovariate(1.2)) - 1, 4999)]
        amount = round(rng.uniform(-2000, 150000), 2)
        total += round(amount * 100)
        ws.write_datetime(r, 0, days[i % 365], datef)
        ws.write_number(r, 1, s[0])
        ws.write_string(r, 2, s[1])
        ws.write_number(r, 3, s[2])
        ws.write_number(r, 4, accounts[i % len(accounts)])
        ws.write_number(r, 5, departments[i % len(departments)])
        ws.write_number(r, 6, amount)
    ws.write_string(HEADER_ROW + 1 + rows, 0, "Sum")
    ws.write_number(HEADER_ROW + 1 + rows, 6, total / 100)
    wb.close()
    os.replace(tmp, path)


def run_measured(code: str, *args: str) -> dict:
    """Run python code in a child that reports its own wall time and peak RSS."""
    wrapper = (
        "import json, resource, sys, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0, "
        "'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'extra': globals().get('extra')}))\n")
    p = subprocess.run([sys.executable, "-c", wrapper, *args], cwd=REPO, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--full", action="store_true", help="time pandas/openpyxl on the whole file (minutes)")
    ap.add_argument("--pandas-rows", type=int, default=100_000)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"import_spend_{args.rows}_v{VERSION}.xlsx"
    if not path.exists():
        t0 = time.perf_counter()
        print(f"building {path.name} ...", flush=True)
        build(path, args.rows)
        print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}, {args.rows:,} rows x 7 columns, {size_mb:.0f} MB".replace(",", " "))

    # (a) bare fastexcel read
    a = run_measured(
        "import fastexcel, sys\n"
        f"t = fastexcel.read_excel(sys.argv[1]).load_sheet(0, header_row={HEADER_ROW}).to_arrow()\n"
        "extra = t.num_rows", str(path))

    # (b) the full command-line import into a fresh database (wall time of the whole process)
    with tempfile.TemporaryDirectory() as d:
        dbp = Path(d) / "bench.duckdb"
        code = (
            "import sys\n"
            "from akrim_analytics import cli\n"
            "rc = cli.main(['import', sys.argv[1], '--db', sys.argv[2], '--json'])\n"
            "assert rc == 0\n")
        t0 = time.perf_counter()
        b = run_measured(code, str(path), str(dbp))
        b_wall = time.perf_counter() - t0
        import duckdb

        con = duckdb.connect(str(dbp), read_only=True)
        rows, total = con.execute("SELECT count(*), sum(amount) FROM spend").fetchone()
        con.close()
    # the process wall time (Python start-up, imports and migrations included) is what counts
    b_seconds = b_wall

    # (c) pandas + openpyxl
    if args.full:
        c = run_measured(
            "import pandas as pd, sys\n"
            f"df = pd.read_excel(sys.argv[1], engine='openpyxl', header={HEADER_ROW})\n"
            "extra = len(df)", str(path))
        c_seconds, c_note = c["seconds"], "all rows"
    else:
        n = min(args.pandas_rows, args.rows)
        c = run_measured(
            "import pandas as pd, sys\n"
            f"df = pd.read_excel(sys.argv[1], engine='openpyxl', header={HEADER_ROW}, nrows={n})\n"
            "extra = len(df)", str(path))
        c_seconds = c["seconds"] * args.rows / n
        c_note = (f"MEASURED on the first {n:,} rows ({c['seconds']:.1f} s) and EXTRAPOLATED x{args.rows / n:.0f} "
                  f"to {args.rows:,} rows (run with --full to time all rows)").replace(",", " ")

    print(f"(a) fastexcel read:          {a['seconds']:7.2f} s   peak {a['peak_mb']:6.0f} MB   ({a['extra']:,} rows)".replace(",", " "))
    print(f"(b) CLI import (process):    {b_seconds:7.2f} s   peak {b['peak_mb']:6.0f} MB   "
          f"({rows:,} lines, sum {float(total):,.2f}; {b['seconds']:.2f} s after interpreter start)".replace(",", " "))
    print(f"(c) pandas.read_excel/openpyxl: {c_seconds:7.1f} s   [{c_note}]")
    print(f"ratio (b)/(a) = {b_seconds / a['seconds']:.2f}   (target <= 1.5)")
    print(f"ratio (c)/(b) = {c_seconds / b_seconds:.1f}   (target >= 10)")
    print(f"peak memory (b) = {b['peak_mb']:.0f} MB   (target <= 2048 MB)")
    ok = b_seconds / a["seconds"] <= 1.5 and b["peak_mb"] <= 2048 and c_seconds / b_seconds >= 10
    print("targets met" if ok else "TARGETS NOT MET")


if __name__ == "__main__":
    main()
