{#- The cashier's service worker (served by cashier_offline.service_worker at /shop/sw.js,
    scope /shop). Rendered: the page, its assets and the offline config URL come from url_for. -#}
// pointsbank: the shop without signal. Precaches the scan page and its assets; the page and
// its GETs go to the network first and fall back to the cache when there is no signal.
"use strict";
var CACHE = "pointsbank-shop-v{{ version }}";
var PAGE = {{ page|tojson }};
var CONFIG = {{ config|tojson }};
var ASSETS = {{ assets|tojson }};
var STATIC = {{ static|tojson }};  // every other asset the page loads is kept once fetched

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS).then(function () {
      // the page with the session's cookie; a redirect (logged out) is not kept
      return fetch(PAGE, { credentials: "same-origin" }).then(function (response) {
        if (response.ok && !response.redirected) { return cache.put(PAGE, response); }
      });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("pointsbank-shop-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheKey(request) {
  var url = new URL(request.url);
  if (request.mode === "navigate" && url.pathname === PAGE) { return PAGE; }
  if (url.pathname === CONFIG) { return CONFIG; }
  return url.pathname + url.search;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  var ours = url.pathname === PAGE || url.pathname === CONFIG || url.pathname.indexOf(STATIC) === 0;
  if (!ours) { return; }
  var key = cacheKey(request);
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(CACHE).then(function (cache) { return cache.match(key); }).then(function (hit) {
      return hit || Response.error();
    });
  }));
});
