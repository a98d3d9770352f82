"""Written by `host build`; do not edit. The Python SDK of pgwasm migrations:
thin helpers over the generated `wit_world` bindings.

A revision's class derives from `pgwasm.Revision`: while its upgrade or
downgrade runs, an audit hook writes every attempt to open a file to the
host's log (the sandbox gives a revision no file system, and an operator
should see when a revision tries to use one).
"""

import sys

import wit_world

from componentize_py_types import Err
from wit_world.imports import context, sql
from wit_world.imports.types import Level, RevisionInfo, Value_Int4, Value_Int8, Value_Null, Value_Text, Value_TextArray

__all__ = [
    "Err", "Level", "RevisionInfo", "Value_Int4", "Value_Int8", "Value_Null", "Value_Text", "Value_TextArray",
    "Revision", "batch", "execute", "execute_many", "info", "log", "query",
]


def _failed(statement, e):
    return Err(f"{statement}: {e.value.sqlstate} {e.value.message}")


def execute(statement, params=()):
    """Runs one statement with $1-style parameters; returns the affected row count."""
    try:
        return sql.execute(statement, list(params))
    except Err as e:
        raise _failed(statement, e)


def query(statement, params=()):
    """Runs a query; returns its rows as lists of values (`.value` holds the Python value)."""
    try:
        return sql.query(statement, list(params)).values
    except Err as e:
        raise _failed(statement, e)


def batch(script):
    """Runs statements without parameters (DDL)."""
    try:
        sql.batch(script)
    except Err as e:
        raise _failed(script, e)


def execute_many(statement, rows):
    """Runs one statement per parameter row, pipelined; returns the total affected count."""
    try:
        return sql.execute_many(statement, [list(r) for r in rows])
    except Err as e:
        raise _failed(statement, e)


def log(message, level=Level.INFO):
    """Writes a line to the host's log."""
    context.log(level, message)


def info(id, down_revisions, message, transactional=True):
    """The answer of `info()`."""
    return RevisionInfo(
        id=id,
        down_revisions=list(down_revisions),
        branch_labels=[],
        depends_on=[],
        message=message,
        transactional=transactional,
    )


def _audit(event, args):
    if event == "open":
        context.log(Level.WARN, f"sandbox: the revision tried to open {args[0]}; there is no file system")


_watching = False


def _watch_files():
    # Installed on the first call, not at import: componentize-py imports the
    # module at build time, when the host's log is not there.
    global _watching
    if not _watching:
        sys.addaudithook(_audit)
        _watching = True


class Revision(wit_world.WitWorld):
    """Base class of a revision: implement info(), upgrade() and downgrade()."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("upgrade", "downgrade"):
            method = cls.__dict__.get(name)
            if method is not None:
                def watched(self, _method=method):
                    _watch_files()
                    return _method(self)

                watched.__doc__ = method.__doc__
                setattr(cls, name, watched)
