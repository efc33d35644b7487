"""The seeded, pure event generator: scenario (or fixed rate) in, client batches of events out.

Same scenario, seed, range and partition give the same events, byte for byte: no clock, no global
random state. Work is vectorised with numpy per segment of event time (~20k events); only turning
rows into events is per-event Python: `batches()` builds `Click`/`Session` structs, `messages()`
writes the same wire bytes directly from string templates (half the CPU; what senders use) and
can keep one share of the sessions for multi-process runs (see simulators/parallel.py).

Sessions arrive as a Poisson process following the model's expected clicks, each with a geometric
number of clicks, heartbeats and an end; each client's SDK flushes every `client_flush_s` as one
message per topic. Sessions in progress at the start are drawn too, and with `full_buffers` the SDK
buffers start full, so a live run starts at its full level (docs: simulators section of bench/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from contracts.events import Click, Event, Session
from contracts.geo import ACTIONS, DEVICES
from simulators.model import (
    ABROAD_INDEX,
    MINUTE_MS,
    PLATFORM_NAMES,
    PROVINCE_CODES,
    SECTION_NAMES,
    TrafficModel,
)
from simulators.scenario import ModelParams, Scenario, load_scenario
from simulators.truth import GroundTruth

SEGMENT_EVENTS = 20_000  # target events per vectorised segment
RENDER_ROWS = 10_000  # rows turned into JSON text at a time
MAX_SEGMENT_MINUTES = 1_440
_CLICK, _START, _HEARTBEAT, _END = 0, 1, 2, 3
_KINDS = ("", "start", "heartbeat", "end")
_COLS = ("ts", "kind", "sid", "user", "prov", "plat", "dev", "country", "res", "action", "dur")
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Volume:
    """How much traffic: `scale` x the scenario's real clicks, or a fixed `rate` of events/s."""

    scale: float | None = None
    rate: float | None = None


