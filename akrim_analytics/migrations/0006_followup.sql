-- 0006: follow-up (akrim_analytics.controls and akrim_analytics.plan).
-- The control log itself is 0001's `controls` and `findings`; this adds what the log
-- and the quarterly follow-up plan need beyond them.

-- A control put in the log by a saved plan (NULL = entered by hand or imported).
ALTER TABLE controls ADD COLUMN plan_id INTEGER;

-- Sanction details and who recorded a finding. sanction_amount: NOK per day for
-- daily fines (dagbøter), NOK withheld for withheld payment (tilbakeholdelse).
ALTER TABLE findings ADD COLUMN sanction_amount DECIMAL(18, 2);
ALTER TABLE findings ADD COLUMN created_by VARCHAR;
ALTER TABLE findings ADD COLUMN created_at TIMESTAMP;
ALTER TABLE findings ADD COLUMN updated_by VARCHAR;
ALTER TABLE findings ADD COLUMN updated_at TIMESTAMP;

-- Planning settings (capacity, effort per step, weights, options), versioned: the
-- newest version is in force; every saved plan also keeps the settings it used.
CREATE TABLE plan_settings (
    version    INTEGER PRIMARY KEY,
    config     JSON NOT NULL,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- A saved follow-up plan for one quarter. Saving a new plan for the same quarter marks
-- the earlier one 'replaced' (kept for the record).
CREATE SEQUENCE plan_seq START 1;
CREATE TABLE plans (
    plan_id        INTEGER PRIMARY KEY DEFAULT nextval('plan_seq'),
    year           INTEGER NOT NULL,
    quarter        INTEGER NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    status         VARCHAR NOT NULL,          -- active | replaced
    risk_run_id    INTEGER,
    as_of          DATE NOT NULL,             -- reference date of the plan (windows for done controls)
    capacity_hours DOUBLE NOT NULL,
    hours_planned  DOUBLE NOT NULL,
    objective      DOUBLE,                    -- risk-weighted value covered (see plan.py)
    settings       JSON NOT NULL,
    note           VARCHAR,
    created_by     VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    replaced_by    INTEGER,
    replaced_at    TIMESTAMP
);

-- One row per planned control: a contract and a step (Trinn 1/2/3).
CREATE TABLE plan_items (
    plan_id       INTEGER NOT NULL,
    contract_id   VARCHAR NOT NULL,
    step          INTEGER NOT NULL CHECK (step IN (1, 2, 3)),
    hours         DOUBLE NOT NULL,
    department    VARCHAR,
    supplier_id   VARCHAR,
    level         VARCHAR,
    required_step INTEGER,
    exposure      DECIMAL(18, 2),
    value         DOUBLE,
    reasons       JSON,                       -- [[code, {params}], ...] rendered by plan.reason_text
    PRIMARY KEY (plan_id, contract_id, step)
);
