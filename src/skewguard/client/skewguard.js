/*!
 * skewguard browser client: notices when the server runs a newer release than this page, and
 * converges on it without destroying what the user is doing (a call, a video, a half-written form).
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
  var holdHeader = "X-Skewguard-Hold";
  var holdCookie = "skewguard_hold_" + pageVersion;
  var serverVersion = pageVersion;
  var stale = false;
  var warned = false;
  var banner = null;
  var appHolds = [];
  var peers = [];
  var streams = [];
  var inflight = 0;
  var handlers = {};
  var channel = null;
  var reloadKey = "skewguard:reloads";

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

  // -- what the server runs ----------------------------------------------------------------------

  // hint "server": the answering server is older than this page (a rolling deploy): never stale.
  function observe(version, source, hint) {
    if (!version || !pageVersion || hint === "server") return;
    serverVersion = version;
    if (version === pageVersion) return;
    if (!stale) {
      if (!emit("stale", { version: pageVersion, serverVersion: version, source: source })) return;
      stale = true;
      staleSince = Date.now();
      if (channel && source !== "broadcast") channel.postMessage({ type: "version", version: version, from: pageVersion });
    }
    proceed();
  }

  function observeResponse(getHeader, source) {
    try {
      observe(getHeader("X-App-Version"), source, getHeader("X-App-Stale"));
    } catch (e) { /* cross-origin or opaque: nothing to learn */ }
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
    var q = (versionUrl.indexOf("?") < 0 ? "?" : "&") + "tid=" + tabId + "&rel=" + encodeURIComponent(pageVersion || "") + "&stale=" + (stale ? 1 : 0) +
      "&held=" + encodeURIComponent(holdingReasons().join(",")) + "&err=" + chunkErrors;
    if (arrival && arrival.from !== pageVersion) q += "&from=" + encodeURIComponent(arrival.from) + "&waited=" + Math.max(0, arrival.at - arrival.since);
    arrival = null;
    chunkErrors = 0;
    return q;
  }

  var lastCheck = 0;
  function check(force) {
    var now = Date.now();
    if (!force && now - lastCheck < 2000) return Promise.resolve(serverVersion);
    lastCheck = now;
    return nativeFetch(versionUrl + heartbeat(), { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { observe(body.version, "poll"); return body.version; });
  }

  var pollDelay = pollMs;
  var rested = 0;
  function schedulePoll() {
    if (!pollMs) return;
    setTimeout(function () {
      // Hidden tabs rest: the visible one polls and tells the others (BroadcastChannel). Every
      // fourth poll still goes out, so the server keeps counting the tab as live.
      if (document.visibilityState === "hidden" && ++rested % 4) return schedulePoll();
      check(true).then(function () { pollDelay = pollMs; }, function () {
        pollDelay = Math.min(pollDelay * 2, 10 * 60000); // back off while the server is unreachable
      }).then(schedulePoll);
    }, pollDelay);
  }

  // -- is it safe to reload? ---------------------------------------------------------------------

  function holdingReasons(withRequests) {
    var reasons = [];
    var media = document.querySelectorAll("audio, video");
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
    if (document.querySelector("form[data-skewguard-dirty]")) reasons.push("form");
    if (withRequests !== false && inflight > 0) reasons.push("request");
    appHolds.forEach(function (h) { reasons.push(h.reason); });
    return reasons;
  }

  function safe() { return holdingReasons().length === 0; }

  // -- the policy --------------------------------------------------------------------------------

  function proceed() {
    updateMarker();
    if (!stale) return;
    if (policy === "warn") {
      if (!warned) console.warn("skewguard: this page runs " + pageVersion + ", the server runs " + serverVersion + ".");
      warned = true;
    } else if (policy === "reload") {
      // Waiting for a call or a video to end: say so, and offer to reload now.
      if (safe()) reload();
      else showBanner();
    } else if (policy === "defer" || policy === "prompt") {
      if (policy === "prompt") showBanner();
      if (document.visibilityState === "hidden" && safe()) reload();
    }
  }

  function reload(url) {
    var target = url || location.href; // keeps query and hash
    // Loop guard: one reload per target version per tab, and no more than 3 a minute.
    var log = [];
    try { log = JSON.parse(sessionStorage.getItem(reloadKey) || "[]"); } catch (e) { /* fresh log */ }
    var now = Date.now();
    log = log.filter(function (entry) { return now - entry.at < 60000 || entry.version === serverVersion; });
    var sameTarget = log.some(function (entry) { return entry.version === serverVersion && now - entry.at < 600000; });
    if (sameTarget || log.length >= 3) {
      if (!warned) console.warn("skewguard: not reloading again for " + serverVersion + " (loop guard).");
      warned = true;
      return false;
    }
    if (!emit("reload", { version: pageVersion, serverVersion: serverVersion, url: target })) return false;
    log.push({ version: serverVersion, at: now });
    try {
      sessionStorage.setItem(reloadKey, JSON.stringify(log));
      sessionStorage.setItem("skewguard:from", JSON.stringify({ from: pageVersion, since: staleSince || now, at: now }));
    } catch (e) { /* private mode */ }
    clearMarker();
    if (target === location.href) location.reload();
    else location.assign(target);
    return true;
  }

  // -- the hold marker: "do not force this page to reload now" ---------------------------------
  // Sent whenever something holds the page, stale or not: the first request after a deploy comes
  // from a page that does not know yet, and must not get a 409 (Inertia would reload at once).
  // The server only acts on it when the versions differ. Under defer/prompt/warn a stale page is
  // never forced, so it is sent then too.

  var markerSet = false;
  function markerNeeded() { return holdingReasons(false).length > 0 || (stale && policy !== "reload"); }

  function updateMarker() {
    if (markerNeeded()) {
      document.cookie = holdCookie + "=1; path=/; max-age=3600; samesite=lax";
      markerSet = true;
    } else {
      clearMarker();
    }
  }

  function clearMarker() {
    if (!markerSet) return; // another tab at this version may hold it: only clear our own
    markerSet = false;
    document.cookie = holdCookie + "=; path=/; max-age=0; samesite=lax";
  }

  // -- the prompt banner -------------------------------------------------------------------------

  function showBanner() {
    if (banner) return;
    banner = document.createElement("div");
    banner.setAttribute("role", "status");
    banner.setAttribute("aria-live", "polite");
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
    button.addEventListener("click", function () { reload(); });
    var later = document.createElement("button");
    later.type = "button";
    later.textContent = "Later";
    later.setAttribute("aria-label", "Dismiss");
    later.style.cssText = "font:inherit;padding:4px 8px;border:0;background:transparent;color:#d1d5db;cursor:pointer";
    later.addEventListener("click", function () { banner.style.display = "none"; });
    banner.appendChild(text);
    banner.appendChild(button);
    banner.appendChild(later);
    (document.body || document.documentElement).appendChild(banner);
  }

  // -- hooks: where versions are learned and guards observed -------------------------------------

  var nativeFetch = window.fetch.bind(window);
  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; }
  }

  // XMLHttpRequest (htmx 2, Inertia 1-3, axios): read the version, count in-flight, add the marker.
  var xhrOpen = XMLHttpRequest.prototype.open;
  var xhrSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this._skewguard = sameOrigin(url);
    return xhrOpen.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this;
    if (xhr._skewguard) {
      if (markerNeeded()) xhr.setRequestHeader(holdHeader, pageVersion);
      inflight++;
      xhr.addEventListener("loadend", function () {
        inflight--;
        if (xhr.status) observeResponse(function (name) { return xhr.getResponseHeader(name); }, "xhr");
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
      if (markerNeeded()) {
        var headers = new Headers(init.headers || (input && input.headers) || {});
        headers.set(holdHeader, pageVersion);
        init.headers = headers;
      }
      inflight++;
      return nativeFetch(input, init).then(function (response) {
        inflight--;
        observeResponse(function (name) { return response.headers.get(name); }, "fetch");
        proceed();
        return response;
      }, function (error) { inflight--; proceed(); throw error; });
    };
  }

  // htmx 4 (fetch-based): headers on the way out, the version on the way back.
  document.addEventListener("htmx:config:request", function (e) {
    var ctx = e.detail && e.detail.ctx;
    if (ctx && ctx.request && ctx.request.headers && markerNeeded()) ctx.request.headers[holdHeader] = pageVersion;
  });
  // Observed at the very end (after the swap and the history push), so that a reload goes to
  // where a boosted navigation was taking the user.
  document.addEventListener("htmx:finally:request", function (e) {
    var response = e.detail && e.detail.ctx && e.detail.ctx.response;
    if (response && response.headers) {
      observeResponse(function (name) {
        return response.headers.get ? response.headers.get(name) : response.headers[name.toLowerCase()];
      }, "htmx");
    }
  });
  // htmx 2: XHR-based, so the hooks above already see it; the marker also goes in its headers.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail && e.detail.headers && markerNeeded()) e.detail.headers[holdHeader] = pageVersion;
  });

  // Inertia: page objects carry the version; visits can become full page loads (defer).
  document.addEventListener("inertia:navigate", function (e) {
    var page = e.detail && e.detail.page;
    if (page && page.version) observe(page.version, "inertia");
  });
  document.addEventListener("inertia:before", function (e) {
    var visit = e.detail && e.detail.visit;
    if (!visit) return;
    if (markerNeeded() && visit.headers) visit.headers[holdHeader] = pageVersion;
    if (stale && visit.method === "get" && !visit.async && !visit.prefetch && policy !== "warn" && safe()) {
      e.preventDefault();
      reload(visit.url.href || String(visit.url));
    }
  });
  // Inertia 3 asks before a 409's hard visit: refuse while something holds the page.
  document.addEventListener("inertia:location", function (e) {
    if (e.detail && e.detail.versionChange) {
      stale = true;
      if (!safe()) { e.preventDefault(); updateMarker(); }
    }
  });

  // defer and prompt: the next same-origin link click is a full page load (htmx and Inertia
  // handlers on the link never see it: window's capture phase runs before them).
  window.addEventListener("click", function (e) {
    if (!stale || (policy !== "defer" && policy !== "prompt") || e.defaultPrevented || e.button !== 0 ||
        e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || !safe()) return;
    var link = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (!link || link.target && link.target !== "_self" || link.hasAttribute("download")) return;
    var url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.href.split("#")[0] === location.href.split("#")[0] && url.hash) return;
    e.stopPropagation(); // the browser's own navigation happens: a full page load of the target
  }, true);

  // Dirty forms (opt-in: <form data-skewguard-protect>): edited and not yet submitted.
  document.addEventListener("input", function (e) {
    var form = e.target && e.target.closest && e.target.closest("form[data-skewguard-protect]");
    if (form) form.setAttribute("data-skewguard-dirty", "");
  }, true);
  ["submit", "reset"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (e.target && e.target.removeAttribute) e.target.removeAttribute("data-skewguard-dirty");
      setTimeout(proceed, 0);
    }, true);
  });

  // Calls and captures: track peer connections and camera/microphone streams.
  if (window.RTCPeerConnection) {
    var NativePeer = window.RTCPeerConnection;
    var Peer = function (config) {
      var pc = new NativePeer(config);
      peers.push(pc);
      pc.addEventListener("connectionstatechange", function () {
        if (pc.connectionState === "closed" || pc.connectionState === "failed") peers = peers.filter(function (p) { return p !== pc; });
        proceed();
      });
      return pc;
    };
    Peer.prototype = NativePeer.prototype;
    window.RTCPeerConnection = Peer;
  }
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    var gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = function (constraints) {
      return gum(constraints).then(function (stream) {
        streams.push(stream);
        stream.getTracks().forEach(function (t) { t.addEventListener("ended", proceed); });
        return stream;
      });
    };
  }
  ["pause", "ended"].forEach(function (type) { document.addEventListener(type, function () { proceed(); }, true); });

  // A chunk that no longer exists (pruned, or a newer deploy): ask the server, reload when safe.
  function chunkFailed() {
    chunkErrors++;
    check(true).then(function () {
      if (stale) {
        var previous = policy;
        policy = "reload"; // a broken page is not worth keeping: reload as soon as it is safe
        proceed();
        policy = previous === "warn" ? "reload" : previous;
      }
    }, function () {});
  }
  window.addEventListener("vite:preloadError", function (e) { e.preventDefault(); chunkFailed(); });
  window.addEventListener("unhandledrejection", function (e) {
    var message = String(e.reason && (e.reason.message || e.reason));
    if (/dynamically imported module|Importing a module script failed|error loading dynamically/i.test(message)) chunkFailed();
  });
  window.addEventListener("error", function (e) {
    var el = e.target;
    if (el && (el.tagName === "SCRIPT" || el.tagName === "LINK") && sameOrigin(el.src || el.href)) chunkFailed();
  }, true);

  // Other tabs: one discovery reaches all, without every tab polling.
  if (window.BroadcastChannel) {
    channel = new BroadcastChannel("skewguard");
    channel.onmessage = function (e) {
      if (e.data && e.data.type === "version" && e.data.from === pageVersion) observe(e.data.version, "broadcast");
    };
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") check().catch(function () {});
    proceed();
  });
  window.addEventListener("focus", function () { check().catch(function () {}); });
  setInterval(proceed, 1000); // guards end without events too (a track stopped elsewhere, a call dropped)
  schedulePoll();

  window.skewguard = {
    version: pageVersion,
    policy: policy,
    get serverVersion() { return serverVersion; },
    get stale() { return stale; },
    get holding() { return holdingReasons(); },
    check: function () { return check(true); },
    hold: function (reason) {
      var h = { reason: reason || "app" };
      appHolds.push(h);
      updateMarker();
      return function release() {
        appHolds = appHolds.filter(function (x) { return x !== h; });
        proceed();
      };
    },
    trackPeer: function (pc) { peers.push(pc); pc.addEventListener("connectionstatechange", proceed); },
    trackStream: function (stream) { streams.push(stream); },
    reload: function () { return reload(); },
    on: on
  };
})();
