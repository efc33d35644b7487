/* edu-cockpit web tracker: no build step, no cookies, no dependencies.
 *
 *   <script defer src="https://collector.example/t.js" data-platform="k12" data-section="lessons"></script>
 *
 * Sends: a pageview on load and on single-page route changes (history.pushState/replaceState,
 * popstate); clicks, plays and downloads of elements carrying data-edu-resource (data-edu-action =
 * view | play | download, data-edu-section optional); a session start, a heartbeat while the page is
 * visible and a session end. Events are batched (20 or 2 s), sent with fetch(keepalive) as
 * text/plain (no CORS preflight) and with navigator.sendBeacon when the page is hidden; failed or
 * refused-for-now sends (network, 429, 5xx) are retried with exponential backoff and Retry-After.
 * The tracker never sends a user id, an address or a province: the collector derives them.
 */
(function () {
  "use strict";
  if (window.eduTracker) return;
  var script = document.currentScript || {};
  var cfg = script.dataset || {};
  var endpoint = cfg.endpoint || (script.src ? new URL("/api/event", script.src).href : "/api/event");
  var platform = cfg.platform || "k12";
  var pageSection = cfg.section || "other";
  var MAX_BATCH = 20, MAX_QUEUE = 1000;
  var flushMs = +cfg.flushMs || 2000;
  var heartbeatMs = +cfg.heartbeatMs || 30000;
  var queue = [], timer = null, inflight = false, backoff = 1000, retryTimer = null;
  var lastPath = null, ended = false;

  function rid() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function store(key, value) {
    try { if (value === undefined) return sessionStorage.getItem(key); sessionStorage.setItem(key, value); } catch (e) { return null; }
    return value;
  }

  var sid = store("edu_sid"), started = +store("edu_sstart") || 0, isNew = !sid;
  if (isNew) { sid = store("edu_sid", rid()); started = Date.now(); store("edu_sstart", String(started)); }

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : null;
  }

  function push(ev) {
    ev.platform = platform;
    ev.session = sid;
    ev.ts = Date.now();
    ev.id = rid();
    queue.push(ev);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (queue.length >= MAX_BATCH) flush(false);
    else if (!timer) timer = setTimeout(function () { timer = null; flush(false); }, flushMs);
  }

  function flush(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || (inflight && !beacon) || (retryTimer && !beacon)) return;
    var batch = queue.splice(0, MAX_BATCH);
    var url = endpoint + "?sent=" + Date.now();
    var body = JSON.stringify(batch);
    if (beacon && navigator.sendBeacon) {
      if (navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) {
        if (queue.length) flush(true);
        return;
      }
    }
    inflight = true;
    fetch(url, { method: "POST", body: body, headers: { "Content-Type": "text/plain" }, keepalive: true,
                 credentials: "omit", mode: "cors" })
      .then(function (r) {
        inflight = false;
        if (r.status === 429 || r.status >= 500) { retry(batch, r.headers.get("Retry-After")); return; }
        backoff = 1000;  /* 2xx, or a 4xx that a resend would not cure */
        if (queue.length) flush(false);
      }, function () { inflight = false; retry(batch, null); });
  }

  function retry(batch, after) {
    queue = batch.concat(queue).slice(0, MAX_QUEUE);
    var wait = after ? (+after) * 1000 : backoff;
    backoff = Math.min(backoff * 2, 60000);
    retryTimer = setTimeout(function () { retryTimer = null; flush(false); }, wait + Math.random() * 250);
  }

  function pageview() {
    var path = location.pathname + location.search;
    if (path === lastPath) return;
    lastPath = path;
    var resource = meta("edu-resource") || location.pathname.slice(0, 64) || "/";
    push({ type: "pageview", action: "view", resource: resource, section: meta("edu-section") || pageSection });
  }

  function resourceEvent(el, action) {
    push({ type: "click", action: action, resource: el.getAttribute("data-edu-resource").slice(0, 64),
           section: el.getAttribute("data-edu-section") || meta("edu-section") || pageSection });
  }

  document.addEventListener("click", function (e) {
    var el = e.target && e.target.closest ? e.target.closest("[data-edu-resource]") : null;
    if (!el) return;
    var action = el.getAttribute("data-edu-action") || "view";
    if (action === "play" && (el.tagName === "VIDEO" || el.tagName === "AUDIO")) return; /* counted on play */
    resourceEvent(el, action);
  }, true);
  document.addEventListener("play", function (e) {
    var el = e.target;
    if (el && el.getAttribute && el.getAttribute("data-edu-resource")) resourceEvent(el, "play");
  }, true);

  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    history[name] = function () {
      var out = orig.apply(this, arguments);
      setTimeout(pageview, 0);
      return out;
    };
  });
  window.addEventListener("popstate", pageview);

  if (isNew) push({ type: "session", kind: "start" });
  setInterval(function () {
    if (document.visibilityState === "visible" && !ended)
      push({ type: "session", kind: "heartbeat", duration_s: (Date.now() - started) / 1000 });
  }, heartbeatMs);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
  /* A page's life is a session (the platform's sites are single-page apps): it ends when the page
     goes away, and a reload or another page of a multi-page site starts a new one. */
  window.addEventListener("pagehide", function () { end(); });

  function end() {
    if (ended) return;
    ended = true;
    push({ type: "session", kind: "end", duration_s: (Date.now() - started) / 1000 });
    try { sessionStorage.removeItem("edu_sid"); sessionStorage.removeItem("edu_sstart"); } catch (e) { /* private mode */ }
    flush(true);
  }

  window.eduTracker = {
    track: function (resource, action, section) {
      push({ type: "click", action: action || "view", resource: String(resource).slice(0, 64),
             section: section || pageSection });
    },
    pageview: pageview,
    flush: function () { flush(false); },
    end: end,  /* call on logout; the page going away calls it too */
    queued: function () { return queue.length; }
  };
  pageview();
})();
