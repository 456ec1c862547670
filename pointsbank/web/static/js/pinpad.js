// The cashier's PIN pad: big digit keys fill the PIN field (the resident types on the cashier's
// phone); dots show how many digits are in, never the digits. Without JavaScript the field is typed.
(function () {
  "use strict";
  var form = document.querySelector("[data-pinpad]");
  if (!form) { return; }
  var field = form.querySelector("input[name='pin']");
  var pad = document.getElementById("pinpad");
  var dots = document.getElementById("pin-dots");
  if (!field || !pad) { return; }
  pad.hidden = false;
  field.setAttribute("readonly", "readonly");  // the pad, not the phone's keyboard

  function show() {
    if (dots) { dots.textContent = "●●●●●●".slice(0, field.value.length) + "○○○○○○".slice(field.value.length); }
  }

  pad.addEventListener("click", function (event) {
    var key = event.target.closest("button");
    if (!key) { return; }
    if (key.hasAttribute("data-digit") && field.value.length < 6) {
      field.value += key.getAttribute("data-digit");
    } else if (key.hasAttribute("data-clear")) {
      field.value = field.value.slice(0, -1);
    }
    show();
  });
  show();
}());
