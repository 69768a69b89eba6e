"""Configuration: cidb.open(path, profile=, config=) and cidb.config() load it as the core
does (profile, machine, TOML file, CIDB_* environment, each overriding the one before),
report each value's source, and reject bad input with ConfigError. Also Engine.backup."""

from __future__ import annotations

from pathlib import Path

import pytest

import cidb

KEYS = [
    "profile", "l1_max_items", "l1_max_bytes", "max_content_bytes", "seed_indexes", "group_commit_max_batch",
    "group_commit_window_ms", "breaker_threshold", "breaker_window_ms", "breaker_cooldown_ms",
    "sweep_interval_ms", "background_workers", "feed_retention_ms", "feed_queue_capacity", "verify_on_open",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("CIDB_"):
            monkeypatch.delenv(k)


def settings(**kwargs: object) -> dict[str, tuple[str, str]]:
    return {s["key"]: (s["value"], s["source"]) for s in cidb.config(**kwargs)}  # type: ignore[arg-type]


def test_defaults() -> None:
    rows = cidb.config()
    keys = [r["key"] for r in rows]
    assert keys[: len(KEYS)] == KEYS, "the documented keys come first, in order"
    assert len(set(keys)) == len(keys)
    s = settings()
    assert s["profile"] == ("development", "default")
    assert s["l1_max_items"] == ("1000", "profile:development")
    assert s["background_workers"][1] == "machine"
    assert settings(profile="production")["l1_max_items"] == ("10000", "profile:production")
    assert settings(profile="production")["profile"] == ("production", "argument")
    # redb's page cache: 1 GiB / 4 GiB, or a quarter of memory where that is less ("machine").
    dev, prod = s["page_cache_bytes"], settings(profile="production")["page_cache_bytes"]
    assert dev == (str(1 << 30), "profile:development") or dev[1] == "machine"
    assert prod == (str(4 << 30), "profile:production") or (prod[1] == "machine" and int(prod[0]) < 4 << 30)
    # The redo log is on by default; the environment turns it off.
    assert s["redo_log"] == ("true", "profile:development")


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "cidb.toml"
    f.write_text('profile = "production"\nl1_max_items = 123\nsweep_interval_ms = 500\n')
    s = settings(config=f)
    assert s["profile"] == ("production", f"file:{f}")
    assert s["l1_max_items"] == ("123", f"file:{f}")
    assert s["breaker_threshold"] == ("5", "profile:production")
    monkeypatch.setenv("CIDB_SWEEP_INTERVAL_MS", "250")
    monkeypatch.setenv("CIDB_REDO_LOG", "false")
    s = settings(config=str(f))
    assert s["sweep_interval_ms"] == ("250", "env:CIDB_SWEEP_INTERVAL_MS")
    assert s["redo_log"] == ("false", "env:CIDB_REDO_LOG")
    assert s["l1_max_items"] == ("123", f"file:{f}")
    monkeypatch.setenv("CIDB_PROFILE", "development")  # the environment wins over the argument
    assert settings(profile="production")["profile"] == ("development", "env:CIDB_PROFILE")


def test_open_applies_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "cidb.toml"
    f.write_text('profile = "production"\nmax_content_bytes = 10\n')
    with cidb.open(tmp_path / "db", config=f) as db:
        assert db.profile == "production"
        t = db.tenant("t")
        t.append_message(customer_id="c", conversation_id="k", role="user", content="x" * 10)
        with pytest.raises(cidb.ContentTooLargeError):
            t.append_message(customer_id="c", conversation_id="k", role="user", content="x" * 11)
    monkeypatch.setenv("CIDB_MAX_CONTENT_BYTES", "3")
    with cidb.open(tmp_path / "db", profile="production") as db:
        with pytest.raises(cidb.ContentTooLargeError):
            db.tenant("t").append_message(customer_id="c", conversation_id="k", role="user", content="four")
    with cidb.open(tmp_path / "db") as db:
        assert db.profile == "development"


def test_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db"
    bad = tmp_path / "small.toml"
    bad.write_text("page_cache_bytes = 4096\n")
    with pytest.raises(cidb.ConfigError, match="page_cache_bytes.*1 MiB"):
        cidb.open(db, config=bad)
    with pytest.raises(cidb.ConfigError, match="unknown profile"):
        cidb.open(db, profile="staging")
    with pytest.raises(cidb.ConfigError, match="unknown profile"):
        cidb.config(profile="staging")
    with pytest.raises(cidb.ConfigError, match="cannot read"):
        cidb.open(db, config=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [")
    with pytest.raises(cidb.ConfigError, match="not valid TOML"):
        cidb.config(config=bad)
    bad.write_text("colour = 1\n")
    with pytest.raises(cidb.ConfigError, match="colour"):
        cidb.open(db, config=bad)
    bad.write_text("l1_max_items = -5\n")
    with pytest.raises(ValueError, match="l1_max_items"):  # ConfigError is a ValueError
        cidb.config(config=bad)
    monkeypatch.setenv("CIDB_L1_MAX_ITEMS", "lots")
    with pytest.raises(cidb.ConfigError, match="env:CIDB_L1_MAX_ITEMS"):
        cidb.open(db)
    monkeypatch.delenv("CIDB_L1_MAX_ITEMS")
    with pytest.raises(TypeError):
        cidb.open(db, profile=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cidb.config(config=1)  # type: ignore[arg-type]
    assert not db.exists()  # nothing was opened


def test_backup(db: cidb.Engine, acme: cidb.Tenant, tmp_path: Path) -> None:
    acme.upsert_customers([{"id": f"c{i}"} for i in range(20)])
    acme.append_message(customer_id="c1", conversation_id="k", role="user", content="hi")
    acme.update_context("k", [{"role": "user", "content": "x"}], ttl=3600)
    report = db.backup(tmp_path / "copy")
    assert set(report) == {"tables", "entries", "bytes"}
    assert report["entries"] >= 22 and report["bytes"] > 0 and report["tables"] > 0
    acme.upsert_customer(id="after-backup")
    with cidb.open(tmp_path / "copy") as copy:
        t = copy.tenant("acme")
        assert t.count_customers() == 20
        assert t.get_customer("after-backup") is None
        assert [m["content"] for m in t.messages_for_conversation("k")] == ["hi"]
        assert t.get_context("k") is not None
    with pytest.raises(cidb.AlreadyExistsError, match="already holds a database"):
        db.backup(tmp_path / "copy")
    db.close()
    with pytest.raises(cidb.ClosedError):
        db.backup(tmp_path / "copy2")
