-- 0003: what the importer (akrim_analytics/importer) keeps besides the data itself.

-- Column mappings the analyst confirmed, saved under a name and reused for the next
-- file of the same shape (same kind and same set of normalised headers = signature).
CREATE TABLE import_mappings (
    name         VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,            -- spend | contracts | suppliers | ...
    signature    VARCHAR NOT NULL,            -- hash of the kind and the normalised header set
    headers      JSON NOT NULL,               -- the header row the mapping was made for
    mapping      JSON NOT NULL,               -- {"canonical field": "header in the file"}
    created_by   VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by   VARCHAR,
    updated_at   TIMESTAMP,
    last_used_at TIMESTAMP
);

-- Enhetsregisteret rows as imported (one row per unit and upload). Suppliers are
-- enriched from the newest row for their org number, also when the spend that creates
-- a supplier arrives after the register extract; undoing an extract falls back to the
-- previous one. parent_orgnr = overordnetEnhet (sub-units roll up to their legal unit).
CREATE TABLE register_units (
    upload_id          INTEGER NOT NULL,
    orgnr              VARCHAR NOT NULL,
    parent_orgnr       VARCHAR,
    name               VARCHAR,
    org_form           VARCHAR,
    nace_code          VARCHAR,
    nace_version       VARCHAR,               -- SN2007 | SN2025
    founded_date       DATE,
    registered_date    DATE,
    vat_registered     BOOLEAN,
    employees          INTEGER,               -- NULL = unknown (blank antallAnsatte)
    bankrupt           BOOLEAN,
    under_liquidation  BOOLEAN,
    forced_dissolution BOOLEAN,
    deleted_date       DATE,
    last_accounts_year INTEGER,
    municipality_no    VARCHAR,
    country_code       VARCHAR,
    extract_date       DATE NOT NULL,
    PRIMARY KEY (upload_id, orgnr)
);

-- Rows an import replaced (e.g. a contract already in the register), kept so that
-- undoing the import restores exactly what was there before.
CREATE TABLE import_replaced_rows (
    upload_id  INTEGER NOT NULL,
    table_name VARCHAR NOT NULL,
    row_key    VARCHAR NOT NULL,
    row_data   JSON NOT NULL
);

-- Departments (ansvar) first seen in an upload; undo removes them when unused.
ALTER TABLE departments ADD COLUMN created_upload_id INTEGER;
