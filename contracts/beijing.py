"""Beijing time, the one clock every service shows and buckets days by (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import timedelta, timezone

BEIJING_OFFSET_S = 8 * 3600
TZ_NAME = "Asia/Shanghai"
BEIJING = timezone(timedelta(seconds=BEIJING_OFFSET_S), TZ_NAME)
