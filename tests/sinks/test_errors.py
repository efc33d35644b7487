"""The storage error classifier: transient (pause and retry) or permanent (stop loudly)."""

from __future__ import annotations

import pytest

from sinks.errors import classify, code_of
from sinks.store import StoreError, StoreUnavailable, engine_error

TRANSIENT = [
    # chDB's own texts (code in the message), as the engine words them
    (
        "chDB insert into clicks_minute: Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. "
        "(NOT_ENOUGH_SPACE)",
        None,
        "NOT_ENOUGH_SPACE",
    ),
    (
        "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than "
        "inserts. (TOO_MANY_PARTS)",
        None,
        "TOO_MANY_PARTS",
    ),
    (
        "Code: 241. DB::Exception: Memory limit (total) exceeded: would use 3.50 GiB. (MEMORY_LIMIT_EXCEEDED)",
        None,
        "MEMORY_LIMIT_EXCEEDED",
    ),
    ("Code: 159. DB::Exception: Timeout exceeded: elapsed 30 seconds. (TIMEOUT_EXCEEDED)", None, "TIMEOUT_EXCEEDED"),
    # the server's exceptions carry the code apart (clickhouse-driver's ServerException.code)
    ("DB::Exception: Cannot reserve 1.00 MiB, not enough space", 243, "NOT_ENOUGH_SPACE"),
    ("DB::Exception: Too many parts (300)", 252, "TOO_MANY_PARTS"),
    # OS errors inside the engine, with a code that says little or none
    (
        "Code: 1001. DB::Exception: std::exception. Code: 1001, type: std::__1::system_error, "
        "e.what() = No space left on device",
        None,
        "NO_SPACE_LEFT_ON_DEVICE",
    ),
    ("Cannot write to file /data/tmp_insert_x/data.bin: Disk quota exceeded", None, "DISK_QUOTA_EXCEEDED"),
]
PERMANENT = [
    ("Code: 60. DB::Exception: Table edu.clicks_minutes does not exist. (UNKNOWN_TABLE)", None, "UNKNOWN_TABLE"),
    (
        "Code: 16. DB::Exception: No such column clickz in table edu.clicks_minute. (NO_SUCH_COLUMN_IN_TABLE)",
        None,
        "NO_SUCH_COLUMN_IN_TABLE",
    ),
    ("Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR)", None, "SYNTAX_ERROR"),
    ("DB::Exception: Type mismatch in IN or VALUES section", 53, "TYPE_MISMATCH"),
    ("DB::Exception: Missing columns: 'clickz'", 47, "UNKNOWN_IDENTIFIER"),
    ("DB::Exception: something nobody has seen before", None, "UNCLASSIFIED"),
]


@pytest.mark.parametrize(("message", "code", "name"), TRANSIENT)
def test_resource_and_transient_errors_are_retried(message: str, code: int | None, name: str) -> None:
    c = classify(message, code)
    assert (c.kind, c.name) == ("transient", name)
    assert isinstance(engine_error(message, code), StoreUnavailable)


@pytest.mark.parametrize(("message", "code", "name"), PERMANENT)
def test_schema_and_syntax_errors_stop_the_sink(message: str, code: int | None, name: str) -> None:
    c = classify(message, code)
    assert (c.kind, c.name) == ("permanent", name)
    err = engine_error(message, code)
    assert type(err) is StoreError and name in str(err)


def test_an_unreachable_engine_is_transient_whatever_the_text() -> None:
    assert classify("[Errno 111] Connection refused", network=True).kind == "transient"
    assert classify("Code: 210. DB::NetException: Connection reset by peer").name == "NETWORK_ERROR"
    assert classify("ClickHouse at 127.0.0.1:9000: EOFError('Unexpected EOF while reading bytes')").kind == "transient"


def test_the_code_is_read_from_the_message_when_not_given() -> None:
    assert code_of("Code: 243. DB::Exception: x") == 243
    assert code_of("no code here") is None
    assert str(classify("Code: 243. DB::Exception: x")) == "transient NOT_ENOUGH_SPACE (code 243)"
