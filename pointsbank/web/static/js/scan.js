// The cashier's scan page: the phone's camera, frames decoded with the vendored jsQR.
// On a QR hit the code field is filled and the form goes on to the confirmation by itself.
// Without a camera (or without JavaScript) the cashier types the short code instead.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  var video = document.getElementById("camera");
  var canvas = document.getElementById("camera-frame");
  var state = document.getElementById("camera-state");
  var startButton = document.getElementById("camera-start");
  var codeField = document.getElementById("code");
  if (!form || !video || !canvas || !state || !codeField) { return; }

  // the code the server just refused: if the camera still sees it, do not send it again
  var refused = form.getAttribute("data-refused") || "";
  var stream = null;
  var submitted = false;
  var FRAME_MS = 120;
  var MAX_SIDE = 800;  // larger frames are scaled down: faster, and jsQR needs no more

  function say(key) {
    var text = state.getAttribute("data-" + key);
    if (text) { state.textContent = text; }
  }

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
  }

  function found(text) {
    if (submitted) { return; }
    if (refused && text === refused) {
      say("refused");
      return;
    }
    submitted = true;
    codeField.value = text;
    say("found");
    stop();
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function decode() {
    if (!stream || submitted) { return; }
    if (video.readyState >= 2 && video.videoWidth > 0) {
      var scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      var width = Math.round(video.videoWidth * scale);
      var height = Math.round(video.videoHeight * scale);
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      var hit = window.jsQR(context.getImageData(0, 0, width, height).data, width, height,
                            { inversionAttempts: "dontInvert" });
      if (hit && hit.data) {
        found(hit.data.trim());
        if (submitted) { return; }
      }
    }
    window.setTimeout(decode, FRAME_MS);
  }

  function unavailable() {
    stop();
    say("unavailable");
    if (startButton) { startButton.hidden = false; }
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
      unavailable();
      return;
    }
    if (startButton) { startButton.hidden = true; }
    say("starting");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        return video.play();
      })
      .then(function () {
        say(refused ? "refused" : "scanning");
        decode();
      })
      .catch(unavailable);
  }

  if (startButton) { startButton.addEventListener("click", start); }
  form.addEventListener("submit", function () { submitted = true; stop(); });
  window.addEventListener("pagehide", stop);
  start();
}());
