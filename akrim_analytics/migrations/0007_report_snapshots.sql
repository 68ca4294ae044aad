-- 0007: frozen datasets of the quarterly leadership report (akrim_analytics.report).
--
-- The first time a report is generated for a quarter, every table it shows is computed
-- once and stored here as JSON (edition 1), together with the data version, the risk
-- run and the risk-configuration version it was computed from. Later downloads of that
-- quarter render from this row, so the numbers presented to the leadership never
-- change behind their back after later uploads. A user who wants today's data asks for
-- a new edition explicitly (edition 2, 3, …; audit-logged). Rows are never updated
-- or deleted: an edition is a record of what was reported.
CREATE SEQUENCE report_snapshot_seq START 1;
CREATE TABLE report_snapshots (
    snapshot_id         INTEGER PRIMARY KEY DEFAULT nextval('report_snapshot_seq'),
    period              VARCHAR NOT NULL,          -- quarter key, e.g. '2026-K3'
    edition             INTEGER NOT NULL,          -- 1, 2, … per period
    created_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by          VARCHAR NOT NULL,
    reason              VARCHAR,                   -- why a new edition was made
    data_version        INTEGER NOT NULL,          -- meta.data_version when frozen
    risk_run_id         INTEGER,                   -- risk_runs.run_id the risk tables come from
    risk_config_version INTEGER,                   -- risk_config_versions.version of that run
    risk_as_of          DATE,                      -- the run's reference date
    layout_version      INTEGER NOT NULL,          -- version of the dataset layout (report.DATASET_LAYOUT)
    fingerprint         VARCHAR NOT NULL,          -- sha256 of the dataset JSON (shown on every page)
    dataset             JSON NOT NULL,             -- every table the report shows, as computed
    UNIQUE (period, edition)
);
