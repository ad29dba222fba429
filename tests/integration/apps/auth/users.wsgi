"""User database for WSGIAuthUserScript / WSGIAuthGroupScript tests.

Names and passwords arrive decoded as latin-1 (bytes on the wire, whatever they are).
"""
import hashlib

USERS = {
    b"alice": b"secret",
    b"bob": b"hunter2",
    b"\xff\xfeodd": b"p\xe9ss",  # neither is valid UTF-8
}
GROUPS = {b"alice": ["admins", "staff"], b"bob": ["staff"]}


def _raw(text):
    return text.encode("latin-1")


def check_password(environ, user, password):
    if user == "raise":
        raise RuntimeError("user database unavailable")
    if user == "weird":
        return 42
    if user == "nameless":
        return ""
    stored = USERS.get(_raw(user))
    if stored is None:
        return None
    return stored == _raw(password)


def get_realm_hash(environ, user, realm):
    stored = USERS.get(_raw(user))
    if stored is None:
        return None
    return hashlib.md5(_raw(user) + b":" + _raw(realm) + b":" + stored).hexdigest()


def groups_for_user(environ, user):
    if user == "bob" and environ.get("HTTP_X_BREAK_GROUPS"):
        raise RuntimeError("group database unavailable")
    return GROUPS.get(_raw(user), [])
