-- 0002: the default spend taxonomy (domain.md §0, Bærum's "Kjøp på kategori") and the
-- rules that place a spend line in a category when the file has no category column:
-- supplier NACE code first (longest matching prefix), then the account (art), else
-- 'UKLASS'. Admins edit the rules; these rows are only the starting point.

INSERT INTO categories (code, name_nb, name_en, sort_order) VALUES
    ('BYGG',      'Bygg, anlegg og infrastruktur',           'Construction and infrastructure',        1),
    ('PERSONELL', 'Personell',                                'Personnel',                              2),
    ('IKT',       'IKT',                                      'ICT',                                    3),
    ('TRANSPORT', 'Transport og renovasjon',                  'Transport and waste',                    4),
    ('FORBRUK',   'Forbruksmateriell og utstyr',              'Consumables and equipment',              5),
    ('UKLASS',    'Uklassifisert',                            'Unclassified',                           6),
    ('ADMIN',     'Administrasjon og finansielle tjenester',  'Administration and financial services',  7),
    ('MAT',       'Mat og drikke',                            'Food and drink',                         8),
    ('KUNNSKAP',  'Kunnskap og undervisning',                 'Knowledge and teaching',                 9);

CREATE SEQUENCE category_rule_seq START 1;
CREATE TABLE category_rules (
    rule_id    INTEGER PRIMARY KEY DEFAULT nextval('category_rule_seq'),
    rule_type  VARCHAR NOT NULL CHECK (rule_type IN ('nace', 'account')),
    prefix     VARCHAR NOT NULL,      -- NACE 'NN' / 'NN.N' / 'NN.NN' / 'NN.NNN', or account prefix
    category   VARCHAR NOT NULL,      -- categories.code
    note       VARCHAR,
    updated_by VARCHAR NOT NULL DEFAULT 'system',
    updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (rule_type, prefix)
);

-- NACE (SN2007 and SN2025 share these prefixes; where they differ both are listed).
INSERT INTO category_rules (rule_type, prefix, category, note) VALUES
    ('nace', '41',    'BYGG',      'Oppføring av bygninger'),
    ('nace', '42',    'BYGG',      'Anleggsvirksomhet'),
    ('nace', '43',    'BYGG',      'Spesialisert bygge- og anleggsvirksomhet'),
    ('nace', '39',    'BYGG',      'Miljøsanering'),
    ('nace', '71.1',  'BYGG',      'Arkitekter og tekniske konsulenter'),
    ('nace', '81.1',  'BYGG',      'Kombinerte tjenester tilknyttet eiendomsdrift'),
    ('nace', '81.3',  'BYGG',      'Beplantning av hager og parkanlegg'),
    ('nace', '78',    'PERSONELL', 'Arbeidskrafttjenester (bemanning)'),
    ('nace', '81.2',  'PERSONELL', 'Rengjøringsvirksomhet'),
    ('nace', '80',    'PERSONELL', 'Vakttjenester'),
    ('nace', '86',    'PERSONELL', 'Helsetjenester'),
    ('nace', '87',    'PERSONELL', 'Pleie- og omsorgstjenester i institusjon'),
    ('nace', '88',    'PERSONELL', 'Sosiale omsorgstjenester uten botilbud'),
    ('nace', '62',    'IKT',       'Tjenester tilknyttet informasjonsteknologi'),
    ('nace', '63',    'IKT',       'Informasjonstjenester'),
    ('nace', '61',    'IKT',       'Telekommunikasjon'),
    ('nace', '58.2',  'IKT',       'Utgivelse av programvare'),
    ('nace', '26',    'IKT',       'Produksjon av datamaskiner og elektronikk'),
    ('nace', '46.5',  'IKT',       'Engroshandel med IKT-utstyr'),
    ('nace', '95.1',  'IKT',       'Reparasjon av datamaskiner og kommunikasjonsutstyr'),
    ('nace', '49',    'TRANSPORT', 'Landtransport'),
    ('nace', '52',    'TRANSPORT', 'Lagring og tjenester tilknyttet transport'),
    ('nace', '53',    'TRANSPORT', 'Post og distribusjon'),
    ('nace', '37',    'TRANSPORT', 'Oppsamling og behandling av avløpsvann'),
    ('nace', '38',    'TRANSPORT', 'Innsamling, behandling og disponering av avfall'),
    ('nace', '45',    'TRANSPORT', 'Handel med og reparasjon av motorvogner'),
    ('nace', '77.1',  'TRANSPORT', 'Utleie og leasing av motorvogner'),
    ('nace', '95.3',  'TRANSPORT', 'Reparasjon av motorvogner (SN2025)'),
    ('nace', '46',    'FORBRUK',   'Engroshandel'),
    ('nace', '47',    'FORBRUK',   'Detaljhandel'),
    ('nace', '13',    'FORBRUK',   'Produksjon av tekstiler'),
    ('nace', '14',    'FORBRUK',   'Produksjon av klær'),
    ('nace', '17',    'FORBRUK',   'Produksjon av papir'),
    ('nace', '18',    'FORBRUK',   'Trykking'),
    ('nace', '20',    'FORBRUK',   'Produksjon av kjemikalier'),
    ('nace', '21',    'FORBRUK',   'Produksjon av farmasøytiske råvarer og preparater'),
    ('nace', '22',    'FORBRUK',   'Produksjon av gummi- og plastprodukter'),
    ('nace', '25',    'FORBRUK',   'Produksjon av metallvarer'),
    ('nace', '27',    'FORBRUK',   'Produksjon av elektrisk utstyr'),
    ('nace', '28',    'FORBRUK',   'Produksjon av maskiner og utstyr'),
    ('nace', '31',    'FORBRUK',   'Produksjon av møbler'),
    ('nace', '32',    'FORBRUK',   'Annen industriproduksjon'),
    ('nace', '77.3',  'FORBRUK',   'Utleie av maskiner og utstyr'),
    ('nace', '46.3',  'MAT',       'Engroshandel med nærings- og nytelsesmidler'),
    ('nace', '47.11', 'MAT',       'Butikkhandel med hovedvekt på nærings- og nytelsesmidler'),
    ('nace', '47.2',  'MAT',       'Butikkhandel med nærings- og nytelsesmidler'),
    ('nace', '10',    'MAT',       'Produksjon av nærings- og nytelsesmidler'),
    ('nace', '11',    'MAT',       'Produksjon av drikkevarer'),
    ('nace', '56',    'MAT',       'Serveringsvirksomhet og catering'),
    ('nace', '64',    'ADMIN',     'Finansieringsvirksomhet'),
    ('nace', '65',    'ADMIN',     'Forsikringsvirksomhet'),
    ('nace', '66',    'ADMIN',     'Tjenester tilknyttet finansiering og forsikring'),
    ('nace', '69',    'ADMIN',     'Juridisk og regnskapsmessig tjenesteyting'),
    ('nace', '70',    'ADMIN',     'Hovedkontortjenester og administrativ rådgivning'),
    ('nace', '73',    'ADMIN',     'Annonse- og reklamevirksomhet, markedsundersøkelser'),
    ('nace', '74',    'ADMIN',     'Annen faglig, vitenskapelig og teknisk virksomhet'),
    ('nace', '82',    'ADMIN',     'Annen forretningsmessig tjenesteyting'),
    ('nace', '85',    'KUNNSKAP',  'Undervisning'),
    ('nace', '72',    'KUNNSKAP',  'Forskning og utviklingsarbeid'),
    ('nace', '58.1',  'KUNNSKAP',  'Utgivelse av bøker og tidsskrifter');

-- Accounts: Stavanger-style 5-digit art (kontoklasse 1 + KOSTRA art + local digit),
-- domain.md §3. Used only when the supplier's NACE code places nothing.
INSERT INTO category_rules (rule_type, prefix, category, note) VALUES
    ('account', '1100', 'FORBRUK',   'Kontormateriell (art 100)'),
    ('account', '1105', 'KUNNSKAP',  'Undervisningsmateriell (art 105)'),
    ('account', '1110', 'FORBRUK',   'Medisinsk forbruksmateriell (art 110)'),
    ('account', '1115', 'MAT',       'Matvarer (art 115)'),
    ('account', '1120', 'FORBRUK',   'Annet forbruksmateriell (art 120)'),
    ('account', '1130', 'IKT',       'Post, telefon, internett (art 130)'),
    ('account', '1150', 'KUNNSKAP',  'Opplæring, kurs (art 150)'),
    ('account', '1170', 'TRANSPORT', 'Transport og drift av egne transportmidler (art 170)'),
    ('account', '1200', 'FORBRUK',   'Inventar og utstyr (art 200)'),
    ('account', '1230', 'BYGG',      'Vedlikehold, byggetjenester og nybygg (art 230)'),
    ('account', '1240', 'BYGG',      'Serviceavtaler og reparasjoner (art 240)'),
    ('account', '1250', 'BYGG',      'Materialer til vedlikehold (art 250)'),
    ('account', '1260', 'PERSONELL', 'Renhold, vaskeri og vaktmester (art 260)'),
    ('account', '1271', 'ADMIN',     'Konsulenttjenester (art 271)'),
    ('account', '1272', 'ADMIN',     'Andre tjenester (art 272)'),
    ('account', '1020', 'PERSONELL', 'Vikarer (art 020, innleie)'),
    ('account', '1375', 'PERSONELL', 'Kjøp fra private (art 375)'),
    ('account', '1380', 'TRANSPORT', 'Kjøp fra IKS, f.eks. renovasjon (art 380)');
