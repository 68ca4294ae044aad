"""Who is acting, and what each role may do.

Every write function in the core takes a ``User`` and calls ``require`` before it
touches the database: hiding a page is not a check.

Roles, each including the one before: leder (read dashboards and reports) <
analytiker (also upload, undo own uploads, edit contracts and the control log) <
admin (also settings, users, undo any upload).
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("leder", "analytiker", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}


class PermissionDenied(Exception):
    """The user's role does not allow the action."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str | None = None

    def __post_init__(self):
        if self.role not in _RANK:
            raise ValueError(f"unknown role {self.role!r}")

    def has(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


# The account used by the demo generator and by command-line tools run by the
# operator on the server itself (they already hold the database file).
SYSTEM = User("system", "admin", "System")


def require(user: User | None, role: str, action: str = "") -> User:
    """Raise PermissionDenied unless ``user`` holds ``role`` (or a higher one)."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}")
    if user is None or not isinstance(user, User) or not user.has(role):
        who = user.username if isinstance(user, User) else "anonymous"
        raise PermissionDenied(f"{who} may not {action or 'do this'} (needs role {role})")
    return user
