"""Storage errors sorted into what to do about them: retry (transient) or stop (permanent).

Transient: the store is unreachable or short of a resource (disk, memory, parts, time) and will
likely recover by itself or by an operator's hand; the sink pauses and retries with backoff.
Permanent: the request itself is wrong (unknown table or column, type mismatch, syntax, access):
retrying cannot help, so the sink stops loudly with the engine's message.
Errors are classified by the engine's code (ClickHouse's ErrorCodes, the same on 18.16, chDB and
servers since) and, where an engine gives no code (chDB's message text, OS errors), by the text.
An error neither list knows is permanent: a new failure mode is news, not something to loop on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["transient", "permanent"]

# code -> (name, what it means for an operator)
TRANSIENT: Final[dict[int, str]] = {
    3: "UNEXPECTED_END_OF_FILE",
    32: "ATTEMPT_TO_READ_AFTER_EOF",
    74: "CANNOT_READ_FROM_FILE_DESCRIPTOR",
    75: "CANNOT_WRITE_TO_FILE_DESCRIPTOR",
    159: "TIMEOUT_EXCEEDED",
    160: "TOO_SLOW",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    243: "NOT_ENOUGH_SPACE",
    252: "TOO_MANY_PARTS",
    279: "ALL_CONNECTION_TRIES_FAILED",
    285: "TOO_FEW_LIVE_REPLICAS",
    319: "UNKNOWN_STATUS_OF_INSERT",
    425: "SYSTEM_ERROR",
    999: "KEEPER_EXCEPTION",
}
PERMANENT: Final[dict[int, str]] = {
    8: "THERE_IS_NO_COLUMN",
    10: "NOT_FOUND_COLUMN_IN_BLOCK",
    16: "NO_SUCH_COLUMN_IN_TABLE",
    20: "NUMBER_OF_COLUMNS_DOESNT_MATCH",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    36: "BAD_ARGUMENTS",
    43: "ILLEGAL_TYPE_OF_ARGUMENT",
    44: "ILLEGAL_COLUMN",
    47: "UNKNOWN_IDENTIFIER",
    49: "LOGICAL_ERROR",
    53: "TYPE_MISMATCH",
    60: "UNKNOWN_TABLE",
    62: "SYNTAX_ERROR",
    70: "CANNOT_CONVERT_TYPE",
    81: "UNKNOWN_DATABASE",
    117: "INCORRECT_DATA",
    164: "READONLY",
    192: "UNKNOWN_USER",
    193: "WRONG_PASSWORD",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}
# Text of errors without a (useful) code: OS errors inside the engine, driver and socket errors.
# Most specific first: the first that occurs anywhere in the text names the error.
_TRANSIENT_TEXT: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"no space left on device",
        r"disk quota exceeded",
        r"not enough space",
        r"cannot reserve .* space",
        r"too many parts",
        r"memory limit",
        r"cannot allocate memory",
        r"connection refused",
        r"connection reset",
        r"broken pipe",
        r"network is unreachable",
        r"unexpected eof",
        r"timed? ?out",
        r"input/output error",
        r"cannot (?:write|read) (?:to|from) file",
    )
)
_CODE: Final = re.compile(r"\bCode:\s*(\d+)")


@dataclass(frozen=True)
class Classified:
    kind: Kind
    code: int | None
    name: str  # the ClickHouse error name, or a short description

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" (code {self.code})" if self.code is not None else "")


def code_of(message: str) -> int | None:
    """The ClickHouse error code in an engine message ("Code: 243. DB::Exception: ..."), if any."""
    m = _CODE.search(message)
    return int(m.group(1)) if m else None


def classify(message: str, code: int | None = None, network: bool = False) -> Classified:
    """Sort one storage error; `network` marks a failure to reach the engine at all."""
    if code is None:
        code = code_of(message)
    if network:
        return Classified("transient", code, "UNREACHABLE")
    if code in TRANSIENT:
        return Classified("transient", code, TRANSIENT[code])
    if code in PERMANENT:
        return Classified("permanent", code, PERMANENT[code])
    for pattern in _TRANSIENT_TEXT:
        m = pattern.search(message)
        if m:
            return Classified("transient", code, m.group(0).upper().replace(" ", "_"))
    return Classified("permanent", code, "UNCLASSIFIED")
