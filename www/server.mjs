// A tiny static server for the demo page: www/ at /, the built npm package at /pkg/,
// and /config.json (the service URLs). Prints "www listening on http://ADDR".
//   node www/server.mjs --listen 127.0.0.1:8080 --pkg target/npm/kms-envelope --config STATE/www-config.json
import { createServer } from 'node:http';
import { createReadStream, statSync, readFileSync } from 'node:fs';
import { join, normalize, extname, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const www = resolve(new URL('.', import.meta.url).pathname);
const pkg = resolve(arg('pkg', join(www, '../target/npm/kms-envelope')));
const configFile = arg('config');
const [host, port] = arg('listen', '127.0.0.1:8080').split(':');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
  if (path === '/config.json') {
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
    res.end(readFileSync(configFile));
    return;
  }
  let base = www;
  let rel = path === '/' ? '/index.html' : path;
  if (rel.startsWith('/pkg/')) { base = pkg; rel = rel.slice(4); }
  if (rel.startsWith('/tests/')) { res.writeHead(404, headers); res.end(); return; }
  const file = join(base, normalize(rel));
  if (!file.startsWith(base + '/')) { res.writeHead(403, headers); res.end(); return; }
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': st.size });
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404, headers);
    res.end('not found');
  }
});
server.listen(Number(port), host, () => {
  const a = server.address();
  console.log(`www listening on http://${a.address}:${a.port}`);
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => server.close(() => process.exit(0)));
