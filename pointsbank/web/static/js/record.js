// The record form's dry run: whenever a field changes, post the form to the preview endpoint
// (same session and CSRF token as the form) and show the HTML fragment it answers.
// Without JavaScript the form still works; the preview is only a convenience.
(function () {
  "use strict";
  var form = document.getElementById("record-form");
  var box = document.getElementById("preview");
  if (!form || !box || !window.fetch) { return; }
  var url = form.getAttribute("data-preview-url");
  var timer = null;
  var latest = 0;

  function render(state, html) {
    box.innerHTML = html;  // our own server's escaped template output
    box.className = "preview" + (state ? " is-" + state : "");
  }

  function refresh() {
    var ticket = ++latest;
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      if (ticket !== latest) { return; }  // a newer change is on its way
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var marked = holder.querySelector("[data-state]");
      render(marked ? marked.getAttribute("data-state") : "", html);
    }).catch(function () { /* offline for a moment: keep the last preview */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }

  form.addEventListener("change", later);
  form.addEventListener("input", later);
  refresh();
}());
