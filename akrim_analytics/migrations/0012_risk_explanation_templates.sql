-- 0012: a factor line stores which explanation template it uses and the values that
-- fill it; the view writes the Norwegian and English text when it is read.
--
-- Until now every line stored its whole explanation twice (nb and en, ~150 bytes a
-- line); most of it is the template's fixed text, the same on thousands of lines.
-- A run now stores each indicator's templates once, on its parts
-- (``risk_factor_parts.tpl_nb`` / ``tpl_en``: per template the fixed pieces between
-- its values; ``tpl_fmt``: per value how it is shown), and each line only its
-- template number (``tpl``) and values (``a1`` … ``a6``, as text: amounts and dates plain,
-- formatted per language here, as the engine's macros did). ``risk_fill`` writes the
-- text: piece, value, piece, …; a value of format 't' is the number of a fixed text of
-- the same part (e.g. "tjenestekontrakt"), one of format 'nb' or 'en' is shown only in
-- that language (e.g. an industry's name from the settings). Lines written before keep their stored
-- text (``body_nb`` / ``body_en``), which the view prefers.

ALTER TABLE risk_factor_parts ADD COLUMN tpl_nb VARCHAR[][];
ALTER TABLE risk_factor_parts ADD COLUMN tpl_en VARCHAR[][];
ALTER TABLE risk_factor_parts ADD COLUMN tpl_fmt VARCHAR[][];

ALTER TABLE risk_factor_lines ADD COLUMN tpl SMALLINT;
ALTER TABLE risk_factor_lines ADD COLUMN a1 VARCHAR;
ALTER TABLE risk_factor_lines ADD COLUMN a2 VARCHAR;
ALTER TABLE risk_factor_lines ADD COLUMN a3 VARCHAR;
ALTER TABLE risk_factor_lines ADD COLUMN a4 VARCHAR;
ALTER TABLE risk_factor_lines ADD COLUMN a5 VARCHAR;
ALTER TABLE risk_factor_lines ADD COLUMN a6 VARCHAR;
ALTER TABLE risk_factor_lines ALTER COLUMN body_nb DROP NOT NULL;
ALTER TABLE risk_factor_lines ALTER COLUMN body_en DROP NOT NULL;

CREATE MACRO risk_fill(pieces, fmts, a, tpls, lang) AS
    array_to_string(list_transform(range(1, len(pieces) + 1), lambda i:
        pieces[i] || CASE WHEN i > len(fmts) THEN ''
                          WHEN fmts[i] = 'nok' THEN
                              CASE WHEN lang = 'nb' THEN format('{:t .0f}', CAST(a[i] AS DOUBLE)) || ' kr'
                                   ELSE 'NOK ' || format('{:,.0f}', CAST(a[i] AS DOUBLE)) END
                          WHEN fmts[i] = 'date' THEN
                              strftime(CAST(a[i] AS DATE), CASE WHEN lang = 'nb' THEN '%d.%m.%Y' ELSE '%Y-%m-%d' END)
                          WHEN fmts[i] = 't' THEN tpls[CAST(a[i] AS INTEGER)][1]
                          WHEN fmts[i] = 'nb' OR fmts[i] = 'en' THEN CASE WHEN fmts[i] = lang THEN a[i] ELSE '' END
                          ELSE a[i] END), '');

DROP VIEW risk_factors;

CREATE VIEW risk_factors AS
SELECT run_id, entity_type, entity_id, factor, dimension, points,
       CASE WHEN complete_text THEN body_nb ELSE body_nb || ': ' || risk_points_nb(points, dimension) END
           AS explanation_nb,
       CASE WHEN complete_text THEN body_en ELSE body_en || ': ' || risk_points_en(points, dimension) END
           AS explanation_en,
       unknown, source, sort_order
FROM (SELECT l.run_id, a.entity_type, a.entity_id, p.factor, CAST(l.dimension AS VARCHAR) AS dimension, l.points,
             coalesce(l.body_nb, risk_fill(p.tpl_nb[l.tpl], p.tpl_fmt[l.tpl], [l.a1, l.a2, l.a3, l.a4, l.a5, l.a6], p.tpl_nb, 'nb')) AS body_nb,
             coalesce(l.body_en, risk_fill(p.tpl_en[l.tpl], p.tpl_fmt[l.tpl], [l.a1, l.a2, l.a3, l.a4, l.a5, l.a6], p.tpl_en, 'en')) AS body_en,
             l.unknown, p.source, p.sort_order, p.complete_text
      FROM risk_factor_lines l
      JOIN risk_factor_parts p ON p.run_id = l.run_id AND p.part = l.part
      JOIN risk_assessments a ON a.run_id = l.run_id AND a.entity_no = l.entity_no);
