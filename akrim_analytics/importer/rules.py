"""Category rules (admin): add, edit and delete the rules that place spend lines in a
category when the file has no category column, and see what no rule places.

Every change re-categorises all spend in the same transaction (lines whose category
came from the file keep it), is audit-logged and bumps the data version."""
from __future__ import annotations

import re

import duckdb

from .. import audit, auth, categorize, db, hooks
from .errors import ImportRefused

RULE_TYPES = ("nace", "account")
NACE_PREFIX_RE = re.compile(r"^\d{2}(\.\d{1,3})?$")
ACCOUNT_PREFIX_RE = re.compile(r"^[0-9A-Za-z]{1,12}$")


def list_rules(con: duckdb.DuckDBPyConnection):
    """All rules with how much 2-year spend each decides now (lines, amount)."""
    return con.execute(
        """SELECT r.rule_id, r.rule_type, r.prefix, r.category, c.name_nb, c.name_en, r.note,
                  r.updated_by, r.updated_at
           FROM category_rules r LEFT JOIN categories c ON c.code = r.category
           ORDER BY r.rule_type DESC, r.prefix""").df()


def _validate(con, rule_type: str, prefix: str, category: str) -> tuple[str, str, str]:
    rule_type = (rule_type or "").strip().lower()
    prefix = (prefix or "").strip()
    category = (category or "").strip()
    if rule_type not in RULE_TYPES:
        raise ImportRefused("rule_type_invalid", rule_type=rule_type)
    if rule_type == "nace" and not NACE_PREFIX_RE.match(prefix):
        raise ImportRefused("rule_prefix_invalid_nace", prefix=prefix)
    if rule_type == "account" and not ACCOUNT_PREFIX_RE.match(prefix):
        raise ImportRefused("rule_prefix_invalid_account", prefix=prefix)
    if not con.execute("SELECT count(*) FROM categories WHERE code = ?", [category]).fetchone()[0]:
        raise ImportRefused("rule_category_invalid", category=category)
    return rule_type, prefix, category


def _after_change(con, user, action, rule_id, details) -> None:
    categorize.categorize(con)
    audit.log(con, user, action, "category_rule", rule_id, details)
    db.bump_data_version(con)
    hooks.data_changed(con, user, "category_rules")


def add_rule(con: duckdb.DuckDBPyConnection, user: auth.User, rule_type: str, prefix: str, category: str,
             note: str | None = None) -> int:
    auth.require(user, "admin", "add a category rule")
    with db.transaction(con):
        rule_type, prefix, category = _validate(con, rule_type, prefix, category)
        if con.execute("SELECT count(*) FROM category_rules WHERE rule_type = ? AND prefix = ?",
                       [rule_type, prefix]).fetchone()[0]:
            raise ImportRefused("rule_exists", rule_type=rule_type, prefix=prefix)
        rule_id = con.execute(
            """INSERT INTO category_rules (rule_type, prefix, category, note, updated_by)
               VALUES (?, ?, ?, ?, ?) RETURNING rule_id""",
            [rule_type, prefix, category, note or None, user.username]).fetchone()[0]
        _after_change(con, user, "rule_add", rule_id,
                      {"rule_type": rule_type, "prefix": prefix, "category": category, "note": note})
    return rule_id


def update_rule(con: duckdb.DuckDBPyConnection, user: auth.User, rule_id: int, *, prefix: str | None = None,
                category: str | None = None, note: str | None = None, rule_type: str | None = None) -> None:
    auth.require(user, "admin", "edit a category rule")
    with db.transaction(con):
        old = con.execute("SELECT rule_type, prefix, category, note FROM category_rules WHERE rule_id = ?",
                          [rule_id]).fetchone()
        if old is None:
            raise ImportRefused("rule_not_found", rule_id=rule_id)
        new_type, new_prefix, new_cat = _validate(
            con, rule_type if rule_type is not None else old[0], prefix if prefix is not None else old[1],
            category if category is not None else old[2])
        new_note = note if note is not None else old[3]
        if con.execute("SELECT count(*) FROM category_rules WHERE rule_type = ? AND prefix = ? AND rule_id <> ?",
                       [new_type, new_prefix, rule_id]).fetchone()[0]:
            raise ImportRefused("rule_exists", rule_type=new_type, prefix=new_prefix)
        con.execute(
            """UPDATE category_rules SET rule_type = ?, prefix = ?, category = ?, note = ?, updated_by = ?,
                      updated_at = current_timestamp WHERE rule_id = ?""",
            [new_type, new_prefix, new_cat, new_note or None, user.username, rule_id])
        _after_change(con, user, "rule_edit", rule_id, {
            "before": {"rule_type": old[0], "prefix": old[1], "category": old[2], "note": old[3]},
            "after": {"rule_type": new_type, "prefix": new_prefix, "category": new_cat, "note": new_note}})


def delete_rule(con: duckdb.DuckDBPyConnection, user: auth.User, rule_id: int) -> None:
    auth.require(user, "admin", "delete a category rule")
    with db.transaction(con):
        old = con.execute("SELECT rule_type, prefix, category, note FROM category_rules WHERE rule_id = ?",
                          [rule_id]).fetchone()
        if old is None:
            raise ImportRefused("rule_not_found", rule_id=rule_id)
        con.execute("DELETE FROM category_rules WHERE rule_id = ?", [rule_id])
        _after_change(con, user, "rule_delete", rule_id,
                      {"rule_type": old[0], "prefix": old[1], "category": old[2], "note": old[3]})


def unclassified_summary(con: duckdb.DuckDBPyConnection, year: int | None = None) -> dict:
    """The unclassified share of spend (by amount), overall and for ``year`` (default:
    the latest year with spend), with the suppliers and accounts that carry most of it."""
    if year is None:
        year = con.execute("SELECT max(year(posting_date)) FROM spend").fetchone()[0]
    row = con.execute(
        """SELECT coalesce(sum(amount) FILTER (WHERE category = ?), 0), coalesce(sum(amount), 0),
                  count(*) FILTER (WHERE category = ?), count(*)
           FROM spend WHERE ? IS NULL OR year(posting_date) = ?""",
        [categorize.UNCLASSIFIED, categorize.UNCLASSIFIED, year, year]).fetchone()
    top_suppliers = con.execute(
        """SELECT s.supplier_id, sup.name, sup.nace_code, sum(s.amount) AS amount, count(*) AS lines
           FROM spend s LEFT JOIN suppliers sup ON sup.supplier_id = s.supplier_id
           WHERE s.category = ? AND (? IS NULL OR year(s.posting_date) = ?)
           GROUP BY ALL ORDER BY amount DESC LIMIT 15""",
        [categorize.UNCLASSIFIED, year, year]).df()
    top_accounts = con.execute(
        """SELECT account, sum(amount) AS amount, count(*) AS lines FROM spend
           WHERE category = ? AND (? IS NULL OR year(posting_date) = ?)
           GROUP BY ALL ORDER BY amount DESC LIMIT 15""",
        [categorize.UNCLASSIFIED, year, year]).df()
    total = float(row[1])
    return {"year": year, "unclassified": float(row[0]), "total": total,
            "share": float(row[0]) / total if total else 0.0, "lines": int(row[2]), "all_lines": int(row[3]),
            "top_suppliers": top_suppliers, "top_accounts": top_accounts}
