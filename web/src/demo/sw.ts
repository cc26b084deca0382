// The demo's service worker: it keeps the page's shell (HTML, script,
// style) so that a reload while offline still opens the chat, which then
// shows its cached messages and unsent ones and sends them once back.
// Network first: an online reload always gets this node's current page.

interface FetchEventLike {
  request: Request;
  respondWith(r: Promise<Response>): void;
}
interface ExtendableEventLike {
  waitUntil(p: Promise<unknown>): void;
}
const sw = self as unknown as {
  addEventListener(type: "install" | "activate", fn: (e: ExtendableEventLike) => void): void;
  addEventListener(type: "fetch", fn: (e: FetchEventLike) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
};

const cacheName = "herald-demo-v1";
const shell = ["/", "/assets/demo.js", "/assets/demo.css"];

sw.addEventListener("install", (e) => {
  e.waitUntil(caches.open(cacheName).then((c) => c.addAll(shell)).then(() => sw.skipWaiting()));
});

sw.addEventListener("activate", (e) => {
  e.waitUntil(sw.clients.claim());
});

sw.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== sw.location.origin || !shell.includes(url.pathname)) return;
  e.respondWith(
    fetch(e.request).then(
      (res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(cacheName).then((c) => c.put(e.request, copy));
        }
        return res;
      },
      () => caches.match(e.request).then((r) => r ?? Response.error()),
    ),
  );
});
