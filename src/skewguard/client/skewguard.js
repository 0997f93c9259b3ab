/*!
 * skewguard browser client: notices when the fleet has moved to a newer release than this page,
 * and converges on it without destroying what the user is doing (a call, a video, a form).
 *
 * Configuration comes from the server: the data-skewguard attribute of this script's tag, or
 * window.__skewguard when inlined. Public API: window.skewguard (see skewguard.d.ts).
 */
(function () {
  "use strict";
  if (window.skewguard) return; // loaded twice (an htmx swap, say): keep the first

  var script = document.currentScript;
  var cfg = window.__skewguard || {};
  try {
    if (script && script.getAttribute("data-skewguard")) cfg = JSON.parse(script.getAttribute("data-skewguard"));
  } catch (e) { /* keep defaults */ }

  var pageVersion = cfg.version;             // the release this page was rendered by
  var policy = cfg.policy || "reload";       // reload | defer | prompt | warn
  var versionUrl = cfg.versionUrl || "/version";
  var pollMs = cfg.poll == null ? 60000 : cfg.poll; // 0: no polling
  var HOLD = "X-Skewguard-Hold";
  var PIN = "X-App-Requested-Version";
  var serverVersion = pageVersion;           // the release this tab should run (the fleet's)
  var stale = false;
  var ignored = null;                        // a release the app declined (skewguard:stale canceled)
  var fleet = false;                         // a release registry stands behind /version
  var pinned = false;                        // stale and still routable: requests ask for our release
  var leaving = 0;                           // when a navigation away began (ours or Inertia's)
  var destination = null;                    // where a held-back navigation was going
  var warned = false;
  var banner = null;
  var dismissedFor = null;
  var appHolds = [];
  var sentForms = [];                        // protected forms submitted, their answer not shown yet
  var peers = [];
  var streams = [];
  var inflight = 0;
  var loading = 0;                           // module preloads, scripts and styles in flight
  var handlers = {};
  var channel = window.BroadcastChannel ? new BroadcastChannel("skewguard") : null;

  // -- events ------------------------------------------------------------------------------------

  function emit(name, detail) {
    var event = new CustomEvent("skewguard:" + name, { detail: detail, cancelable: true });
    var allowed = document.dispatchEvent(event);
    (handlers[name] || []).slice().forEach(function (fn) {
      if (fn(event) === false) allowed = false;
    });
    return allowed;
  }

  function on(name, fn) {
    (handlers[name] = handlers[name] || []).push(fn);
    return function () {
      handlers[name] = (handlers[name] || []).filter(function (f) { return f !== fn; });
    };
  }

  // -- the loop guard's memory (per tab) ----------------------------------------------------------
  // ran: releases this tab has run (never reload back to one: no downgrade, no ping-pong);
  // tries: reloads toward a target that have not reached it yet; last: the reload under way.

  var memory = { ran: [], tries: {} };
  try { memory = JSON.parse(sessionStorage.getItem("skewguard:reloads")) || memory; } catch (e) { /* fresh */ }
  if (!memory.ran || !memory.tries) memory = { ran: [], tries: {} };
  function remember() {
    try { sessionStorage.setItem("skewguard:reloads", JSON.stringify(memory)); } catch (e) { /* private mode */ }
  }
  var retrying = memory.last && memory.last !== pageVersion; // a reload landed on a server still behind
  if (memory.last === pageVersion) delete memory.tries[pageVersion]; // achieved
  memory.last = null;
  memory.ran = memory.ran.filter(function (r) { return Date.now() - r.at < 600000 && r.v !== pageVersion; });
  memory.ran.push({ v: pageVersion, at: Date.now() });
  remember();

  // -- discovery: every way of learning about a release ends here --------------------------------

  // The one discovery path: a poll, a header, an Inertia page object, a 409, a chunk error and
  // another tab all come here. It fires skewguard:stale once, tells the other tabs, and
  // schedules convergence by the policy.
  function discover(version, source, routable) {
    if (!version || !pageVersion || version === pageVersion || version === ignored) return;
    serverVersion = version;
    pinned = !!cfg.pin && routable !== false;
    if (!stale) {
      if (!emit("stale", { version: pageVersion, serverVersion: version, source: source })) {
        ignored = version;
        pinned = false;
        return;
      }
      stale = true;
      staleSince = Date.now();
      if (channel && source !== "broadcast") {
        channel.postMessage({ type: "version", version: version, from: pageVersion, fleet: fleet, routable: routable });
      }
    }
    proceed();
  }

  // What /version (or another tab) says: the fleet's active release and where this page stands.
  function learn(body, source) {
    fleet = !!body.active;
    var target = body.active || body.version;
    var standing = body.client ||
      (body.active === pageVersion || body.version === pageVersion ? "current" : "stale");
    caughtUp = body.behind ? 0 : caughtUp + 1;
    if (!stale && body.version !== target) rollout = Date.now(); // servers disagree: a rollout is under way
    if (standing === "current" || standing === "newer") { // never toward an older release
      if (body.version !== pageVersion) ahead[body.version] = 1;
      return;
    }
    discover(target, source, standing === "stale");
  }

  // The live-tab heartbeat, as query parameters on the poll (the server's answer is the same):
  // a random per-tab id, this page's release and state, chunk errors since the last beat, and
  // after a reload skewguard caused, the release it came from and how long it was stale (ms).
  var tabId, chunkErrors = 0, staleSince = 0, arrival = null;
  try {
    tabId = sessionStorage.getItem("skewguard:tab");
    arrival = JSON.parse(sessionStorage.getItem("skewguard:from") || "null");
    sessionStorage.removeItem("skewguard:from");
  } catch (e) { /* private mode: a new id per page */ }
  if (!tabId) {
    tabId = Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(12)), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { sessionStorage.setItem("skewguard:tab", tabId); } catch (e) { /* kept in memory */ }
  }
  function heartbeat() {
    var q = (versionUrl.indexOf("?") < 0 ? "?" : "&") + "tid=" + tabId + "&rel=" + encodeURIComponent(pageVersion || "") + "&stale=" + +stale +
      "&held=" + encodeURIComponent(holdingReasons().join(",")) + "&err=" + chunkErrors;
    if (arrival && arrival.from !== pageVersion) q += "&from=" + encodeURIComponent(arrival.from) + "&waited=" + Math.max(0, arrival.at - arrival.since);
    arrival = null;
    chunkErrors = 0;
    return q;
  }

  // Asks the server which release the fleet runs. The only place /version is polled from.
  var lastAsked = 0;
  var caughtUp = 0; // answers in a row from servers running the fleet's release (0: the last was behind)
  var ahead = {}; // releases served while this page's release was still the fleet's
  function fetchVersion(force, source) {
    var now = Date.now();
    if (!force && now - lastAsked < 1000) return Promise.resolve(serverVersion);
    lastAsked = now;
    var url = versionUrl + heartbeat() + "&client=" + encodeURIComponent(pageVersion);
    return nativeFetch(url, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { learn(body, source || "poll"); return body.version; });
  }

  // A response hinted at another release: a passing X-App-Version decides nothing on its own
  // (mid-rollout it may come from a server ahead of the fleet); ask which release the fleet runs.
  function hint(version, source, tag) {
    if (!stale && version && version !== pageVersion) rollout = Date.now();
    if (!version || tag === "server" || tag !== "1" && (version === pageVersion || ahead[version]) || version === serverVersion && stale) return;
    fetchVersion(false, source).catch(function () {});
  }

  function readResponse(status, getHeader, source) {
    try {
      var location409 = status === 409 && getHeader("X-Inertia-Location");
      if (location409) {
        // Inertia follows it with a hard visit to the request's own target: let it, unless held.
        if (!holdingReasons(false).length) leaving = Date.now();
        else destination = location409;
        discover(getHeader("X-Inertia-Version") || getHeader("X-App-Version"), "409");
      } else if (status === 409 && pinned) {
        pinned = false; // the router no longer knows our release: converge by the policy
        proceed();
      } else {
        hint(getHeader("X-App-Version"), source, getHeader("X-App-Stale"));
      }
    } catch (e) { /* cross-origin or opaque: nothing to learn */ }
  }

  // While servers disagree (a rolling deploy), the visible tab asks every second, for two
  // minutes at most: the fleet's switch to the new release is then noticed at once.
  var rollout = 0;
  var pollDelay = pollMs;
  var rested = 0;
  function schedulePoll() {
    if (!pollMs) return;
    setTimeout(function () {
      // Hidden tabs rest: the visible one polls and tells the others (BroadcastChannel). Every
      // fourth poll still goes out, so the server keeps counting the tab as live.
      if (document.visibilityState === "hidden" && ++rested % 4) return schedulePoll();
      fetchVersion(true).then(function () { pollDelay = pollMs; }, function () {
        pollDelay = Math.min(pollDelay * 2, 600000); // back off while the server is unreachable
      }).then(schedulePoll);
    }, Date.now() - rollout < 120000 ? Math.min(pollDelay, 1000) : pollDelay);
  }

  // -- is it safe to reload? ---------------------------------------------------------------------

  function holdingReasons(withRequests) {
    var reasons = [];
    var media = document.querySelectorAll("audio,video");
    for (var i = 0; i < media.length; i++) {
      if (!media[i].paused && !media[i].ended) { reasons.push("media"); break; }
    }
    for (i = 0; i < streams.length; i++) {
      if (streams[i].getTracks().some(function (t) { return t.readyState === "live"; })) { reasons.push("capture"); break; }
    }
    for (i = 0; i < peers.length; i++) {
      var state = peers[i].connectionState;
      if (state === "connecting" || state === "connected") { reasons.push("call"); break; }
    }
    if (sentForms.length || document.querySelector("form[data-skewguard-dirty]")) reasons.push("form");
    if (withRequests !== false && inflight + loading > 0) reasons.push("request");
    appHolds.forEach(function (h) { reasons.push(h.reason); });
    return reasons;
  }

  function safe() { return !holdingReasons().length; }

  // -- the policy --------------------------------------------------------------------------------

  // A navigation under way is left alone; one that did not happen (canceled) is forgotten.
  function away() { return Date.now() - leaving < 5000; }

  function proceed() {
    if (!stale || away()) return;
    if (policy === "warn") {
      if (!warned) console.warn("skewguard: page runs " + pageVersion + ", fleet runs " + serverVersion);
      warned = true;
    } else if (!safe()) {
      if (policy !== "defer") showBanner(); // waiting for a call or a video to end: say so
    } else if (policy === "reload" || document.visibilityState === "hidden") {
      converge(destination);
    } else if (policy === "prompt") {
      showBanner();
    }
  }

  // May this tab reload toward the target now? The loop guard counts reloads that reached their
  // target (the tab then ran it: it never goes back). One that landed on a server still behind
  // the fleet's active release is retried, five times at most: after a growing pause (1, 2, 4,
  // 8 s), right after an answer from a server still behind (a round-robin balancer sends the
  // next request to another server); or 1 s after the last try once two answers in a row came
  // from servers running the active release (the fleet has caught up: no answer from behind may
  // ever come again, and waiting out a long pause would only delay the tab).
  // Without a registry no release is the fleet's: landing elsewhere means two releases answer
  // in turn, and the tab stays where it is.
  var retryTimer = null;
  function mayReload() {
    var target = serverVersion;
    if (memory.ran.some(function (r) { return r.v === target; })) return "this tab already ran it";
    var tries = memory.tries[target] || { n: 0, at: 0 };
    if (tries.n && !fleet) return "a reload landed elsewhere (two releases behind one address?)";
    if (tries.n >= 5) return tries.n + " reloads landed on servers still behind";
    var wait = tries.at + (1000 << (caughtUp > 1 ? 0 : tries.n)) - Date.now();
    if (wait > 0 || tries.n && caughtUp == 1) { // ask again (twice a second at least), then retry
      if (!retryTimer) retryTimer = setTimeout(function () { retryTimer = null; fetchVersion(true).catch(function () {}); }, Math.min(wait, 500));
      return "";
    }
    return null;
  }

  function converge(url) {
    // A click while a navigation is under way: the user's destination wins, as in any browser.
    if (away()) { if (url) location.assign(url); return true; }
    var refusal = mayReload();
    if (refusal !== null) {
      if (refusal && !warned) console.warn("skewguard: not reloading toward " + serverVersion + ": " + refusal + " (loop guard).");
      if (refusal) warned = true;
      return false;
    }
    var target = url || location.href; // keeps query and hash
    if (!emit("reload", { version: pageVersion, serverVersion: serverVersion, url: target })) return false;
    var tries = memory.tries[serverVersion] || { n: 0 };
    memory.tries[serverVersion] = { n: tries.n + 1, at: Date.now() };
    memory.last = serverVersion;
    remember();
    try {
      sessionStorage.setItem("skewguard:from", JSON.stringify({ from: pageVersion, since: staleSince || Date.now(), at: Date.now() }));
    } catch (e) { /* private mode */ }
    leaving = Date.now();
    if (target === location.href) location.reload();
    else location.assign(target);
    return true;
  }

  // -- what each request carries ------------------------------------------------------------------
  // The hold marker is a header on the request itself, decided when it is sent (no timer, no
  // cookie): the first request after a guard starts is covered, and no other tab is. It names
  // the release whose X-Inertia-Version the request sends, which is always the page's own.

  function markerNeeded() { return holdingReasons(false).length > 0 || (stale && policy !== "reload"); }

  function extraHeaders() {
    var headers = {};
    if (markerNeeded()) headers[HOLD] = pageVersion;
    if (pinned && stale) headers[PIN] = pageVersion;
    return headers;
  }

  // -- the prompt banner -------------------------------------------------------------------------

  function showBanner() {
    if (banner) {
      // "Later" hides it for the release it announced; a newer one brings it back.
      if (dismissedFor !== serverVersion) banner.style.display = "flex";
      return;
    }
    banner = document.createElement("div");
    banner.setAttribute("role", "status"); // implies aria-live="polite"
    banner.setAttribute("data-skewguard-banner", "");
    banner.style.cssText = "position:fixed;z-index:2147483647;left:50%;bottom:16px;transform:translateX(-50%);" +
      "display:flex;gap:12px;align-items:center;padding:10px 14px;border-radius:8px;background:#1f2937;color:#fff;" +
      "font:14px/1.4 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.25)";
    var text = document.createElement("span");
    text.textContent = cfg.message || "A new version is available.";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Reload";
    button.style.cssText = "font:inherit;padding:4px 12px;border:0;border-radius:6px;background:#fff;color:#111;cursor:pointer";
    button.addEventListener("click", function () { converge(destination); });
    var later = document.createElement("button");
    later.type = "button";
    later.textContent = "Later";
    later.setAttribute("aria-label", "Dismiss");
    later.style.cssText = "font:inherit;padding:4px 8px;border:0;background:transparent;color:#d1d5db;cursor:pointer";
    later.addEventListener("click", function () { banner.style.display = "none"; dismissedFor = serverVersion; });
    banner.append(text, button, later);
    (document.body || document.documentElement).appendChild(banner);
  }

  // -- hooks: where versions are learned and guards observed -------------------------------------

  var nativeFetch = window.fetch.bind(window);
  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; }
  }

  // XMLHttpRequest (htmx 2, Inertia 0.11-3, axios): count in flight, read the version, and add
  // each header once, whichever hooks set it before (a doubled header is "v1, v1").
  var xhr = XMLHttpRequest.prototype;
  var xhrOpen = xhr.open;
  var xhrSend = xhr.send;
  var xhrSet = xhr.setRequestHeader;
  xhr.open = function (method, url) {
    this._skewguard = sameOrigin(url) ? {} : null;
    return xhrOpen.apply(this, arguments);
  };
  xhr.setRequestHeader = function (name, value) {
    var seen = this._skewguard;
    if (seen) {
      var key = String(name).toLowerCase();
      if (seen[key]) return; // set once: the first value stands
      seen[key] = 1;
      // Inertia adopts the version of the page objects it receives; the server must know the
      // release this page's code really is (a held page stays at its own release).
      if (key === "x-inertia-version" && pageVersion) value = pageVersion;
    }
    return xhrSet.call(this, name, value);
  };
  xhr.send = function () {
    var request = this;
    if (request._skewguard) {
      var headers = extraHeaders();
      for (var name in headers) request.setRequestHeader(name, headers[name]);
      inflight++;
      request.addEventListener("loadend", function () {
        inflight--;
        if (request.status) readResponse(request.status, function (h) { return request.getResponseHeader(h); }, "xhr");
        proceed();
      });
    }
    return xhrSend.apply(this, arguments);
  };

  // fetch: opt-in (cfg.fetch), as wrapping a global is the app's call to make.
  if (cfg.fetch) {
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : input && input.url;
      if (!sameOrigin(url)) return nativeFetch(input, init);
      init = init || {};
      var headers = new Headers(init.headers || (input && input.headers) || {});
      var extra = extraHeaders();
      for (var name in extra) headers.set(name, extra[name]);
      if (headers.has("X-Inertia-Version") && pageVersion) headers.set("X-Inertia-Version", pageVersion);
      init.headers = headers;
      inflight++;
      return nativeFetch(input, init).then(function (response) {
        inflight--;
        readResponse(response.status, function (h) { return response.headers.get(h); }, "fetch");
        proceed();
        return response;
      }, function (error) { inflight--; proceed(); throw error; });
    };
  }

  // htmx 4 (fetch-based): headers on the way out; in flight until swapped and settled.
  function listen(type, fn) { document.addEventListener(type, fn, true); }
  listen("htmx:config:request", function (e) {
    var request = e.detail && e.detail.ctx && e.detail.ctx.request;
    var headers = extraHeaders();
    if (request && request.headers) for (var name in headers) request.headers[name] = headers[name];
  });
  listen("htmx:before:request", function (e) {
    var ctx = e.detail && e.detail.ctx;
    if (ctx) { ctx._skewguard = 1; inflight++; sentCount++; }
  });
  listen("htmx:after:settle", function (e) {
    fresh = fresh.concat([].slice.call((e.detail && e.detail.newContent) || []));
  });
  // Fires after the swap, the settle and the history push: a reload goes where a boosted
  // navigation was taking the user, and a submitted form's answer has been shown.
  listen("htmx:finally:request", function (e) {
    var ctx = e.detail && e.detail.ctx;
    if (!ctx || ctx._skewguard !== 1) return;
    ctx._skewguard = 2;
    var response = ctx.response;
    inflight--;
    if (response && response.headers && response.headers.get) {
      readResponse(response.status, function (h) { return response.headers.get(h); }, "htmx");
    }
    answered(response && response.status);
  });
  // htmx 2: XHR-based, so the hooks above see its requests; a form's answer is on screen once
  // it has settled (or at once when nothing is swapped in).
  var htmx2Swapped = false;
  function htmx2Status(e) { return e.detail && e.detail.xhr && e.detail.xhr.status; }
  window.addEventListener("htmx:beforeSwap", function (e) { htmx2Swapped = !!(e.detail && e.detail.shouldSwap); });
  listen("htmx:afterSettle", function (e) { fresh.push(e.target); answered(htmx2Status(e)); });
  listen("htmx:afterRequest", function (e) { // nothing was swapped in: the answer is all there is
    if (!htmx2Swapped) answered(htmx2Status(e));
    htmx2Swapped = false;
  });

  // Inertia: page objects carry the version; visits are where users click.
  var inertiaSent = false;
  var inertiaErrors = false;
  listen("inertia:navigate", function (e) { hint(((e.detail && e.detail.page) || {}).version, "inertia"); });
  listen("inertia:success", function () { inertiaErrors = false; });
  listen("inertia:error", function () { inertiaErrors = true; }); // validation errors: re-rendered
  listen("inertia:before", function (e) {
    var visit = e.detail && e.detail.visit;
    if (!visit) return;
    var get = String(visit.method).toLowerCase() === "get";
    if (!get && sentForms.length) inertiaSent = true;
    // Stale and free to reload: the click reloads onto its own destination. When the loop guard
    // or a hold says no, the visit goes ahead as usual and the server's rules decide.
    if (stale && get && !visit.async && !visit.prefetch && policy !== "warn" && safe() && converge(String(visit.url.href || visit.url))) {
      e.preventDefault();
    }
  });
  listen("inertia:finish", function () { if (inertiaSent) answered(inertiaErrors ? 422 : 200); });
  // Inertia 3 asks before a 409's hard visit: it goes to the request's target unless held.
  listen("inertia:location", function (e) {
    if (!e.detail || !e.detail.versionChange) return;
    if (holdingReasons(false).length) {
      e.preventDefault();
      destination = String(e.detail.url && e.detail.url.href || e.detail.url);
      leaving = 0;
    } else {
      leaving = Date.now();
    }
  });

  // defer and prompt: the next same-origin link click is a full page load (htmx and Inertia
  // handlers on the link never see it: window's capture phase runs before them). So is a click
  // while a reload is under way, under any policy: the page is leaving, and the browser's own
  // navigation to the click's target replaces the reload (an htmx or Inertia request would be
  // cut off by it, the click lost).
  window.addEventListener("click", function (e) {
    if (!stale || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey ||
        !away() && (policy !== "defer" && policy !== "prompt" || !safe() || mayReload() !== null)) return;
    var link = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (!link || link.target && link.target !== "_self" || link.hasAttribute("download")) return;
    var url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.href.split("#")[0] === location.href.split("#")[0] && url.hash) return;
    e.stopPropagation(); // the browser's own navigation happens: a full page load of the target
  }, true);

  // Protected forms (<form data-skewguard-protect>): edited and not yet submitted, or submitted
  // and its answer not yet on screen. An answer that shows errors (4xx) keeps the form held.
  listen("input", function (e) {
    var form = e.target && e.target.closest && e.target.closest("form[data-skewguard-protect]");
    if (form) form.setAttribute("data-skewguard-dirty", "");
  });
  listen("submit", function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-skewguard-protect")) return;
    form.removeAttribute("data-skewguard-dirty");
    sentForms.push(form);
    var before = inflight + sentCount;
    setTimeout(function () { // handled in the page and nothing was sent: nothing to wait for
      if (e.defaultPrevented && inflight + sentCount === before && !inflight) answered(200);
    }, 0);
  });
  var sentCount = 0;
  listen("inertia:start", function () { sentCount++; });
  var fresh = []; // what the answer's swap put on the page
  function answered(status) {
    var forms = sentForms;
    var swapped = fresh;
    fresh = [];
    if (!forms.length) return;
    sentForms = [];
    inertiaSent = false;
    forms.forEach(function (form) { if (status >= 400) form.setAttribute("data-skewguard-dirty", ""); });
    // Rendered anew (a framework replaced the form): the protected forms now on the page.
    if (!swapped.length && !forms.some(function (form) { return form.isConnected; })) swapped = [document.documentElement];
    // Re-rendered with errors: what the user typed is on screen again, still theirs to lose.
    swapped.forEach(function (node) {
      if (status >= 400 && node.querySelectorAll) {
        var again = [].slice.call(node.querySelectorAll("form[data-skewguard-protect]"));
        if (node.matches("form[data-skewguard-protect]")) again.push(node);
        again.forEach(function (form) { form.setAttribute("data-skewguard-dirty", ""); });
      }
    });
    proceed();
  }

  // Calls and captures: track peer connections and camera/microphone streams.
  if (window.RTCPeerConnection) {
    var NativePeer = window.RTCPeerConnection;
    var Peer = function (config) {
      var pc = new NativePeer(config);
      track(pc);
      return pc;
    };
    Peer.prototype = NativePeer.prototype;
    window.RTCPeerConnection = Peer;
  }
  function track(pc) {
    peers.push(pc);
    pc.addEventListener("connectionstatechange", function () {
      if (pc.connectionState === "closed" || pc.connectionState === "failed") peers = peers.filter(function (p) { return p !== pc; });
      proceed();
    });
  }
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    var gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = function (constraints) {
      return gum(constraints).then(function (stream) {
        trackStream(stream);
        return stream;
      });
    };
  }
  function trackStream(stream) {
    streams.push(stream);
    stream.getTracks().forEach(function (t) { t.addEventListener("ended", proceed); });
  }
  ["pause", "ended"].forEach(function (type) { listen(type, function () { proceed(); }); });

  // Module preloads, scripts and stylesheets added by a chunk loader hold the page until loaded,
  // and so does every import() that skewguard build or its Vite plugin wrapped:
  // Object(globalThis.__skewguardImport||Object)(import(x)).
  // Loaded is not yet run: what waits on a preload or an import resolves a moment later.
  function loaded() { setTimeout(function () { loading--; proceed(); }, 100); }
  var inFlight = window.__skewguardImport = function (promise) {
    loading++;
    promise.then(loaded, loaded); // a failed chunk is still the app's (and chunkFailed's) to see
    return promise;
  };
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.tagName === "SCRIPT" && node.src || node.tagName === "LINK" && /preload|stylesheet/.test(node.rel)) {
            inFlight(new Promise(function (done) { // settles once, whichever fires (or fires again)
              node.addEventListener("load", done);
              node.addEventListener("error", done);
            }));
          }
        });
      });
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  // A chunk that no longer exists (pruned, or a newer deploy): ask the server, reload when safe.
  // The app still sees the failure (its error boundary decides what to show meanwhile).
  function chunkFailed() {
    chunkErrors++;
    fetchVersion(true, "chunk").then(function () {
      if (stale && policy !== "reload") {
        policy = "reload"; // a broken page is not worth keeping: reload as soon as it is safe
        proceed();
      }
    }, function () {});
  }
  window.addEventListener("vite:preloadError", chunkFailed);
  window.addEventListener("unhandledrejection", function (e) {
    var message = String(e.reason && (e.reason.message || e.reason));
    if (/dynamically imported module|Importing a module script failed|error loading dynamically/i.test(message)) chunkFailed();
  });
  window.addEventListener("error", function (e) {
    var el = e.target;
    if (el && (el.tagName === "SCRIPT" || el.tagName === "LINK") && sameOrigin(el.src || el.href)) chunkFailed();
  }, true);

  // Other tabs: one discovery reaches all, without every tab polling.
  if (channel) {
    channel.onmessage = function (e) {
      var m = e.data;
      if (!m || m.type !== "version") return;
      if (m.from === pageVersion) {
        fleet = m.fleet;
        discover(m.version, "broadcast", m.routable);
      } else if (m.version !== pageVersion) {
        fetchVersion(false, "broadcast").catch(function () {});
      }
    };
  }

  // History: a page restored from the bfcache or the HTTP cache may be an old release: ask now.
  function restored() {
    leaving = 0;
    fetchVersion(true, "history").catch(function () {});
  }
  window.addEventListener("pageshow", function (e) { if (e.persisted) restored(); });
  window.addEventListener("popstate", restored);
  var navigation = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
  if (retrying || navigation && navigation.type === "back_forward") restored();

  listen("visibilitychange", function () {
    if (document.visibilityState === "visible") fetchVersion().catch(function () {});
    proceed();
  });
  window.addEventListener("focus", function () { fetchVersion().catch(function () {}); });
  setInterval(proceed, 1000); // guards end without events too (a track stopped elsewhere, a call dropped)
  schedulePoll();

  window.skewguard = {
    version: pageVersion,
    policy: policy,
    get serverVersion() { return serverVersion; },
    get stale() { return stale; },
    get holding() { return holdingReasons(); },
    check: function () { return fetchVersion(true, "check"); },
    hold: function (reason) {
      var h = { reason: reason || "app" };
      appHolds.push(h);
      return function release() {
        appHolds = appHolds.filter(function (x) { return x !== h; });
        proceed();
      };
    },
    trackPeer: track,
    trackStream: trackStream,
    reload: function () { return converge(); },
    on: on
  };
})();
