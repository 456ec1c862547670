// The shop without signal (issue 16), on the cashier's scan page.
//
// * Registers the service worker (/shop/sw.js, scope /shop) that keeps the page and its assets.
// * Keeps what the phone needs for the hours without signal in localStorage: the partner
//   communities' public keys, point values and offline caps, and this phone's device id (the
//   cashier names the phone once; POST /shop/offline/device).
// * Offline (navigator.onLine false), the scan form does not go to the server: the scanned or
//   typed token is checked here — the canonical token format of redeem/tokens.py, the Ed25519
//   signature with WebCrypto over "PB1.<kid>.<payload>", expiry, community, points, the
//   device's caps — and the redemption is queued in IndexedDB with a client id
//   (crypto.randomUUID), the device id and the moment. The receipt says "offline, not yet synced".
// * Syncs by itself (on load, on the "online" event, every 30 s) to POST /shop/offline/sync;
//   each answered item (accepted, duplicate, double_spend, refused) leaves the queue and shows
//   its outcome; a network error or a refused request keeps the queue as it is.
(function () {
  "use strict";
  var panel = document.getElementById("offline-panel");
  var form = document.getElementById("scan-form");
  if (!panel || !form || !window.indexedDB || !window.crypto || !window.crypto.subtle) { return; }

  var PREFIX = "PB1";
  var SYNC_MS = 30000;
  var BATCH = 200;
  var shopId = panel.getAttribute("data-shop-id");
  var lang = panel.getAttribute("data-lang") || "zh-CN";
  var timeZone = panel.getAttribute("data-timezone") || "Asia/Shanghai";
  var store = "pointsbank.offline." + shopId + ".";
  var stateLine = document.getElementById("offline-state");
  var waitingLine = document.getElementById("offline-waiting");
  var itemsList = document.getElementById("offline-items");
  var deviceForm = document.getElementById("offline-device-form");
  var refusalBox = document.getElementById("offline-refusal");
  var receiptBox = document.getElementById("offline-receipt");
  var codeField = document.getElementById("code");
  var pointsField = document.getElementById("points");
  // the offline receipt and refusal go where the online ones are: above the scan form
  form.parentNode.insertBefore(refusalBox, form);
  form.parentNode.insertBefore(receiptBox, form);
  var syncing = false;
  // a page the worker answered is controlled from the start: no need to wait for register()
  var workerReady = Boolean(navigator.serviceWorker && navigator.serviceWorker.controller);

  function t(key, values) {
    var text = panel.getAttribute("data-t-" + key) || "";
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }

  function load(key) {
    try { return JSON.parse(window.localStorage.getItem(store + key) || "null"); } catch (e) { return null; }
  }

  function save(key, value) {
    if (value === null) { window.localStorage.removeItem(store + key); }
    else { window.localStorage.setItem(store + key, JSON.stringify(value)); }
  }

  // --- IndexedDB: one store of redemptions by client id ------------------------------------

  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = window.indexedDB.open("pointsbank-offline", 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore("redemptions", { keyPath: "client_id" });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction("redemptions", mode);
        var result = work(transaction.objectStore("redemptions"));
        transaction.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        transaction.onerror = function () { reject(transaction.error); };
        transaction.onabort = function () { reject(transaction.error); };
      });
    });
  }

  function allItems() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return items.filter(function (item) { return String(item.shop_id) === String(shopId); })
        .sort(function (a, b) { return a.redeemed_at < b.redeemed_at ? -1 : a.redeemed_at > b.redeemed_at ? 1 : 0; });
    });
  }

  function putItems(items) {
    return tx("readwrite", function (s) { items.forEach(function (item) { s.put(item); }); });
  }

  // --- tokens: the exact format of pointsbank/redeem/tokens.py ------------------------------

  function unb64url(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) { return null; }
    var padded = text.replace(/-/g, "+").replace(/_/g, "/");
    while (padded.length % 4) { padded += "="; }
    var binary;
    try { binary = window.atob(padded); } catch (e) { return null; }
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    if (b64url(bytes) !== text) { return null; }  // one spelling only (no stray trailing bits)
    return bytes;
  }

  function b64url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function isInt(value, min) {
    return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
  }

  // {kid, claims: {v, c, p, e}, signingInput, signature} or null when malformed
  function parseToken(token) {
    if (typeof token !== "string" || token.length > 512 || !/^[\x20-\x7e]*$/.test(token)) { return null; }
    var parts = token.split(".");
    if (parts.length !== 4 || parts[0] !== PREFIX || !/^[A-Za-z0-9_-]{1,32}$/.test(parts[1])) { return null; }
    var payload = unb64url(parts[2]);
    var signature = unb64url(parts[3]);
    if (!payload || !signature || signature.length !== 64) { return null; }
    var text = "";
    for (var i = 0; i < payload.length; i++) {
      if (payload[i] > 0x7e) { return null; }
      text += String.fromCharCode(payload[i]);
    }
    var obj;
    try { obj = JSON.parse(text); } catch (e) { return null; }
    if (!obj || typeof obj !== "object" || Array.isArray(obj) || Object.keys(obj).join(",") !== "v,c,p,e") { return null; }
    if (typeof obj.v !== "string" || obj.v.length < 1 || obj.v.length > 64 || !isInt(obj.c, 1) || !isInt(obj.p, 1) ||
        !isInt(obj.e, 0)) { return null; }
    if (JSON.stringify({ v: obj.v, c: obj.c, p: obj.p, e: obj.e }) !== text) { return null; }
    return { kid: parts[1], claims: obj, signingInput: parts[0] + "." + parts[1] + "." + parts[2], signature: signature };
  }

  function verifySignature(parsed, key) {
    var raw = unb64url(key.x);
    if (!raw || raw.length !== 32) { return Promise.resolve(false); }
    return window.crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).then(function (k) {
      return window.crypto.subtle.verify({ name: "Ed25519" }, k, parsed.signature,
                                         new TextEncoder().encode(parsed.signingInput));
    }).catch(function () { return false; });
  }

  // --- the page ------------------------------------------------------------------------------

  function fmtPoints(points) { return Number(points).toLocaleString(lang); }

  function fmtYuan(fen) {
    return new Intl.NumberFormat(lang, { style: "currency", currency: "CNY" }).format(fen / 100);
  }

  function fmtTime(iso) {
    return new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "medium", timeZone: timeZone });
  }

  function config() { return load("config"); }
  function device() { return load("device"); }

  function readiness() {
    var c = config();
    var d = device();
    var enabled = c && c.communities.some(function (community) { return community.offline.enabled; });
    var ready = Boolean(c && d && !d.revoked && enabled && workerReady);
    panel.setAttribute("data-ready", ready ? "true" : "false");
    panel.setAttribute("data-online", navigator.onLine ? "true" : "false");
    deviceForm.hidden = !(navigator.onLine && c && enabled && !d);
    var line;
    if (c && !enabled) { line = t("disabled"); }
    else if (d && d.revoked) { line = t("revoked"); }
    else if (!navigator.onLine) { line = ready ? t("offline") : t("not-ready"); }
    else if (!d && c) { line = t("no-device"); }
    else { line = ready ? t("ready") : t("not-ready"); }
    if (d && !d.revoked) { line += " " + t("device", { name: d.name }); }
    stateLine.textContent = line;
    panel.hidden = false;
  }

  function render() {
    return allItems().then(function (items) {
      var waiting = items.filter(function (item) { return item.status === "waiting"; });
      waitingLine.setAttribute("data-count", String(waiting.length));
      waitingLine.textContent = t("waiting", { count: waiting.length });
      itemsList.textContent = "";
      items.slice().reverse().slice(0, 20).forEach(function (item) {
        var li = document.createElement("li");
        li.setAttribute("data-client-id", item.client_id);
        li.setAttribute("data-status", item.status);
        var head = document.createElement("div");
        head.className = "head";
        var what = document.createElement("span");
        what.textContent = t("points", { points: fmtPoints(item.points) }) + " · " + fmtYuan(item.value_fen);
        var badge = document.createElement("span");
        badge.className = "badge offline-badge offline-" + item.status.replace("_", "-");
        badge.textContent = t("status-" + item.status);
        head.appendChild(what);
        head.appendChild(badge);
        li.appendChild(head);
        var when = document.createElement("p");
        when.className = "muted";
        when.textContent = fmtTime(item.redeemed_at) + (item.message ? " · " + item.message : "");
        li.appendChild(when);
        itemsList.appendChild(li);
      });
      return items;
    });
  }

  function showRefusal(reason) {
    receiptBox.hidden = true;
    refusalBox.hidden = false;
    refusalBox.setAttribute("data-code", reason);
    document.getElementById("offline-refusal-title").textContent = t("refused");
    document.getElementById("offline-refusal-message").textContent = t("r-" + reason);
    document.getElementById("offline-refusal-detail").textContent = t("nothing");
    refusalBox.scrollIntoView({ block: "start" });
  }

  function showReceipt(item) {
    refusalBox.hidden = true;
    receiptBox.hidden = false;
    receiptBox.setAttribute("data-client-id", item.client_id);
    document.getElementById("offline-receipt-points").textContent = fmtPoints(item.points);
    document.getElementById("offline-receipt-value").textContent = fmtYuan(item.value_fen);
    document.getElementById("offline-receipt-time").textContent = fmtTime(item.redeemed_at);
    document.getElementById("offline-receipt-id").textContent = item.client_id.slice(0, 8);
    form.hidden = true;
    receiptBox.scrollIntoView({ block: "start" });
  }

  // --- offline redemption ------------------------------------------------------------------

  function check(code, typedPoints) {
    var c = config();
    var d = device();
    if (!c || !workerReady) { return Promise.resolve({ reason: "not_ready" }); }
    if (!d || d.revoked) { return Promise.resolve({ reason: "no_device" }); }
    // a household card pays only online: its PIN counter is on the server
    if (code.indexOf("PBC1.") === 0) { return Promise.resolve({ reason: "card_offline" }); }
    if (code.indexOf(PREFIX + ".") !== 0) { return Promise.resolve({ reason: "short_code_offline" }); }
    var parsed = parseToken(code);
    if (!parsed) { return Promise.resolve({ reason: "voucher_code_malformed" }); }
    var key = c.keys.filter(function (k) { return k.kid === parsed.kid; })[0];
    if (!key) { return Promise.resolve({ reason: "voucher_forged" }); }
    return verifySignature(parsed, key).then(function (valid) {
      if (!valid || key.community_id !== parsed.claims.c) { return { reason: "voucher_forged" }; }
      var community = c.communities.filter(function (x) { return x.id === parsed.claims.c; })[0];
      if (!community) { return { reason: "voucher_not_found" }; }
      if (!community.offline.enabled) { return { reason: "offline_not_enabled" }; }
      var now = Date.now();
      if (parsed.claims.e * 1000 <= now) { return { reason: "voucher_expired" }; }
      var points = typedPoints === "" ? parsed.claims.p : Number(typedPoints);
      if (!Number.isSafeInteger(points) || points < 1) { return { reason: "points_not_positive" }; }
      if (points > parsed.claims.p) { return { reason: "points_exceed_voucher" }; }
      var onlineAt = load("online_at") || 0;
      if (now - onlineAt > community.offline.max_hours * 3600 * 1000) { return { reason: "over_hours_cap" }; }
      return allItems().then(function (items) {
        if (items.some(function (item) { return item.voucher_id === parsed.claims.v && item.status !== "refused"; })) {
          return { reason: "already_on_this_phone" };
        }
        var held = items.filter(function (item) { return item.status === "waiting"; })
          .reduce(function (sum, item) { return sum + item.points; }, 0);
        if (held + points > community.offline.max_points_per_device) { return { reason: "over_points_cap" }; }
        return {
          item: {
            client_id: window.crypto.randomUUID(), device_id: d.id, shop_id: shopId, code: code, points: points,
            voucher_id: parsed.claims.v, community_id: parsed.claims.c,
            value_fen: points * community.point_value_fen, redeemed_at: new Date(now).toISOString(), status: "waiting"
          }
        };
      });
    });
  }

  function redeemOffline() {
    var code = (codeField.value || "").trim();
    var points = (pointsField && pointsField.value || "").trim();
    return check(code, points).then(function (outcome) {
      if (outcome.reason) {
        codeField.value = "";
        showRefusal(outcome.reason);
        return render();
      }
      return putItems([outcome.item]).then(function () {
        showReceipt(outcome.item);
        return render();
      });
    });
  }

  form.addEventListener("submit", function (event) {
    if (navigator.onLine) { return; }  // online: the page behaves as it always did
    event.preventDefault();
    redeemOffline();
  });

  // --- device and config -------------------------------------------------------------------

  function fetchConfig() {
    var d = device();
    var url = panel.getAttribute("data-config-url") + (d ? "?device_id=" + encodeURIComponent(d.id) : "");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("config " + response.status); }
        return response.json();
      }).then(function (body) {
        save("config", { communities: body.communities, keys: body.keys, shop: body.shop });
        save("online_at", Date.now());
        if (d && (!body.device || body.device.revoked)) { save("device", { id: d.id, name: d.name, revoked: true }); }
        readiness();
        return body;
      });
  }

  deviceForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = document.getElementById("offline-device-name").value.trim();
    var token = form.querySelector("input[name=csrf_token]");
    fetch(panel.getAttribute("data-device-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
      body: JSON.stringify({ name: name })
    }).then(function (response) {
      if (response.status !== 201) { throw new Error("device " + response.status); }
      return response.json();
    }).then(function (made) {
      save("device", { id: made.id, name: made.name, revoked: false });
      return fetchConfig();
    }).catch(function () { readiness(); });
  });

  // --- sync ----------------------------------------------------------------------------------

  function syncNow() {
    if (syncing || !navigator.onLine) { return Promise.resolve(); }
    syncing = true;
    return fetchConfig().then(function (body) {
      return allItems().then(function (items) {
        var waiting = items.filter(function (item) { return item.status === "waiting"; });
        if (!waiting.length) { return null; }
        waitingLine.textContent = t("syncing");
        var byDevice = {};
        waiting.forEach(function (item) { (byDevice[item.device_id] = byDevice[item.device_id] || []).push(item); });
        return Object.keys(byDevice).reduce(function (chain, deviceId) {
          return chain.then(function () { return sendBatches(Number(deviceId), byDevice[deviceId], body.csrf_token); });
        }, Promise.resolve());
      });
    }).catch(function () {
      panel.setAttribute("data-sync-error", "true");
      waitingLine.setAttribute("data-error", t("sync-failed"));
    }).then(function () {
      syncing = false;
      return render();
    });
  }

  function sendBatches(deviceId, items, csrf) {
    var batch = items.slice(0, BATCH);
    if (!batch.length) { return Promise.resolve(); }
    return fetch(panel.getAttribute("data-sync-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ device_id: deviceId, redemptions: batch.map(function (item) {
        return { client_id: item.client_id, code: item.code, points: item.points, redeemed_at: item.redeemed_at };
      }) })
    }).then(function (response) {
      if (response.status !== 200) { throw new Error("sync " + response.status); }  // the queue stays
      return response.json();
    }).then(function (answer) {
      var byId = {};
      answer.results.forEach(function (result) { byId[result.client_id] = result; });
      var done = batch.filter(function (item) { return byId[item.client_id]; }).map(function (item) {
        var result = byId[item.client_id];
        var status = result.status === "duplicate" && result.original_status ? result.original_status : result.status;
        return Object.assign({}, item, { status: status, answer: result.status, reason: result.reason || null,
                                         message: result.message || "", synced_at: answer.synced_at });
      });
      panel.removeAttribute("data-sync-error");
      waitingLine.removeAttribute("data-error");
      return putItems(done).then(function () { return sendBatches(deviceId, items.slice(BATCH), csrf); });
    });
  }

  // --- start ---------------------------------------------------------------------------------

  function startWorker() {
    if (!("serviceWorker" in navigator)) { return Promise.resolve(); }
    return navigator.serviceWorker.register(panel.getAttribute("data-sw-url"), { scope: panel.getAttribute("data-scope") })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function () { workerReady = true; })
      .catch(function () { workerReady = false; });
  }

  // logged out, the kept page must not open again without a login (the shop's receipts, a CSRF
  // token): drop it from the worker's cache, then log out; the queue stays for the next login
  var logoutUrl = panel.getAttribute("data-logout-url");
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (logout) {
    if (!logoutUrl || new URL(logout.action, window.location.href).pathname !== logoutUrl) { return; }
    logout.addEventListener("submit", function (event) {
      if (!window.caches) { return; }
      event.preventDefault();
      var done = false;
      function go() { if (!done) { done = true; logout.submit(); } }
      window.setTimeout(go, 1500);
      window.caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf("pointsbank-shop-") === 0; })
          .map(function (name) {
            return window.caches.open(name).then(function (cache) {
              return Promise.all([cache.delete(panel.getAttribute("data-scope")),
                                  cache.delete(panel.getAttribute("data-config-url"))]);
            });
          }));
      }).then(go, go);
    });
  });

  window.addEventListener("online", function () { readiness(); syncNow(); });
  window.addEventListener("offline", readiness);
  readiness();
  render();
  startWorker().then(function () {
    readiness();
    return syncNow();
  });
  window.setInterval(syncNow, SYNC_MS);
}());
