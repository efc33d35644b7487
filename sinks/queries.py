"""Every named query of the storage layer, gathered from the table modules that own them.

A named query is SQL with `{db}` (the store's database) and `%(name)s` values bound by the store;
it selects plain types (epoch seconds, enum names as strings), so both engines return equal rows.
Some take optional filters: their SQL has `{where}`, which `sql()` fills with
` AND platform = %(platform)s` and/or ` AND province = %(province)s` for the filters given (values
checked against the contract first: an Enum8 column compared with a non-member makes ClickHouse
raise). `run(store, name, **params)` is the one way to execute one by name.
"""

from __future__ import annotations

import re
from typing import Any, Final

from contracts.geo import PLATFORMS, PROVINCE_CODES
from sinks.schema import TABLE_MODULES
from sinks.store import Row, Store

FILTERS: Final = ("platform", "province")


def _gather() -> dict[str, str]:
    named: dict[str, str] = {}
    for mod in TABLE_MODULES:
        for name, sql_text in getattr(mod, "QUERIES", {}).items():
            if name in named:
                raise RuntimeError(f"named query {name!r} declared twice ({mod.__name__})")
            named[name] = sql_text
    return named


NAMED: Final[dict[str, str]] = _gather()
OWNER: Final[dict[str, str]] = {n: m.TABLE for m in TABLE_MODULES for n in getattr(m, "QUERIES", {})}
FILTERABLE: Final = frozenset(n for n, q in NAMED.items() if "{where}" in q)

_PARAM = re.compile(r"%\((\w+)\)s")


def params_of(name: str) -> tuple[str, ...]:
    """The parameters a named query needs (filters excluded), in order of first use."""
    return tuple(dict.fromkeys(_PARAM.findall(NAMED[name])))


def check_filters(platform: str | None = None, province: str | None = None) -> None:
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    if province is not None and province not in PROVINCE_CODES:
        raise ValueError(f"unknown province {province!r}")


def sql(name: str, database: str, **filters: Any) -> str:
    """The SQL of a named query for `database`, with a clause per filter that is not None."""
    given = {k: v for k, v in filters.items() if v is not None}
    if given and name not in FILTERABLE:
        raise TypeError(f"named query {name!r} takes no filters")
    unknown = set(given) - set(FILTERS)
    if unknown:
        raise TypeError(f"unknown filters {sorted(unknown)}")
    check_filters(**given)
    where = "".join(f" AND {col} = %({col})s" for col in FILTERS if col in given)
    return NAMED[name].format(db=database, where=where)


def run(store: Store, name: str, **params: Any) -> list[Row]:
    filters = {k: params.pop(k) for k in FILTERS if k in params and k not in params_of(name)}
    missing = set(params_of(name)) - set(params)
    if missing:
        raise TypeError(f"named query {name!r} needs {sorted(missing)}")
    bound = {**params, **{k: v for k, v in filters.items() if v is not None}}
    return store.query(sql(name, store.database, **filters), bound or None)
