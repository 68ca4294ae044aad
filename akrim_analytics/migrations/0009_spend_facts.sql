-- 0009: per-supplier spend facts (akrim_analytics.spendfacts), kept up to date from the
-- spend table so a risk re-score need not group every spend line again to find each
-- supplier's first invoice. Derived data: spendfacts.ensure() rebuilds it whenever the
-- state row does not match the spend table (empty here, so the first use fills it).
CREATE TABLE supplier_spend_facts (
    supplier_id    VARCHAR NOT NULL,
    first_posting  DATE NOT NULL     -- the supplier's earliest posting_date in spend
);

-- What the facts were computed from: the number of spend lines and the highest upload_id
-- among them (uploads only ever get higher ids, so newer lines are those above it).
CREATE TABLE supplier_spend_facts_state (
    spend_rows  BIGINT NOT NULL,
    max_upload  INTEGER
);
