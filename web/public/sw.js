// Tessera's service worker: makes the app installable and opens it offline from cache. API
// requests (/_matrix) always go to the network; hashed assets are cached as they are fetched.
// It is also the share target: what another app shares (a POST to /share with text, a link or
// files) is kept in IndexedDB ("tessera-share", read once by the app: src/lib/share.ts) and the
// app is opened with ?shared=1 to choose the chat it goes to.
const CACHE = "tessera-shell-v1";
const SHARE_DB = "tessera-share";
const SHARE_STORE = "pending";

function keepShare(share) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(SHARE_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(SHARE_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(SHARE_STORE, "readwrite");
      tx.objectStore(SHARE_STORE).put(share, "current");
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

async function receiveShare(request) {
  const form = await request.formData();
  const field = (name) => (typeof form.get(name) === "string" ? form.get(name) : "");
  const files = form.getAll("files").filter((f) => f instanceof File && f.size > 0);
  await keepShare({ title: field("title"), text: field("text"), url: field("url"), files, at: Date.now() });
  return Response.redirect("/?shared=1", 303);
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(["/", "/manifest.webmanifest", "/icon.svg", "/icon-192.png"])));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))),
  );
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method === "POST" && url.origin === self.location.origin && url.pathname === "/share") {
    event.respondWith(receiveShare(event.request).catch(() => Response.redirect("/", 303)));
    return;
  }
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/_matrix/")) return;
  if (url.pathname.startsWith("/assets/")) {
    event.respondWith(
      caches.open(CACHE).then(async (cache) => {
        const hit = await cache.match(event.request);
        if (hit) return hit;
        const resp = await fetch(event.request);
        if (resp.ok) cache.put(event.request, resp.clone());
        return resp;
      }),
    );
    return;
  }
  if (event.request.mode === "navigate") {
    event.respondWith(fetch(event.request).catch(() => caches.match("/")));
  }
});
