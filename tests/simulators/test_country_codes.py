"""countries.yaml: YAML 1.1 reads bare NO (Norway) as false; every code must load as the string."""

from __future__ import annotations

import re

import yaml

from simulators.model import DATA_DIR


def test_every_country_code_loads_as_a_two_letter_string() -> None:
    countries = yaml.safe_load((DATA_DIR / "countries.yaml").read_text(encoding="utf-8"))["countries"]
    bad = [c for c in countries if not (isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c))]
    assert bad == []
    assert "NO" in countries and len(set(countries)) == len(countries)
