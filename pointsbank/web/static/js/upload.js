// Progress while a form uploads or the server works.
//  <form data-upload="progress">: sends the file with XMLHttpRequest, fills the form's
//    <progress> with the upload's percentage, then shows the page the server answers.
//  <form data-upload="busy">: a plain submit; shows an indeterminate <progress> and disables
//    the button so it is not pressed twice.
// Without JavaScript both are ordinary forms.
(function () {
  "use strict";

  function swapPage(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var main = next.querySelector("main");
    if (!main) { document.documentElement.innerHTML = next.documentElement.innerHTML; return; }
    document.querySelector("main").innerHTML = main.innerHTML;
    document.title = next.title;
    wire(document.querySelector("main"));
    window.scrollTo(0, 0);
  }

  function progressForm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }
      event.preventDefault();
      var box = form.querySelector(".upload-progress");
      var bar = form.querySelector("progress");
      var button = form.querySelector("button[type=submit]");
      if (box) { box.hidden = false; }
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && bar) { bar.value = Math.round(100 * e.loaded / e.total); }
      });
      xhr.upload.addEventListener("load", function () {
        if (bar) { bar.removeAttribute("value"); }  // uploaded: the server is checking the rows
      });
      xhr.addEventListener("load", function () { swapPage(xhr.responseText); });
      xhr.addEventListener("error", function () {
        if (box) { box.hidden = true; }
        if (button) { button.disabled = false; }
      });
      xhr.send(new FormData(form));
    });
  }

  function busyForm(form) {
    form.addEventListener("submit", function () {
      var bar = form.querySelector("progress");
      var button = form.querySelector("button[type=submit]");
      if (bar) { bar.hidden = false; }
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  }

  function wire(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-upload=progress]"), progressForm);
    Array.prototype.forEach.call(root.querySelectorAll("form[data-upload=busy]"), busyForm);
  }

  wire(document);
}());
