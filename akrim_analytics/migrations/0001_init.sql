-- 0001: the core warehouse. Amounts are NOK (DECIMAL), credit notes negative.
-- No foreign-key constraints: DuckDB's FK checks block the delete/re-insert patterns
-- the import and undo use; integrity is kept by the core's write functions.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);
INSERT INTO meta VALUES ('data_version', '0');

CREATE TABLE categories (
    code       VARCHAR PRIMARY KEY,       -- stable key, e.g. 'BYGG'
    name_nb    VARCHAR NOT NULL UNIQUE,   -- Norwegian name (seed table, domain.md §0)
    name_en    VARCHAR NOT NULL,
    sort_order INTEGER NOT NULL
);

CREATE TABLE departments (
    code VARCHAR PRIMARY KEY,             -- ansvar code (ERP dimension)
    name VARCHAR NOT NULL,
    area VARCHAR                          -- tjenesteområde
);

CREATE SEQUENCE upload_seq START 1;
CREATE TABLE uploads (
    upload_id            INTEGER PRIMARY KEY DEFAULT nextval('upload_seq'),
    file_name            VARCHAR NOT NULL,
    sha256               VARCHAR,
    kind                 VARCHAR NOT NULL,   -- spend | contracts | suppliers | controls | demo
    sheet                VARCHAR,
    mapping_name         VARCHAR,
    uploaded_by          VARCHAR NOT NULL,
    uploaded_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    rows                 INTEGER NOT NULL DEFAULT 0,
    total                DECIMAL(18, 2),
    file_total           DECIMAL(18, 2),     -- what the file's own total row said
    status               VARCHAR NOT NULL,   -- committed | undone | refused
    accepted_valid_only  BOOLEAN NOT NULL DEFAULT false,
    rejected_rows        INTEGER NOT NULL DEFAULT 0,
    report               JSON,               -- validation report kept with the upload
    undone_by            VARCHAR,
    undone_at            TIMESTAMP
);

CREATE TABLE suppliers (
    supplier_id           VARCHAR PRIMARY KEY, -- the org number where known, else 'L:<erp no>' / 'N:<name>'
    orgnr                 VARCHAR,             -- 9 digits, MOD11-valid, NULL when unknown
    name                  VARCHAR NOT NULL,
    erp_supplier_no       VARCHAR,             -- leverandørnummer in the ERP
    nace_code             VARCHAR,             -- naeringskode1, 'NN.NNN'
    nace_version          VARCHAR,             -- 'SN2007' | 'SN2025'
    org_form              VARCHAR,             -- AS, ENK, NUF, ...
    founded_date          DATE,                -- stiftelsesdato
    registered_date       DATE,                -- registreringsdatoEnhetsregisteret
    vat_registered        BOOLEAN,             -- NULL = unknown
    employees             INTEGER,             -- antallAnsatte; NULL = unknown, never 0 for unknown
    bankrupt              BOOLEAN,
    under_liquidation     BOOLEAN,
    forced_dissolution    BOOLEAN,
    deleted_date          DATE,
    last_accounts_year    INTEGER,             -- sisteInnsendteAarsregnskap
    municipality_no       VARCHAR,             -- forretningsadresse.kommunenummer
    country_code          VARCHAR,
    register_extract_date DATE,                -- when the register data was taken; NULL = never enriched
    created_upload_id     INTEGER,
    enriched_upload_id    INTEGER
);

CREATE TABLE contracts (
    contract_id          VARCHAR PRIMARY KEY,
    name                 VARCHAR NOT NULL,
    supplier_id          VARCHAR,
    category             VARCHAR,            -- categories.code
    department           VARCHAR,            -- departments.code (owner of follow-up)
    responsible          VARCHAR,            -- responsible person in the owning department
    start_date           DATE,
    end_date             DATE,
    estimated_value      DECIMAL(18, 2),     -- total contract value excl. VAT
    cpv                  VARCHAR,            -- 8 digits, no check digit
    labour_intensive     BOOLEAN,            -- labour-intensive service (vs goods)
    subcontractor_levels INTEGER,            -- levels in the vertical chain below the main supplier
    foreign_workers      BOOLEAN,            -- use of foreign / posted workers
    own_sites            BOOLEAN,            -- work at the municipality's own sites
    workers              INTEGER,            -- number of workers on the contract, where known
    wage_clause          BOOLEAN,            -- wage/working-conditions clause in the contract
    seriousness_clause   BOOLEAN,            -- seriousness (Norgesmodellen) clauses in the contract
    upload_id            INTEGER,
    updated_at           TIMESTAMP,
    updated_by           VARCHAR
);

