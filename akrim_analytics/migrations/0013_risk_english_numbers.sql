-- 0013: the English risk explanations write amounts, dates and points the way the rest
-- of the interface does in both languages: 1 234 567 kr, 31.12.2025, −0,3.
--
-- Until now they wrote NOK 1,234,567, 2025-12-31 and −0.3, so an English contract page
-- showed "10 730 954 kr" in its key figures and "NOK 10,730,954" in the line below, and
-- "−0,3" in the points column beside "−0.3 likelihood" in the explanation. The users
-- are Norwegian; the English interface translates the words, not the numbers. The
-- values stored with each line are unchanged: only the text written when read changes.

CREATE OR REPLACE MACRO risk_fill(pieces, fmts, a, tpls, lang) AS
    array_to_string(list_transform(range(1, len(pieces) + 1), lambda i:
        pieces[i] || CASE WHEN i > len(fmts) THEN ''
                          WHEN fmts[i] = 'nok' THEN format('{:t .0f}', CAST(a[i] AS DOUBLE)) || ' kr'
                          WHEN fmts[i] = 'date' THEN strftime(CAST(a[i] AS DATE), '%d.%m.%Y')
                          WHEN fmts[i] = 't' THEN tpls[CAST(a[i] AS INTEGER)][1]
                          WHEN fmts[i] = 'nb' OR fmts[i] = 'en' THEN CASE WHEN fmts[i] = lang THEN a[i] ELSE '' END
                          ELSE a[i] END), '');

CREATE OR REPLACE MACRO risk_points_en(p, dim) AS
    CASE WHEN p > 0 THEN '+' || replace(format('{:g}', CAST(p AS DOUBLE)), '.', ',')
         WHEN p < 0 THEN '−' || replace(format('{:g}', CAST(-p AS DOUBLE)), '.', ',')
         ELSE '±0' END
    || ' ' || CASE dim WHEN 'likelihood' THEN 'likelihood' ELSE 'consequence' END;
