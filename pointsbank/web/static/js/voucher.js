// The voucher page: a countdown to the voucher's expiry and a watch on its status.
// The server renders the expiry time, so without JavaScript the page still says until when the
// voucher is valid; a reload shows whether the shop has redeemed it.
(function () {
  "use strict";
  var box = document.getElementById("voucher");
  if (!box) { return; }
  var status = box.getAttribute("data-status");

  // --- countdown: from the seconds left when the server rendered the page (the phone's clock
  // may be wrong, the elapsed time on it is not)
  var countdown = document.getElementById("voucher-countdown");
  if (countdown && status === "issued") {
    var secondsLeft = parseInt(countdown.getAttribute("data-seconds-left"), 10) || 0;
    var label = countdown.getAttribute("data-label") || "{time}";
    var started = Date.now();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var tick = function () {
      var left = Math.max(0, secondsLeft - Math.floor((Date.now() - started) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      countdown.textContent = label.replace("{time}", h + ":" + pad(m) + ":" + pad(s));
      if (left === 0) {
        window.clearInterval(timer);
        window.setTimeout(function () { window.location.reload(); }, 1500);  // now expired
      }
    };
    countdown.hidden = false;
    var timer = window.setInterval(tick, 1000);
    tick();
  }

  // --- status: poll while the voucher is open; reload as soon as it changes (redeemed at the
  // till, cancelled elsewhere) so the page shows the result and the receipt
  var url = box.getAttribute("data-status-url");
  var every = (parseInt(box.getAttribute("data-poll-seconds"), 10) || 3) * 1000;
  if (status === "issued" && url && window.fetch) {
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.status && body.status !== status) {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, every);
        })
        .catch(function () { window.setTimeout(poll, every * 2); });  // offline for a moment
    };
    window.setTimeout(poll, every);
  }

  // --- cancelling asks first
  var cancel = document.querySelector("form.cancel-form[data-confirm]");
  if (cancel) {
    cancel.addEventListener("submit", function (event) {
      if (!window.confirm(cancel.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }
}());
