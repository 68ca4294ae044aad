"""A large database for benchmarks: 50 000 suppliers, ~5 000 000 spend lines,
20 000 contracts. Built once and cached under bench/out/ (reused while the
generator is unchanged)."""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from akrim_analytics import demo  # noqa: E402

OUT = REPO / "bench" / "out"


def big_db() -> Path:
    # rebuilt when the generator or the schema changes
    src = (REPO / "akrim_analytics" / "demo.py").read_bytes() + b"".join(
        p.read_bytes() for p in sorted((REPO / "akrim_analytics" / "migrations").glob("*.sql")))
    tag = hashlib.sha256(src).hexdigest()[:10]
    path = OUT / f"big-{tag}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("big-*.duckdb"):
            old.unlink()
        t0 = time.perf_counter()
        counts = demo.build(path, supplier_scale=50_000 / 2_520, line_scale=4.5, max_contracts=20_000)
        print(f"built benchmark database {path.name} in {time.perf_counter() - t0:.1f} s: {counts}")
    return path


if __name__ == "__main__":
    print(big_db())