-- One row per invoice or posting line.
CREATE TABLE spend (
    upload_id       INTEGER NOT NULL,
    source_row      INTEGER,                 -- Excel row number in the uploaded file
    posting_date    DATE NOT NULL,           -- bilagsdato / fakturadato (first of month when only a period was given)
    period          INTEGER NOT NULL,        -- YYYYMM
    supplier_id     VARCHAR,
    amount          DECIMAL(18, 2) NOT NULL,
    account         VARCHAR,                 -- art / konto
    department      VARCHAR,                 -- ansvar
    service         VARCHAR,                 -- tjeneste / KOSTRA funksjon
    project         VARCHAR,
    invoice_no      VARCHAR,
    description     VARCHAR,
    category        VARCHAR NOT NULL,        -- categories.code
    category_source VARCHAR,                 -- file | nace | account | none
    contract_id     VARCHAR                  -- matched contract, NULL = spend without contract
);

CREATE SEQUENCE control_seq START 1;
CREATE TABLE controls (
    control_id          INTEGER PRIMARY KEY DEFAULT nextval('control_seq'),
    contract_id         VARCHAR NOT NULL,
    step                INTEGER NOT NULL CHECK (step IN (1, 2, 3)),   -- DFØ Trinn 1/2/3
    planned_date        DATE,
    done_date           DATE,
    performed_by        VARCHAR,
    documents_requested VARCHAR[],
    documents_received  VARCHAR[],
    outcome             VARCHAR,             -- clean | findings | not_done (NULL while planned)
    status              VARCHAR NOT NULL,    -- planned | open | closed
    note                VARCHAR,
    upload_id           INTEGER,
    created_by          VARCHAR,
    created_at          TIMESTAMP DEFAULT current_timestamp,
    updated_by          VARCHAR,
    updated_at          TIMESTAMP
);

CREATE SEQUENCE finding_seq START 1;
CREATE TABLE findings (
    finding_id      INTEGER PRIMARY KEY DEFAULT nextval('finding_seq'),
    control_id      INTEGER NOT NULL,
    contract_id     VARCHAR NOT NULL,
    finding_type    VARCHAR NOT NULL,        -- wage | working_time | pension | hms_card | chain | documentation | other
    severity        VARCHAR NOT NULL,        -- low | medium | high
    description     VARCHAR,
    action          VARCHAR,                 -- correction | action_plan | daily_fines | withheld_payment | termination
    action_deadline DATE,
    status          VARCHAR NOT NULL,        -- open | closed
    opened_date     DATE NOT NULL,
    closed_date     DATE,
    upload_id       INTEGER
);

CREATE SEQUENCE audit_seq START 1;
CREATE TABLE audit_log (
    audit_id    BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    logged_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    username    VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,            -- login | upload | undo | edit | settings | export | ...
    object_type VARCHAR,
    object_id   VARCHAR,
    details     JSON
);

-- Risk output (filled by akrim_analytics.risk). One scoring run = one run_id; the
-- latest run is the current picture, earlier runs keep past quarters reproducible.
CREATE TABLE risk_config_versions (
    version     INTEGER PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by  VARCHAR NOT NULL,
    config      JSON NOT NULL,
    note        VARCHAR
);

CREATE SEQUENCE risk_run_seq START 1;
CREATE TABLE risk_runs (
    run_id         INTEGER PRIMARY KEY DEFAULT nextval('risk_run_seq'),
    config_version INTEGER NOT NULL,
    data_version   INTEGER NOT NULL,
    as_of          DATE NOT NULL,             -- reference date ("today" for the assessment)
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by     VARCHAR NOT NULL
);

CREATE TABLE risk_assessments (
    run_id        INTEGER NOT NULL,
    entity_type   VARCHAR NOT NULL,           -- contract | supplier
    entity_id     VARCHAR NOT NULL,           -- contract_id, or supplier_id for suppliers
    supplier_id   VARCHAR,
    category      VARCHAR,
    department    VARCHAR,
    likelihood    INTEGER NOT NULL,           -- 1..5
    consequence   INTEGER NOT NULL,           -- 1..5
    level         VARCHAR NOT NULL,           -- lav | middels | høy
    required_step INTEGER NOT NULL,           -- 1 | 2 | 3 (deepest control the level calls for; 0 = not covered)
    covered       BOOLEAN NOT NULL,           -- covered by the wage regulation
    spend_12m     DECIMAL(18, 2),
    exposure      DECIMAL(18, 2),             -- NOK exposure used for prioritisation
    no_contract   BOOLEAN NOT NULL DEFAULT false,  -- supplier with spend but no registered contract
    PRIMARY KEY (run_id, entity_type, entity_id)
);

CREATE TABLE risk_factors (
    run_id         INTEGER NOT NULL,
    entity_type    VARCHAR NOT NULL,
    entity_id      VARCHAR NOT NULL,
    factor         VARCHAR NOT NULL,          -- indicator key, e.g. 'industry'
    dimension      VARCHAR NOT NULL,          -- likelihood | consequence
    points         DOUBLE NOT NULL,
    explanation_nb VARCHAR NOT NULL,
    explanation_en VARCHAR NOT NULL
);
