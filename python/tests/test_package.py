"""The installed package: metadata, typing marker, public names and docstrings."""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path

import cidb
from cidb import _cidb


def test_metadata() -> None:
    meta = importlib.metadata.metadata("cidb")
    assert meta["Version"] == "0.1.0" == cidb.__version__
    assert meta["License-Expression"] == "Apache-2.0" or meta["License"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.10"
    body = meta.get_payload()  # type: ignore[attr-defined]
    assert "embedded customer-intelligence data engine" in body


def test_typed_package_files_are_installed() -> None:
    pkg = Path(cidb.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_cidb.pyi").is_file()
    assert (pkg / "types.py").is_file()


def test_public_names() -> None:
    assert set(_cidb.__all__) <= set(dir(cidb))
    for name in _cidb.__all__:
        assert getattr(cidb, name) is getattr(_cidb, name)
    assert cidb.open is _cidb.open and cidb.config is _cidb.config
    for cls in (cidb.Engine, cidb.Tenant, cidb.Cache, cidb.Subscription):
        assert cls.__module__ == "cidb"


def test_every_public_function_has_a_docstring() -> None:
    assert cidb.__doc__ and cidb.open.__doc__ and cidb.config.__doc__
    for cls in (cidb.Engine, cidb.Tenant, cidb.Cache, cidb.Subscription):
        assert cls.__doc__, cls
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and name not in ("__enter__", "__exit__"):
                continue
            assert member.__doc__, f"{cls.__name__}.{name} has no docstring"
