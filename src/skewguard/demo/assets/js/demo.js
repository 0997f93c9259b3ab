// The demo page's own script: a video that plays, a camera preview, and a live status panel.
(function () {
  function $(id) { return document.getElementById(id); }

  window.demoPlay = function () {
    var canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 180;
    var ctx = canvas.getContext("2d");
    var started = Date.now();
    setInterval(function () {
      var t = (Date.now() - started) / 1000;
      ctx.fillStyle = "#111"; ctx.fillRect(0, 0, 320, 180);
      ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--accent") || "#3b6cf6";
      ctx.beginPath(); ctx.arc(160 + 110 * Math.sin(t * 1.7), 90 + 50 * Math.cos(t * 2.3), 22, 0, 7); ctx.fill();
      ctx.fillStyle = "#fff"; ctx.font = "14px sans-serif"; ctx.fillText("playing " + t.toFixed(1) + " s", 10, 20);
    }, 40);
    var video = $("clip");
    video.srcObject = canvas.captureStream(25);
    return video.play();
  };
  window.demoPause = function () { $("clip").pause(); };

  window.demoCamera = function () {
    return navigator.mediaDevices.getUserMedia({ video: true }).then(function (stream) {
      window.demoStream = stream;
      $("camera").srcObject = stream;
      return $("camera").play();
    });
  };
  window.demoCameraOff = function () {
    if (window.demoStream) window.demoStream.getTracks().forEach(function (t) { t.stop(); });
    $("camera").srcObject = null;
  };

  setInterval(function () {
    var sg = window.skewguard;
    if (!sg || !$("status")) return;
    $("page-version").textContent = sg.version;
    $("server-version").textContent = sg.serverVersion;
    $("stale").textContent = sg.stale ? "yes: a new release is out" : "no";
    var holding = sg.holding.filter(function (r) { return r !== "request"; });
    $("holding").textContent = holding.length ? holding.join(", ") : "nothing (safe to reload)";
  }, 300);
})();
