// A module Service Worker: runs the suite when the page asks.
import { runAll } from './runner.js';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('message', (e) => {
  e.waitUntil(
    runAll('sw')
      .catch((err) => [{ name: 'service worker', ok: false, error: String(err) }])
      .then((r) => e.source.postMessage(r)),
  );
});
