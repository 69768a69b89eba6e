"""The exception tree is built from the engine's error table: every ErrorKind has a class
under cidb.Error that also derives from the table's builtin base, and a core error of each
kind reaches Python as that class with its message intact."""

from __future__ import annotations

import builtins
import pickle

import pytest

import cidb
from cidb import _cidb

TABLE = _cidb._error_table()


def test_table_is_complete_and_unique() -> None:
    assert len(TABLE) >= 26
    assert len({r["python_class"] for r in TABLE}) == len(TABLE)
    assert len({r["kind"] for r in TABLE}) == len(TABLE)
    assert [r["c_status"] for r in TABLE] == list(range(1, len(TABLE) + 1))


@pytest.mark.parametrize("row", TABLE, ids=[r["python_class"] for r in TABLE])
def test_every_kind_has_its_class(row: dict[str, object]) -> None:
    cls = getattr(cidb, str(row["python_class"]))
    assert cls is getattr(_cidb, str(row["python_class"]))
    assert issubclass(cls, cidb.Error) and issubclass(cls, Exception)
    if row["python_base"]:
        assert issubclass(cls, getattr(builtins, str(row["python_base"])))
    else:
        assert cls.__bases__ == (cidb.Error,)
    assert cls.kind == row["kind"] and cls.c_status == row["c_status"]
    assert cls.__module__ == "cidb" and cls.__name__ == row["python_class"]
    assert cls.__doc__ and str(row["kind"]) in cls.__doc__
    assert str(row["python_class"]) in _cidb.__all__


@pytest.mark.parametrize("row", TABLE, ids=[r["python_class"] for r in TABLE])
def test_core_error_of_each_kind_raises_its_class_with_message(row: dict[str, object]) -> None:
    cls = getattr(cidb, str(row["python_class"]))
    msg = f"something about {row['kind']} went wrong: é ✓"
    with pytest.raises(cls) as e:
        _cidb._raise_error(str(row["kind"]), msg)
    assert type(e.value) is cls
    assert e.value.args == (msg,)
    assert e.value.kind == row["kind"]
    # catchable as the builtin a Python user would reach for
    if row["python_base"]:
        with pytest.raises(getattr(builtins, str(row["python_base"]))):
            _cidb._raise_error(str(row["kind"]), msg)
    with pytest.raises(cidb.Error):
        _cidb._raise_error(str(row["kind"]), msg)


def test_specific_bases_from_the_brief() -> None:
    assert issubclass(cidb.NotFoundError, KeyError)
    for name in ("InvalidIdError", "InvalidScoreError", "InvalidRoleError", "InvalidAttributesError",
                 "ContentTooLargeError", "InvalidTimestampError"):
        assert issubclass(getattr(cidb, name), ValueError), name
    assert issubclass(cidb.AlreadyOpenError, OSError)
    assert cidb.Error.__bases__ == (Exception,)
    assert cidb.Error.kind is None


def test_errors_pickle_by_name() -> None:
    err = cidb.InvalidScoreError("score is NaN")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cidb.InvalidScoreError and back.args == err.args


def test_raise_error_rejects_unknown_kind() -> None:
    with pytest.raises(cidb.InvalidInputError, match="unknown error kind"):
        _cidb._raise_error("no_such_kind", "x")


def test_messages_from_the_engine_are_kept(tmp_path: object) -> None:
    with cidb.open(tmp_path) as db:  # type: ignore[arg-type]
        t = db.tenant("t")
        with pytest.raises(cidb.InvalidScoreError) as e:
            t.add_score(customer_id="c", score_type="s", score=1.5, confidence=0.5)
        assert str(e.value) == "score is 1.5; it must be in [0, 1]"
