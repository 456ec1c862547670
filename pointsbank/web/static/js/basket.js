// A basket of shelf items (the cashier's /shop/basket and the resident's /home/shelf).
// * A tap on an item adds one to its quantity; the total is kept up to date.
// * A search field filters the items as one types (the form's GET search works without JavaScript).
// * The cashier's camera: the browser's BarcodeDetector (where it exists, e.g. Chrome on Android)
//   reads the goods' barcodes (EAN-13 …) and the voucher's QR code; without it, jsQR reads only
//   QR codes (the voucher), and the goods' barcodes are typed into the barcode field.
(function () {
  "use strict";

  function format(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function setUpBasket(form) {
    var items = Array.prototype.slice.call(form.querySelectorAll("[data-item-id][data-points]"));
    var totalBox = form.querySelector("[data-basket-total]");
    var template = form.getAttribute("data-total-template") || "{points}";

    function quantityOf(item) { return item.querySelector("[data-qty]"); }

    function update() {
      var total = 0;
      items.forEach(function (item) {
        var field = quantityOf(item);
        var count = field ? parseInt(field.value, 10) : 0;
        if (count > 0) {
          total += count * parseInt(item.getAttribute("data-points"), 10);
          item.classList.add("in-basket");
        } else {
          item.classList.remove("in-basket");
        }
      });
      if (totalBox) { totalBox.textContent = format(template, { points: total.toLocaleString() }); }
    }

    function add(item) {
      var field = quantityOf(item);
      if (!field) { return false; }
      field.value = String((parseInt(field.value, 10) || 0) + 1);
      update();
      return true;
    }

    items.forEach(function (item) {
      var tap = item.querySelector("[data-tap]");
      if (tap) { tap.addEventListener("click", function () { add(item); }); }
      var field = quantityOf(item);
      if (field) { field.addEventListener("input", update); }
    });
    update();
    return { items: items, add: add };
  }

  function setUpFilter(basket) {
    var field = document.querySelector("[data-filter]");
    if (!field) { return; }
    field.addEventListener("input", function () {
      var wanted = field.value.trim().toLowerCase();
      basket.items.forEach(function (item) {
        var text = ((item.getAttribute("data-name") || "") + " " + (item.getAttribute("data-barcode") || "")).toLowerCase();
        item.hidden = wanted !== "" && text.indexOf(wanted) < 0;
      });
    });
  }

  function setUpScanner(form, basket) {
    var video = document.getElementById("basket-camera");
    var canvas = document.getElementById("basket-frame");
    var state = document.getElementById("basket-camera-state");
    var start = document.getElementById("basket-camera-start");
    var entry = document.getElementById("barcode-entry");
    var barcodeField = document.getElementById("barcode");
    var addButton = document.getElementById("barcode-add");
    var codeField = document.getElementById("code");
    if (!video || !state || !codeField) { return; }
    var last = "", lastAt = 0, stream = null, detector = null;

    function say(key, values) {
      var text = state.getAttribute("data-" + key) || form.getAttribute("data-" + key);
      if (text) { state.textContent = format(text, values || {}); }
    }

    function byBarcode(value) {
      for (var i = 0; i < basket.items.length; i += 1) {
        if (basket.items[i].getAttribute("data-barcode") === value) { return basket.items[i]; }
      }
      return null;
    }

    function addBarcode(value) {
      var item = byBarcode(value);
      if (item && basket.add(item)) {
        var name = item.querySelector(".item-name");
        say("added", { name: name ? name.textContent : value });
        return true;
      }
      say("not-found", { barcode: value });
      return false;
    }

    // a barcode of the shelf adds its item; anything else (the voucher's QR or digits) is the code
    function seen(value) {
      value = (value || "").trim();
      var now = Date.now();
      if (!value || (value === last && now - lastAt < 2000)) { return; }
      last = value; lastAt = now;
      if (byBarcode(value)) { addBarcode(value); return; }
      codeField.value = value;
    }

    if (entry && barcodeField && addButton) {
      entry.hidden = false;
      function typed() {
        var value = barcodeField.value.trim();
        if (value && addBarcode(value)) { barcodeField.value = ""; }
      }
      addButton.addEventListener("click", typed);
      barcodeField.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); typed(); }
      });
    }

    var hasCamera = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
    var hasDetector = typeof window.BarcodeDetector === "function";
    if (!hasCamera || (!hasDetector && typeof window.jsQR !== "function")) { say("unavailable"); return; }

    function frame() {
      if (!stream) { return; }
      if (video.readyState >= 2 && video.videoWidth > 0) {
        if (detector) {
          detector.detect(video).then(function (codes) {
            codes.forEach(function (code) { seen(code.rawValue); });
          }).catch(function () { /* a frame the detector could not read */ });
        } else if (canvas) {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          var context = canvas.getContext("2d", { willReadFrequently: true });
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var hit = window.jsQR(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width,
                                canvas.height, { inversionAttempts: "dontInvert" });
          if (hit && hit.data) { seen(hit.data); }
        }
      }
      window.setTimeout(frame, 150);
    }

    function begin() {
      start.hidden = true;
      var ready = Promise.resolve();
      if (hasDetector) {
        ready = window.BarcodeDetector.getSupportedFormats().then(function (formats) {
          detector = new window.BarcodeDetector({ formats: formats });
        }).catch(function () { detector = null; });
      }
      ready.then(function () {
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      }).then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        video.play();
        say(detector ? "scanning" : "qr-only");
        frame();
      }).catch(function () { say("unavailable"); start.hidden = false; });
    }

    if (start) {
      start.hidden = false;
      if (!hasDetector) { say("qr-only"); }
      start.addEventListener("click", begin);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-basket]"), function (form) {
    var basket = setUpBasket(form);
    setUpFilter(basket);
    if (form.id === "basket-form") { setUpScanner(form, basket); }
  });
})();
