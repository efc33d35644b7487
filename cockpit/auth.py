"""Operator login, and the CSRF token every state-changing request carries.

Viewers need no login unless `cockpit_viewer_login` is set; operators (werkzeug scrypt hashes in the
operators file) acknowledge and silence alerts (`cockpit.acks`). An operator's name is kept in the
signed session to author those records, and never rendered, nor any session id.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from flask import Flask, Response, has_request_context, jsonify, redirect, request, session
from werkzeug.security import check_password_hash

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_FINGERPRINT = re.compile(r"^[0-9a-f]{8,64}$")
# Open without a login even when viewers must sign in: the login itself, probes, Dash's static files.
_ALWAYS_OPEN = ("/login", "/healthz", "/metrics", "/assets/", "/_favicon")


def load_operators(path: str | Path | None) -> dict[str, str]:
    """{user: werkzeug hash} from a `user:hash` file; a missing setting means no operators."""
    if not path:
        return {}
    users: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed:
            raise ValueError(f"{path}:{n}: expected user:password-hash")
        users[normal_name(user)] = hashed.strip()
    return users


def operators_path(settings: Any) -> Path:
    """The operators file: `cockpit_operators_file`, or `operators` in the data directory (where
    `edu-cockpit operators add NAME` writes by default)."""
    path = getattr(settings, "cockpit_operators_file", None)
    return Path(path) if path else Path(settings.data_dir) / "operators"


class Operators:
    """The operators file, read again when it changes: an operator added while the cockpit runs
    can sign in without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()

    def users(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        with self._lock:
            if self._stamp != (st.st_mtime, st.st_size):
                self._users = load_operators(self.path)
                self._stamp = (st.st_mtime, st.st_size)
            return self._users


_OPERATOR_NAME = re.compile(r"[\w.@-]{1,64}")  # \w is Unicode: 张伟 and José are names too


def normal_name(text: str) -> str:
    """A name as stored and compared: NFC, so the same name typed on another keyboard (é as one
    code point or as e + accent) is the same operator."""
    return unicodedata.normalize("NFC", text.strip())


def add_operator(path: Path, user: str, password: str) -> bool:
    """Add `user` (or replace their password) with a scrypt hash (werkzeug); True when new.
    The file is written whole to a temporary file and renamed, mode 0600."""
    import os

    from werkzeug.security import generate_password_hash

    user = normal_name(user)
    if not _OPERATOR_NAME.fullmatch(user):
        raise ValueError("an operator name is 1-64 letters (any script), digits or . _ @ -")
    if len(password) < 8:
        raise ValueError("a password has at least 8 characters")
    users = load_operators(path) if path.exists() else {}
    new = user not in users
    users[user] = generate_password_hash(password, method="scrypt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# edu-cockpit operators: user:werkzeug-scrypt-hash (edu-cockpit operators add NAME)\n")
        out.writelines(f"{u}:{h}\n" for u, h in sorted(users.items()))
    os.replace(tmp, path)
    return new


def signing_key(settings: Any) -> str:
    """`cockpit_secret_key`, else the key file (`cockpit_secret_key_file`, default
    data_dir/cockpit-secret.key), generated once with mode 0600: sessions survive restarts."""
    import os

    if getattr(settings, "cockpit_secret_key", None):
        return str(settings.cockpit_secret_key)
    path = Path(getattr(settings, "cockpit_secret_key_file", None) or Path(settings.data_dir) / "cockpit-secret.key")
    try:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def is_operator() -> bool:
    return has_request_context() and session.get("operator") is True


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok() -> bool:
    """The request carries this session's token (form field `csrf_token` or header `X-CSRF-Token`),
    compared in constant time."""
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    token = session.get(CSRF_FIELD) or ""
    return bool(sent and token) and hmac.compare_digest(str(sent), str(token))


def verify(users: Mapping[str, str], user: str, password: str) -> bool:
    hashed = users.get(user)
    if hashed is None:
        check_password_hash("scrypt:32768:8:1$x$00", password)  # same work for unknown users
        return False
    return check_password_hash(hashed, password)


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Failed logins per key (a user name, a client address) in a sliding window, and lockouts.

    `limits` maps a key kind ("user", "ip") to how many failures within `window_s` lock that key out
    for `lockout_s`. The clock is injected (monotonic seconds), so tests step it instead of sleeping.
    Memory is bounded: keys whose failures and lockout have expired are dropped, and at most
    `max_keys` are kept (the oldest dropped first) so a flood of made-up names cannot grow it.
    """

    def __init__(
        self,
        limits: Mapping[str, int],
        window_s: float,
        lockout_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limits = dict(limits)
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._clock = clock
        self._max_keys = max_keys
        self._keys: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def retry_after(self, **keys: str) -> float:
        """Seconds until every given key (`user=`, `ip=`) may try again; 0 when none is locked."""
        now = self._clock()
        with self._lock:
            return max([f.locked_until - now for k in keys.items() if (f := self._keys.get(k))] + [0.0])

    def failure(self, **keys: str) -> None:
        now = self._clock()
        with self._lock:
            for kind, value in keys.items():
                f = self._keys.setdefault((kind, value), _Failures())
                f.times = [t for t in f.times if now - t < self.window_s] + [now]
                if len(f.times) >= self.limits.get(kind, 1 << 30):
                    f.locked_until, f.times = now + self.lockout_s, []
            self._prune(now)

    def success(self, **keys: str) -> None:
        with self._lock:
            for k in keys.items():
                self._keys.pop(k, None)

    def _prune(self, now: float) -> None:
        stale = [
            k for k, f in self._keys.items() if f.locked_until <= now and all(now - t >= self.window_s for t in f.times)
        ]
        for k in stale:
            del self._keys[k]
        while len(self._keys) > self._max_keys:
            del self._keys[next(iter(self._keys))]

    @classmethod
    def from_settings(cls, settings: Any, clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
        return cls(
            {"user": settings.cockpit_login_max_failures, "ip": settings.cockpit_login_max_failures_ip},
            settings.cockpit_login_window_s,
            settings.cockpit_login_lockout_s,
            clock,
        )


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<link rel='stylesheet' href='/assets/cockpit.css'></head>"
        f"<body class='auth-body'><main class='auth-card'><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _login_form(message: str = "", status: int = 200) -> Response:
    note = f"<p class='auth-error'>{escape(message)}</p>" if message else ""
    return _page(
        "运维登录 · Operator login",
        f"""{note}
<form method="post" action="/login" class="auth-form">
  <input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
  <label>用户名 · User <input name="username" autocomplete="username" required></label>
  <label>密码 · Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">登录 · Sign in</button>
</form><p><a href="/">返回驾驶舱 · Back to the cockpit</a></p>""",
        status,
    )


def operator_name() -> str:
    return str(session.get("user", "")) if is_operator() else ""


def install(server: Flask, settings: Any, acks: Any = None, throttle: LoginThrottle | None = None) -> None:
    """Add the login, logout, CSRF, acknowledge and silence routes (and the optional viewer login) to
    `server`.

    `acks` (a `cockpit.acks.AckRecorder`) records acknowledgements and silences; without one the
    endpoints answer 501 after their login and token checks. A form post is redirected back to
    /alerts, an API call answers 202. `throttle` limits failed logins (from the settings if
    omitted): a locked-out name or address gets 429 with Retry-After, its password unchecked. The
    session cookie is signed with `signing_key`, HttpOnly, SameSite=Lax, and Secure with
    `cockpit_cookie_secure`."""
    throttle = throttle or LoginThrottle.from_settings(settings)
    server.secret_key = signing_key(settings)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(getattr(settings, "cockpit_cookie_secure", False)),
    )
    operators = Operators(operators_path(settings))
    viewer_login = bool(getattr(settings, "cockpit_viewer_login", False))
    open_paths = tuple(p for p in _ALWAYS_OPEN if not (viewer_login and p == "/metrics"))
    if not operators.users():
        log.info("no operators in %s: create one with `edu-cockpit operators add NAME`", operators.path)

    @server.before_request
    def _guard() -> Any:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith("/_dash-"):
            if not csrf_ok():  # every state change needs the token (Dash's own POSTs only read)
                return jsonify(error="missing or invalid CSRF token"), 403
        if viewer_login and not is_operator() and not request.path.startswith(open_paths):
            if request.path.startswith(("/_dash-", "/api/", "/metrics")):
                return jsonify(error="login required"), 401
            return redirect("/login")
        return None

    def login() -> Response:
        if request.method == "GET":
            return _login_form()
        user = normal_name(request.form.get("username", "")[:200])
        who = {"user": user, "ip": request.remote_addr or "-"}
        wait = throttle.retry_after(**who)
        if wait > 0:  # locked: the password is not even checked
            resp = _login_form("登录失败次数过多，请稍后再试 · Too many failed sign-ins, try again later", 429)
            resp.headers["Retry-After"] = str(int(wait) + 1)
            return resp
        if verify(operators.users(), user, request.form.get("password", "")[:1024]):
            throttle.success(user=user)
            session.clear()  # a fresh session (and token) after login: no fixation
            session["operator"] = True
            session["user"] = user  # the author of acknowledgements; never rendered
            csrf_token()
            return redirect("/alerts")  # type: ignore[return-value]
        throttle.failure(**who)
        log.warning("failed operator sign-in")  # no user name: it may be a mistyped password
        return _login_form("用户名或密码错误 · Wrong user name or password", 401)

    def logout() -> Response:
        if request.method == "GET":
            return _page(
                "退出登录 · Sign out",
                f"""<form method="post" action="/logout" class="auth-form">
  <input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
  <button type="submit">退出 · Sign out</button></form>""",
            )
        session.clear()
        return redirect("/")  # type: ignore[return-value]

    def csrf() -> Response:
        return jsonify(csrf_token=csrf_token())

    def _act(fingerprint: str, action: Callable[[str, str], Any], done: str) -> tuple[Response, int]:
        """The checks every operator action shares, then `action(author, comment)`."""
        if not is_operator():
            return jsonify(error="operator login required"), 401
        if not _FINGERPRINT.match(fingerprint):
            return jsonify(error="not an alert fingerprint"), 400
        if acks is None:
            return jsonify(error="operator actions are not configured", fingerprint=fingerprint), 501
        from cockpit.acks import AckError

        try:
            result = action(operator_name(), str(_field("comment") or ""))
        except AckError as err:
            return jsonify(error=str(err), fingerprint=fingerprint), err.status
        if request.form.get(CSRF_FIELD):  # the alerts page's form: back to the page
            return redirect("/alerts", code=303)  # type: ignore[return-value]
        return jsonify(status=done, fingerprint=fingerprint, topic=result.topic, at=int(result.change.at)), 202

    def acknowledge(fingerprint: str) -> tuple[Response, int]:
        return _act(fingerprint, lambda author, comment: acks.acknowledge(fingerprint, author, comment), "acknowledged")

    def silence(fingerprint: str) -> tuple[Response, int]:
        try:
            duration = int(_field("duration_s") or 0)
        except (TypeError, ValueError):
            duration = 0
        return _act(
            fingerprint, lambda author, comment: acks.silence(fingerprint, author, duration, comment), "silenced"
        )

    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    server.add_url_rule("/api/csrf", "csrf", csrf)
    server.add_url_rule("/api/alerts/<fingerprint>/ack", "acknowledge", acknowledge, methods=["POST"])
    server.add_url_rule("/api/alerts/<fingerprint>/silence", "silence", silence, methods=["POST"])
    server.extensions["cockpit_login_throttle"] = throttle


def _field(name: str) -> Any:
    """A form field, or the same key of a JSON body."""
    if name in request.form:
        return request.form.get(name)
    body = request.get_json(silent=True) if request.is_json else None
    return (body or {}).get(name) if isinstance(body, dict) else None
