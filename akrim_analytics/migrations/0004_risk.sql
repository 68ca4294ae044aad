-- 0004: what the risk engine (akrim_analytics.risk) stores beyond 0001's tables.

-- A run: why it was made, whether it is kept for good (quarter history), and whether
-- its rows were pruned because a newer run for the same quarter superseded it.
ALTER TABLE risk_runs ADD COLUMN reason VARCHAR;               -- e.g. 'manual', 'settings', 'upload …'
ALTER TABLE risk_runs ADD COLUMN pinned BOOLEAN DEFAULT false;  -- never pruned (quarter history, explicit runs)
ALTER TABLE risk_runs ADD COLUMN pruned BOOLEAN DEFAULT false;  -- assessments/factors deleted (superseded)
ALTER TABLE risk_runs ADD COLUMN n_contracts INTEGER;
ALTER TABLE risk_runs ADD COLUMN n_suppliers INTEGER;
ALTER TABLE risk_runs ADD COLUMN seconds DOUBLE;

-- An assessment: as in 0001 but without the primary key (DuckDB's index made deleting a
-- superseded run's rows take seconds; the engine keeps (run_id, entity_type, entity_id)
-- unique by construction), plus the raw point sums the 1–5 scores come from, the kind of
-- contract (works | services | goods | NULL = unknown), whether it runs on the as_of
-- date, the threshold that applied and the spend in the last 12 months that is not
-- linked to any contract.
CREATE TABLE risk_assessments_0004 (
    run_id        INTEGER NOT NULL,
    entity_type   VARCHAR NOT NULL,           -- contract | supplier
    entity_id     VARCHAR NOT NULL,           -- contract_id, or supplier_id for suppliers
    supplier_id   VARCHAR,
    category      VARCHAR,
    department    VARCHAR,
    likelihood    INTEGER NOT NULL,           -- 1..5
    consequence   INTEGER NOT NULL,           -- 1..5
    level         VARCHAR NOT NULL,           -- lav | middels | høy
    required_step INTEGER NOT NULL,           -- 1 | 2 | 3; 0 = not covered by the wage regulation
    covered       BOOLEAN NOT NULL,           -- covered by the wage regulation
    spend_12m     DECIMAL(18, 2),
    exposure      DECIMAL(18, 2),             -- NOK exposure used for prioritisation
    no_contract   BOOLEAN NOT NULL DEFAULT false,  -- supplier with spend but no registered contract
    likelihood_points DOUBLE,
    consequence_points DOUBLE,
    contract_kind VARCHAR,
    active        BOOLEAN,
    threshold_nok DECIMAL(18, 2),
    spend_without_contract_12m DECIMAL(18, 2)
);
INSERT INTO risk_assessments_0004 (run_id, entity_type, entity_id, supplier_id, category, department, likelihood,
                                   consequence, level, required_step, covered, spend_12m, exposure, no_contract)
SELECT run_id, entity_type, entity_id, supplier_id, category, department, likelihood, consequence, level,
       required_step, covered, spend_12m, exposure, no_contract
FROM risk_assessments;
DROP TABLE risk_assessments;
ALTER TABLE risk_assessments_0004 RENAME TO risk_assessments;

-- A factor line: whether it reports missing data (shown as "unknown", never as clean),
-- the section of domain.md it rests on, and its display order.
ALTER TABLE risk_factors ADD COLUMN unknown BOOLEAN DEFAULT false;
ALTER TABLE risk_factors ADD COLUMN source VARCHAR;
ALTER TABLE risk_factors ADD COLUMN sort_order INTEGER;
