-- 0011: a factor line names its entity by a number within its run, and its dimension by
-- a one-byte enum; ``risk_factors`` (the view) shows them exactly as before.
--
-- A full re-score writes some 220 000 factor lines for the 20 000-contract benchmark,
-- and writing (compressing) each line's entity type and id as text was a third of
-- that write. Each assessment now carries ``entity_no`` (1, 2, … within its run; a
-- new run numbers its entities in no set order), the lines refer to it, and the view
-- joins the assessment to show the entity's type and id. Lines of runs stored before
-- keep their entity: every stored assessment is numbered here, in entity type and id
-- order.

CREATE TYPE risk_dimension AS ENUM ('likelihood', 'consequence');

ALTER TABLE risk_assessments ADD COLUMN entity_no INTEGER;

UPDATE risk_assessments AS a SET entity_no = n.no
FROM (SELECT run_id, entity_type, entity_id,
             CAST(row_number() OVER (PARTITION BY run_id ORDER BY entity_type, entity_id) AS INTEGER) AS no
      FROM risk_assessments) AS n
WHERE n.run_id = a.run_id AND n.entity_type = a.entity_type AND n.entity_id = a.entity_id;

DROP VIEW risk_factors;

CREATE TABLE risk_factor_lines_0011 (
    run_id       INTEGER NOT NULL,
    entity_no    INTEGER NOT NULL,             -- risk_assessments.entity_no of the same run
    part         SMALLINT NOT NULL,            -- risk_factor_parts.part of the same run
    dimension    risk_dimension NOT NULL,
    points       DOUBLE NOT NULL,
    body_nb      VARCHAR NOT NULL,             -- the explanation without its points text
    body_en      VARCHAR NOT NULL,
    unknown      BOOLEAN NOT NULL DEFAULT false
);

INSERT INTO risk_factor_lines_0011 (run_id, entity_no, part, dimension, points, body_nb, body_en, unknown)
SELECT l.run_id, a.entity_no, l.part, CAST(l.dimension AS risk_dimension), l.points, l.body_nb, l.body_en, l.unknown
FROM risk_factor_lines l
JOIN risk_assessments a ON a.run_id = l.run_id AND a.entity_type = l.entity_type AND a.entity_id = l.entity_id
ORDER BY l.run_id, l.part;

DROP TABLE risk_factor_lines;
ALTER TABLE risk_factor_lines_0011 RENAME TO risk_factor_lines;

CREATE VIEW risk_factors AS
SELECT l.run_id, a.entity_type, a.entity_id, p.factor, CAST(l.dimension AS VARCHAR) AS dimension, l.points,
       CASE WHEN p.complete_text THEN l.body_nb
            ELSE l.body_nb || ': ' || risk_points_nb(l.points, CAST(l.dimension AS VARCHAR)) END AS explanation_nb,
       CASE WHEN p.complete_text THEN l.body_en
            ELSE l.body_en || ': ' || risk_points_en(l.points, CAST(l.dimension AS VARCHAR)) END AS explanation_en,
       l.unknown, p.source, p.sort_order
FROM risk_factor_lines l
JOIN risk_factor_parts p ON p.run_id = l.run_id AND p.part = l.part
JOIN risk_assessments a ON a.run_id = l.run_id AND a.entity_no = l.entity_no;
