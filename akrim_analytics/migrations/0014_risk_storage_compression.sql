-- 0014: how four columns of risk_assessments are compressed on disk, chosen for what a
-- re-score costs. Same columns, same types, same rows; only their storage changes
-- (DuckDB's per-column ``USING COMPRESSION``).
--
-- A run's assessments (one row per contract and supplier, ~56 000 in the benchmark) go
-- to the write-ahead log and are compressed at the next checkpoint, which comes every
-- second re-score. Under DuckDB's default string compression (dictionary + FSST) the
-- two id columns, nearly every value distinct, cost most of that checkpoint, and the
-- floating-point analysis of the two points columns another part. With zstd for the ids
-- and the points stored plain, the checkpoint in the benchmark took 0.14-0.18 s instead of
-- 0.18-0.23 s; the table takes ~1.7 times the blocks (~15 bytes more a row).
-- (zstd for the factor lines' values was measured too: ~10 % off their insert, but four
-- times their size on disk; not taken.)
--
-- Measured with bench/risk_bench.py (docs/performance.md, "Risk re-score").

CREATE TABLE risk_assessments_0014 (
    run_id        INTEGER NOT NULL,
    entity_type   VARCHAR NOT NULL,
    entity_id     VARCHAR NOT NULL USING COMPRESSION zstd,
    supplier_id   VARCHAR USING COMPRESSION zstd,
    category      VARCHAR,
    department    VARCHAR,
    likelihood    INTEGER NOT NULL,
    consequence   INTEGER NOT NULL,
    level         VARCHAR NOT NULL,
    required_step INTEGER NOT NULL,
    covered       BOOLEAN NOT NULL,
    spend_12m     DECIMAL(18, 2),
    exposure      DECIMAL(18, 2),
    no_contract   BOOLEAN NOT NULL DEFAULT false,
    likelihood_points  DOUBLE USING COMPRESSION uncompressed,
    consequence_points DOUBLE USING COMPRESSION uncompressed,
    contract_kind VARCHAR,
    active        BOOLEAN,
    threshold_nok DECIMAL(18, 2),
    spend_without_contract_12m DECIMAL(18, 2),
    entity_no     INTEGER
);
INSERT INTO risk_assessments_0014 SELECT * FROM risk_assessments;
DROP TABLE risk_assessments;
ALTER TABLE risk_assessments_0014 RENAME TO risk_assessments;