class Generator:
    """One partition of a scenario's traffic; iterate `batches()` once."""

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        seed: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
        count: int | None = None,
        scale: float | None = None,
        rate: float | None = None,
        part: int = 0,
        parts: int = 1,
        full_buffers: bool = False,
    ) -> None:
        """`full_buffers`: the range [start, end) is of arrival (client flush) time instead of event
        time: messages flushed from `start` on, carrying events from up to one flush interval before
        it (live runs)."""
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        if not 0 <= part < parts:
            raise ValueError(f"part {part} not in 0..{parts - 1}")
        if rate is not None and rate <= 0 or scale is not None and scale <= 0:
            raise ValueError("rate and scale must be > 0")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        self.model = TrafficModel(self.scenario)
        self.seed, self.part, self.parts = seed, part, parts
        self.start_ms = self.scenario.start_ms if start_ms is None else int(start_ms)
        # A count without an end runs past the scenario's end (its last state holds); a year bounds it.
        default_end = self.scenario.end_ms if count is None else self.start_ms + 366 * 86_400_000
        self.end_ms = default_end if end_ms is None else int(end_ms)
        if self.end_ms <= self.start_ms:
            raise ValueError("end must be after start")
        self.count = count
        self.rate = rate
        self.scale = (self.scenario.scale if scale is None else scale) if rate is None else None
        self.rng = np.random.default_rng([seed, part, parts])
        m = self.scenario.model
        mean_gap = (1 - m.long_gap_share) * m.gap_short_s + m.long_gap_share * m.gap_long_s
        # A click comes on average this long after its session starts; sessions start that much
        # earlier than the minute whose rate they carry, so clicks (not starts) follow the curve.
        self._lead_ms = int((m.first_click_s + mean_gap * (m.clicks_per_session - 1)) * 1000)
        # Sessions older than the lead at the start are not covered by the first minutes' arrivals:
        # the warm start draws them (see _warm_start_shape).
        (self._warm_min, self._warm_dwell_share, self._warm_p_long, self._warm_age_cdf, self._warm_ages_s) = (
            _warm_start_shape(m, self._lead_ms / 1000)
        )
        self._prefix = f"{seed & 0xFFFFFFFF:x}{'' if parts == 1 else f'.{part}'}-"
        self._next_sid = 0
        self._seq = 0
        m = self.scenario.model
        self._flush_ms = np.array([m.client_flush_s.get(d, 10.0) * 1000 for d in DEVICES], dtype=np.int64)
        self.full_buffers = full_buffers
        # first event time drawn: one longest flush interval early when buffers start full
        self._from_ms = self.start_ms - (int(self._flush_ms.max()) if full_buffers else 0)
        self._res_ids: list[str] = []
        self._res_section: list[int] = []
        self._section_tables: list[tuple[int, float, np.ndarray, int, int]] = []
        for f, section, share, cdf, ids in self.model.sections:
            self._section_tables.append((f, share, cdf, len(self._res_ids), SECTION_NAMES.index(section)))
            self._res_ids.extend(ids)
            self._res_section.extend([SECTION_NAMES.index(section)] * len(ids))
        self._res_section_arr = np.array(self._res_section, dtype=np.int16)
        self._by_platform: dict[int, list[tuple[int, float, np.ndarray, int, int]]] = {}
        for t in self._section_tables:
            self._by_platform.setdefault(t[0], []).append(t)

    # ------------------------------------------------------------------ rates
    def _expected_clicks(self, minutes: np.ndarray) -> np.ndarray:
        lam = self.model.clicks_per_minute(minutes)
        if self.rate is not None:
            clicks_per_min = self.rate * 60.0 / (1.0 + self.model.session_events_per_click)
            tot = lam.sum(axis=(1, 2), keepdims=True)
            lam = np.divide(lam * clicks_per_min, tot, out=np.zeros_like(lam), where=tot > 0)
        else:
            lam = lam * self.scale
        return lam / self.parts

    def _segments(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(minute starts, expected clicks [T,P,F]) in pieces of about SEGMENT_EVENTS events."""
        first = self._from_ms // MINUTE_MS * MINUTE_MS
        per_click = 1.0 + self.model.session_events_per_click
        grid_end = self.end_ms + self._lead_ms  # sessions of the last minutes start before the end
        while first < grid_end:
            minutes = np.arange(first, min(first + MAX_SEGMENT_MINUTES * MINUTE_MS, grid_end), MINUTE_MS)
            lam = self._expected_clicks(minutes)
            cum = np.cumsum(lam.sum(axis=(1, 2)) * per_click)
            cuts = np.searchsorted(
                cum, np.arange(SEGMENT_EVENTS, cum[-1] if len(cum) else 0, SEGMENT_EVENTS), side="right"
            )
            lo = 0
            for hi in [*np.unique(np.maximum(cuts, 1)).tolist(), len(minutes)]:
                if hi > lo:
                    yield minutes[lo:hi], lam[lo:hi]
                    lo = hi
            first = int(minutes[-1]) + MINUTE_MS

    # ------------------------------------------------------------------ sessions -> rows
    def _sessions(self, minutes: np.ndarray, lam: np.ndarray, warm: bool) -> dict[str, np.ndarray]:
        rng, m = self.rng, self.scenario.model
        T, P, F = lam.shape
        mean_gap = (1 - m.long_gap_share) * m.gap_short_s + m.long_gap_share * m.gap_long_s
        if warm:  # sessions in progress at the start, older than the lead; memoryless rest
            duration_min = self._warm_min
            lam_s = lam[:1] * duration_min / m.clicks_per_session
        else:
            lam_s = lam / m.clicks_per_session
        n = rng.poisson(lam_s).ravel()
        cell = np.repeat(np.arange(n.size), n)
        S = cell.size
        t_i, p_i, f_i = np.unravel_index(cell, lam_s.shape)
        if warm:
            origin = np.full(S, self._from_ms, dtype=np.int64)
            age = (np.interp(rng.random(S), self._warm_age_cdf, self._warm_ages_s) * 1000).astype(np.int64)
            start = origin - age
        else:
            start = minutes[t_i] - self._lead_ms + rng.integers(0, MINUTE_MS, S)
            origin = start
        k = rng.geometric(1.0 / m.clicks_per_session, S)
        if warm:
            # caught in the dwell after the last click: no clicks left, only the end (drawing every
            # warm session with clicks ran 12 % high in the first minute)
            k[rng.random(S) < self._warm_dwell_share] = 0
        has = k > 0
        dev = np.searchsorted(self.model.device_cdf, rng.random(S), side="right").clip(0, len(DEVICES) - 1)
        sid = self._next_sid + np.arange(S, dtype=np.int64)
        self._next_sid += S
        user = p_i.astype(np.int64) * 100_000_000 + rng.integers(0, m.user_pool, S)
        country = np.full(S, -1, dtype=np.int64)
        abroad = p_i == ABROAD_INDEX
        country[abroad] = np.searchsorted(self.model.country_cdf, rng.random(int(abroad.sum())), side="right")
        # clicks: cumulative gaps within each session
        C = int(k.sum())
        owner = np.repeat(np.arange(S), k)
        firsts = (np.cumsum(k) - k)[has]
        long = rng.random(C) < m.long_gap_share
        gap = rng.exponential(1.0, C) * np.where(long, m.gap_long_s, m.gap_short_s) * 1000.0
        if not warm:
            gap[firsts] = rng.exponential(m.first_click_s * 1000.0, firsts.size)
        else:  # caught mid-gap: a long gap w.p. measured for old sessions, memoryless rest
            in_long = rng.random(firsts.size) < self._warm_p_long
            gap[firsts] = rng.exponential(1.0, firsts.size) * np.where(in_long, m.gap_long_s, m.gap_short_s) * 1000.0
        cum = np.cumsum(gap)
        cum -= np.repeat(cum[firsts] - gap[firsts], k[has])
        click_ts = origin[owner] + cum.astype(np.int64)
        last = origin.copy()
        last[has] = click_ts[firsts + k[has] - 1]
        end_ts = last + (rng.exponential(mean_gap * 1000.0, S)).astype(np.int64)
        dur = end_ts - start
        res, action = self._content(f_i[owner])
        hb_ms = int(m.heartbeat_s * 1000)
        nhb = np.maximum((dur - 1) // hb_ms, 0)
        hb_owner = np.repeat(np.arange(S), nhb)
        hb_j = np.arange(hb_owner.size) - np.repeat(np.cumsum(nhb) - nhb, nhb) + 1
        hb_dur = hb_j * hb_ms
        starts = np.arange(S) if not warm else np.arange(0)
        owners = np.concatenate([owner, starts, hb_owner, np.arange(S)])
        kinds = np.concatenate(
            [np.full(C, _CLICK), np.full(starts.size, _START), np.full(hb_owner.size, _HEARTBEAT), np.full(S, _END)]
        ).astype(np.int8)
        ts = np.concatenate([click_ts, start[starts], start[hb_owner] + hb_dur, end_ts])
        durs = np.concatenate([np.zeros(C + starts.size, dtype=np.int64), hb_dur, dur])
        nonclick = owners.size - C
        return {
            "ts": ts,
            "kind": kinds,
            "sid": sid[owners],
            "user": user[owners],
            "prov": p_i[owners].astype(np.int16),
            "plat": f_i[owners].astype(np.int8),
            "dev": dev[owners].astype(np.int8),
            "country": country[owners],
            "res": np.concatenate([res, np.full(nonclick, -1, dtype=np.int64)]),
            "action": np.concatenate([action, np.zeros(nonclick, dtype=np.int64)]).astype(np.int8),
            "dur": durs,
        }

    def _content(self, plat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resource (global index) and action per click: section by mix, then Zipf within it."""
        rng = self.rng
        n = plat.size
        res = np.zeros(n, dtype=np.int64)
        u_section = rng.random(n)
        u_res = rng.random(n)
        for f, tables in self._by_platform.items():
            idx = np.flatnonzero(plat == f)
            if idx.size == 0:
                continue
            cum = np.cumsum([t[1] for t in tables])
            pick = np.searchsorted(cum / cum[-1], u_section[idx], side="right").clip(0, len(tables) - 1)
            for j, (_, _, cdf, offset, _) in enumerate(tables):
                sub = idx[pick == j]
                res[sub] = offset + np.searchsorted(cdf, u_res[sub], side="right").clip(0, len(cdf) - 1)
        section = self._res_section_arr[res]
        action_cdf = self.model.action_cdf[section]
        action = (rng.random(n)[:, None] >= action_cdf[:, :-1]).sum(axis=1)
        return res, action

    # ------------------------------------------------------------------ rows -> batches
    def _emit(
        self, rows: dict[str, np.ndarray], until_ms: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """Rows whose client flush falls before `until_ms`, in send order, cut into client batches.

        Returns (pending rows, due rows in send order, batch bounds: batch b is rows
        bounds[b]:bounds[b+1]); due rows carry their flush time in column "at". With
        `full_buffers`, rows flushed before the start are dropped (they were the buffers' filling).
        """
        ts, sid, dev = rows["ts"], rows["sid"], rows["dev"]
        iv = self._flush_ms[dev]
        phase = (sid * 7919) % iv
        flush = ((ts + phase) // iv + 1) * iv - phase
        now = flush < until_ms
        pending = {c: v[~now] for c, v in rows.items()}
        if self.full_buffers:
            now &= flush >= self.start_ms
        sel = {c: v[now] for c, v in rows.items()}
        fl = flush[now]
        topic = (sel["kind"] != _CLICK).astype(np.int8)
        order = np.lexsort((sel["ts"], topic, sel["sid"], fl))
        sel = {c: v[order] for c, v in sel.items()}
        fl, topic = fl[order], topic[order]
        sel["at"] = fl
        n = fl.size
        if n == 0:
            return pending, sel, np.zeros(1, dtype=np.int64)
        new = np.ones(n, dtype=bool)
        new[1:] = (fl[1:] != fl[:-1]) | (sel["sid"][1:] != sel["sid"][:-1]) | (topic[1:] != topic[:-1])
        run_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        new |= ((np.arange(n) - run_start) % self.scenario.model.max_batch) == 0
        return pending, sel, np.append(np.flatnonzero(new), n)

    def _blocks(self) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """(rows in send order, batch bounds) per segment, the whole stream cut at `count` events."""
        pending = {c: np.zeros(0, dtype=np.int64) for c in _COLS}
        left = self.count
        warm = True
        for minutes, lam in self._segments():
            rows = self._sessions(minutes, lam, warm=False)
            if warm:
                warm_rows = self._sessions(minutes, lam, warm=True)
                rows = {c: np.concatenate([warm_rows[c], rows[c]]) for c in _COLS}
                warm = False
            keep = (rows["ts"] >= self._from_ms) & (rows["ts"] < self.end_ms)
            rows = {c: np.concatenate([pending[c], rows[c][keep]]) for c in _COLS}
            seg_end = int(minutes[-1]) + MINUTE_MS - self._lead_ms
            last = seg_end >= self.end_ms
            pending, sel, bounds = self._emit(rows, _NEVER if last else seg_end)
            n = int(bounds[-1])
            if n == 0:
                continue
            if left is not None:
                if left <= n:
                    if left:
                        bounds = np.append(bounds[bounds < left], left)
                        yield {c: v[:left] for c, v in sel.items()}, bounds
                    return
                left -= n
            yield sel, bounds

    def batches(self) -> Iterator[list[Event]]:
        """Client batches in flush order until the end (or `count` events), as contract structs."""
        for sel, bounds in self._blocks():
            yield from self._structs(sel, bounds.tolist())

    def _structs(self, rows: dict[str, np.ndarray], bounds: list[int]) -> list[list[Event]]:
        cols = {c: rows[c].tolist() for c in _COLS}
        ts, kind, sid, user, prov, plat, dev = (cols[c] for c in ("ts", "kind", "sid", "user", "prov", "plat", "dev"))
        country, res, action, dur = cols["country"], cols["res"], cols["action"], cols["dur"]
        pre, seq = self._prefix, self._seq
        res_ids, res_sec = self._res_ids, self._res_section
        countries = self.model.countries
        out: list[list[Event]] = []
        for b in range(len(bounds) - 1):
            batch: list[Event] = []
            for i in range(bounds[b], bounds[b + 1]):
                c = countries[country[i]] if country[i] >= 0 else None
                s = f"{pre}s{sid[i]:x}"
                if kind[i] == _CLICK:
                    r = res[i]
                    batch.append(
                        Click(
                            id=f"{pre}{seq:x}",
                            ts=ts[i],
                            platform=PLATFORM_NAMES[plat[i]],
                            province=PROVINCE_CODES[prov[i]],
                            user=f"u{user[i]:x}",
                            session=s,
                            resource=res_ids[r],
                            section=SECTION_NAMES[res_sec[r]],
                            action=ACTIONS[action[i]],
                            device=DEVICES[dev[i]],
                            country=c,
                        )
                    )
                else:
                    batch.append(
                        Session(
                            id=f"{pre}{seq:x}",
                            ts=ts[i],
                            platform=PLATFORM_NAMES[plat[i]],
                            province=PROVINCE_CODES[prov[i]],
                            user=f"u{user[i]:x}",
                            session=s,
                            kind=_KINDS[kind[i]],
                            duration_s=dur[i] / 1000.0,
                            device=DEVICES[dev[i]],
                            country=c,
                        )
                    )
                seq += 1
            out.append(batch)
        self._seq = seq
        return out

    # ------------------------------------------------------------------ rows -> wire bytes
    def messages(self, share: int = 0, shares: int = 1) -> Iterator[Message]:
        """The same stream as `batches()`, already encoded: one `Message` per client batch.

        Bytes are exactly `contracts.events.encode(batch)` (a test holds them to it), written by
        string templates instead of building structs first: the per-event cost of a fast sender.
        `share`/`shares` keep only the sessions with id % shares == share, so `shares` processes
        with the same seed send disjoint parts whose union is exactly the one-process stream, with
        each session (its Kafka key) whole in one process; `Message.index` is the global position
        of its first event, so each process can pace by the one shared schedule.
        """
        if not 0 <= share < shares:
            raise ValueError(f"share {share} not in 0..{shares - 1}")
        t = self._templates()
        pre = self._prefix
        done = 0  # events of the whole stream before this block
        for sel, bounds in self._blocks():
            n = int(bounds[-1])
            starts, sizes = bounds[:-1], np.diff(bounds)
            mine = sel["sid"][starts] % shares == share if shares > 1 else np.ones(starts.size, dtype=bool)
            rows = np.repeat(mine, sizes)
            first_seq = self._seq + np.arange(n, dtype=np.int64)
            idx = np.flatnonzero(rows)
            my_sizes = sizes[mine]
            block = _Block(self, {c: sel[c][idx] for c in ("ts", "kind", "plat", "prov", "res")})
            b_index = (done + starts[mine]).tolist()
            b_sid, b_kind = sel["sid"][starts[mine]].tolist(), sel["kind"][starts[mine]].tolist()
            b_ts, b_at = sel["ts"][starts[mine]].tolist(), sel["at"][starts[mine]].tolist()
            # rendered in pieces of ~RENDER_ROWS rows at message bounds, not all at once: a block can
            # hold a minute of traffic (300,000 rows at 5,000/s), and rendering it in one go held up
            # a paced run for a second at every block
            ends = np.cumsum(my_sizes)
            pos, base, rendered_to, strs = 0, 0, 0, []
            for j, size in enumerate(my_sizes.tolist()):
                hi = pos + size
                if hi > rendered_to:
                    rendered_to = int(ends[min(int(np.searchsorted(ends, pos + RENDER_ROWS)), ends.size - 1)])
                    rows_now = idx[pos:rendered_to]
                    strs, base = self._render(sel, rows_now, first_seq[rows_now], t), pos
                value = strs[pos - base] if size == 1 else "[" + ",".join(strs[pos - base : hi - base]) + "]"
                yield Message(
                    value.encode(),
                    "clicks" if b_kind[j] == _CLICK else "sessions",
                    f"{pre}s{b_sid[j]:x}".encode(),
                    size,
                    b_ts[j],
                    b_index[j],
                    block,
                    hi,
                    b_at[j],
                )
                pos = hi
            self._seq += n
            done += n

    def _templates(self) -> dict[str, list[str]]:
        countries = self.model.countries
        return {
            "plat": [f'"platform":"{p}"' for p in PLATFORM_NAMES],
            "prov": [f',"province":"{p}"' for p in PROVINCE_CODES],
            "res": [
                f',"resource":"{r}","section":"{SECTION_NAMES[s]}"'
                for r, s in zip(self._res_ids, self._res_section, strict=False)
            ],
            "action": [f',"action":"{a}"' if a != "view" else "" for a in ACTIONS],
            "dev": [f',"device":"{d}"' if d != "web" else "" for d in DEVICES],
            # index -1 (at home) picks the trailing empty fragment
            "country": [f',"country":"{c}"' for c in countries] + [""],
            "kind": [f',"kind":"{k}"' for k in _KINDS],
        }

    def _render(
        self, sel: dict[str, np.ndarray], idx: np.ndarray, seqs: np.ndarray, t: dict[str, list[str]]
    ) -> list[str]:
        """JSON text of each selected row, field order and omitted defaults as msgspec writes them."""
        ts, kind, sid, user = (sel[c][idx].tolist() for c in ("ts", "kind", "sid", "user"))
        prov, plat, dev, country = (sel[c][idx].tolist() for c in ("prov", "plat", "dev", "country"))
        res, action, dur = (sel[c][idx].tolist() for c in ("res", "action", "dur"))
        pre = self._prefix
        P, V, R, A, D, C, K = (t[k] for k in ("plat", "prov", "res", "action", "dev", "country", "kind"))
        out: list[str] = []
        append = out.append
        for i, seq in enumerate(seqs.tolist()):
            head = (
                f'"id":"{pre}{seq:x}","ts":{ts[i]},{P[plat[i]]}{V[prov[i]]},"user":"u{user[i]:x}",'
                f'"session":"{pre}s{sid[i]:x}"'
            )
            tail = D[dev[i]] + C[country[i]]
            if kind[i] == _CLICK:
                append(f'{{"type":"click",{head}{R[res[i]]}{A[action[i]]}{tail}}}')
            else:
                append(f'{{"type":"session",{head}{K[kind[i]]},"duration_s":{dur[i] / 1000.0!r}{tail}}}')
        return out


def _warm_start_shape(
    m: ModelParams, lead_s: float, n: int = 50_000
) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    """(minutes, dwell share, long-gap share, age CDF, ages in s) of the sessions in progress at a
    start that began more than `lead_s` before it, by Monte Carlo over whole sessions (fixed seed:
    the same for every run).

    Their number is arrival rate x E[(duration - lead)+] (returned in minutes). Old sessions are
    not a random slice of session time: more of them are in the dwell after their last click
    (no clicks left), and a gap they are in is more often a long one than gaps are in general,
    since sessions that keep clicking in short gaps end young. Drawing them with the plain
    shares (every one with clicks left, long gaps at their share of time) put 12 % too many
    clicks into a run's first minute. Their ages place their heartbeats (every `heartbeat_s` from
    the start) and their end's duration: ages drawn from 0 to a few minutes bunched the heartbeats.
    """
    rng = np.random.default_rng(0)
    mean_gap = (1 - m.long_gap_share) * m.gap_short_s + m.long_gap_share * m.gap_long_s
    k = rng.geometric(1.0 / m.clicks_per_session, n)
    gaps_n = k - 1
    c = int(gaps_n.sum())
    long = rng.random(c) < m.long_gap_share
    owner = np.repeat(np.arange(n), gaps_n)
    gap_end = np.cumsum(rng.exponential(1.0, c) * np.where(long, m.gap_long_s, m.gap_short_s))
    first_gap = np.cumsum(gaps_n) - gaps_n
    offset = np.zeros(n)
    offset[gaps_n > 0] = (gap_end - np.diff(np.append(0.0, gap_end)))[first_gap[gaps_n > 0]]
    first = rng.exponential(m.first_click_s, n)
    click = first[owner] + gap_end - offset[owner]  # times of clicks 2..k after the session's start
    last = first.copy()
    np.maximum.at(last, owner, click)
    dur = last + rng.exponential(mean_gap, n)
    weight = np.maximum(dur - lead_s, 0.0)  # chance of being caught, older than the lead
    age = lead_s + rng.random(n) * weight
    in_dwell = age > last
    after = click > age[owner]  # clicks still to come; the gap before the next one is the current one
    nxt = np.full(n, c)
    np.minimum.at(nxt, owner[after], np.flatnonzero(after))
    in_gap = (weight > 0) & ~in_dwell & (nxt < c)
    p_long = float((weight * in_gap * long[np.minimum(nxt, c - 1)]).sum() / (weight * in_gap).sum())
    caught = np.flatnonzero(weight > 0)
    order = caught[np.argsort(age[caught])]
    cdf = np.cumsum(weight[order]) / weight[order].sum()
    return (
        float(weight.mean()) / 60.0,
        float((weight * in_dwell).sum() / weight.sum()),
        p_long,
        np.concatenate([[0.0], cdf]),
        np.concatenate([[lead_s], age[order]]),
    )


class Message:
    """One encoded client batch: what a sender hands to Kafka (or a file line) unchanged."""

    __slots__ = ("value", "kind", "key", "events", "ts", "index", "block", "hi", "at")

    def __init__(
        self, value: bytes, kind: str, key: bytes, events: int, ts: int, index: int, block: _Block, hi: int, at: int
    ) -> None:
        self.value, self.kind, self.key, self.events, self.ts = value, kind, key, events, ts
        self.at = at  # its client's flush time (ms): when it reaches Kafka in event time
        self.index = index  # position of its first event in the whole (all-shares) stream
        self.block, self.hi = block, hi  # its rows are block rows [..hi), for ground truth

    def __repr__(self) -> str:
        return f"Message({self.kind}, {self.events} events, ts={self.ts}, index={self.index})"


class _Block:
    """The rows of one segment that a process sends, kept as columns so ground truth is counted
    with numpy once per block (`add_to`) instead of once per event."""

    __slots__ = ("gen", "cols")

    def __init__(self, gen: Generator, cols: dict[str, np.ndarray]) -> None:
        self.gen, self.cols = gen, cols

    def add_to(self, truth: GroundTruth, hi: int) -> None:
        """Count rows [0, hi) (the messages sent so far from this block) into `truth`."""
        if hi <= 0:
            return
        c = {k: v[:hi] for k, v in self.cols.items()}
        click = c["kind"] == _CLICK
        ts = c["ts"]
        minute_s = ts[click] // MINUTE_MS * 60
        P, F = len(PROVINCE_CODES), len(PLATFORM_NAMES)
        key = (minute_s * F + c["plat"][click]) * P + c["prov"][click]
        keys, counts = np.unique(key, return_counts=True)
        minute = {}
        for k, n in zip(keys.tolist(), counts.tolist(), strict=False):
            m, rest = divmod(k, F * P)
            f, p = divmod(rest, P)
            minute[(m, PLATFORM_NAMES[f], PROVINCE_CODES[p])] = n
        res = np.bincount(c["res"][click], minlength=0)
        nz = np.flatnonzero(res)
        ids = self.gen._res_ids
        resource = {ids[i]: n for i, n in zip(nz.tolist(), res[nz].tolist(), strict=False)}
        kinds_n = np.bincount(c["kind"][~click], minlength=len(_KINDS))
        kinds = {_KINDS[k]: n for k, n in enumerate(kinds_n.tolist()) if n and k != _CLICK}
        truth.add_counts(
            minute,
            resource,
            kinds,
            clicks=int(click.sum()),
            sessions=int((~click).sum()),
            min_ts=int(ts.min()),
            max_ts=int(ts.max()),
        )


def generate_batches(
    scenario: Scenario | str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    count: int | None = None,
    seed: int = 20220314,
    scale: float | None = None,
    rate: float | None = None,
    part: int = 0,
    parts: int = 1,
) -> Iterator[list[Event]]:
    """Client batches (lists of 1..max_batch events of one topic) for a scenario, deterministically.

    Volume is the scenario's own curve x `scale` (default: the file's `scale`), or, with `rate`,
    about `rate` events per second of event time shaped like the scenario's province/platform mix.
    `start_ms`/`end_ms` default to the scenario's range; `count` stops after exactly that many
    events (and, without `end_ms`, may run past the scenario's end). `part`/`parts` draw
    independent streams with 1/parts of the volume each (statistically the run, not its events);
    for the exact one-process stream split over processes use `Generator.messages(share, shares)`.
    """
    return Generator(
        scenario,
        seed=seed,
        start_ms=start_ms,
        end_ms=end_ms,
        count=count,
        scale=scale,
        rate=rate,
        part=part,
        parts=parts,
    ).batches()


def topic_of(batch: list[Event]) -> str:
    """'clicks' or 'sessions': batches never mix the two."""
    return "clicks" if type(batch[0]) is Click else "sessions"
