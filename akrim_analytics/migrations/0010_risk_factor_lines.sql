-- 0010: the factor lines of a risk run are stored lean, and ``risk_factors`` becomes a view
-- that shows them exactly as before.
--
-- A full re-score writes some 220 000 lines for the 20 000-contract benchmark; writing
-- (compressing) them was the largest part of its time. Two things each line carried are
-- now kept once or made when read:
-- * the factor key, display order and source are the same for every line of one
--   indicator part: ``risk_factor_parts`` holds them once per run and part;
-- * the points text at the end of an explanation ("+2 sannsynlighet") is made from the
--   line's own points and dimension by the macros below when the view is read, so the
--   text shown can never disagree with the number the score was computed from.
-- Lines written before this migration keep their whole text (``complete_text``).

CREATE MACRO risk_points_nb(p, dim) AS
    CASE WHEN p > 0 THEN '+' || replace(format('{:g}', CAST(p AS DOUBLE)), '.', ',')
         WHEN p < 0 THEN '−' || replace(format('{:g}', CAST(-p AS DOUBLE)), '.', ',')
         ELSE '±0' END
    || ' ' || CASE dim WHEN 'likelihood' THEN 'sannsynlighet' ELSE 'konsekvens' END;

CREATE MACRO risk_points_en(p, dim) AS
    CASE WHEN p > 0 THEN '+' || format('{:g}', CAST(p AS DOUBLE))
         WHEN p < 0 THEN '−' || format('{:g}', CAST(-p AS DOUBLE))
         ELSE '±0' END
    || ' ' || CASE dim WHEN 'likelihood' THEN 'likelihood' ELSE 'consequence' END;

CREATE TABLE risk_factor_parts (
    run_id         INTEGER NOT NULL,
    part           SMALLINT NOT NULL,          -- one indicator query of the run (1, 2, …)
    factor         VARCHAR NOT NULL,           -- indicator key, e.g. 'industry'
    sort_order     INTEGER,                    -- the indicator's place in the registry
    source         VARCHAR,                    -- its section of domain.md
    complete_text  BOOLEAN NOT NULL DEFAULT false  -- the lines hold the whole explanation
);

CREATE TABLE risk_factor_lines (
    run_id       INTEGER NOT NULL,
    entity_type  VARCHAR NOT NULL,
    entity_id    VARCHAR NOT NULL,
    part         SMALLINT NOT NULL,
    dimension    VARCHAR NOT NULL,             -- likelihood | consequence
    points       DOUBLE NOT NULL,
    body_nb      VARCHAR NOT NULL,             -- the explanation without its points text
    body_en      VARCHAR NOT NULL,
    unknown      BOOLEAN NOT NULL DEFAULT false
);

INSERT INTO risk_factor_parts (run_id, part, factor, sort_order, source, complete_text)
SELECT run_id, row_number() OVER (PARTITION BY run_id ORDER BY sort_order, factor, source), factor, sort_order,
       source, true
FROM (SELECT DISTINCT run_id, factor, sort_order, source FROM risk_factors);

INSERT INTO risk_factor_lines (run_id, entity_type, entity_id, part, dimension, points, body_nb, body_en, unknown)
SELECT f.run_id, f.entity_type, f.entity_id, p.part, f.dimension, f.points, f.explanation_nb, f.explanation_en,
       coalesce(f.unknown, false)
FROM risk_factors f
JOIN risk_factor_parts p ON p.run_id = f.run_id AND p.factor = f.factor
                        AND p.sort_order IS NOT DISTINCT FROM f.sort_order AND p.source IS NOT DISTINCT FROM f.source
ORDER BY f.run_id, p.part;

DROP TABLE risk_factors;

CREATE VIEW risk_factors AS
SELECT l.run_id, l.entity_type, l.entity_id, p.factor, l.dimension, l.points,
       CASE WHEN p.complete_text THEN l.body_nb ELSE l.body_nb || ': ' || risk_points_nb(l.points, l.dimension) END
           AS explanation_nb,
       CASE WHEN p.complete_text THEN l.body_en ELSE l.body_en || ': ' || risk_points_en(l.points, l.dimension) END
           AS explanation_en,
       l.unknown, p.source, p.sort_order
FROM risk_factor_lines l
JOIN risk_factor_parts p ON p.run_id = l.run_id AND p.part = l.part;
