-- 0004: what the risk engine (akrim_analytics.risk) stores beyond 0001's tables.

-- A run: why it was made, whether it is kept for good (quarter history), and whether
-- its rows were pruned because a newer run for the same quarter superseded it.
ALTER TABLE risk_runs ADD COLUMN reason VARCHAR;               -- e.g. 'manual', 'settings', 'upload …'
ALTER TABLE risk_runs ADD COLUMN pinned BOOLEAN DEFAULT false;  -- never pruned (quarter history, explicit runs)
ALTER TABLE risk_runs ADD COLUMN pruned BOOLEAN DEFAULT false;  -- assessments/factors deleted (superseded)
ALTER TABLE risk_runs ADD COLUMN n_contracts INTEGER;
ALTER TABLE risk_runs ADD COLUMN n_suppliers INTEGER;
ALTER TABLE risk_runs ADD COLUMN seconds DOUBLE;

-- An assessment: the raw point sums the 1–5 scores come from, the kind of contract
-- (works | services | goods | NULL = unknown), whether it runs on the as_of date, and
-- the spend in the last 12 months that is not linked to any contract.
ALTER TABLE risk_assessments ADD COLUMN likelihood_points DOUBLE;
ALTER TABLE risk_assessments ADD COLUMN consequence_points DOUBLE;
ALTER TABLE risk_assessments ADD COLUMN contract_kind VARCHAR;
ALTER TABLE risk_assessments ADD COLUMN active BOOLEAN;
ALTER TABLE risk_assessments ADD COLUMN threshold_nok DECIMAL(18, 2);
ALTER TABLE risk_assessments ADD COLUMN spend_without_contract_12m DECIMAL(18, 2);

-- A factor line: whether it reports missing data (shown as "unknown", never as clean),
-- the section of domain.md it rests on, and its display order.
ALTER TABLE risk_factors ADD COLUMN unknown BOOLEAN DEFAULT false;
ALTER TABLE risk_factors ADD COLUMN source VARCHAR;
ALTER TABLE risk_factors ADD COLUMN sort_order INTEGER;
