// A static file server for the browser tests (no dependencies): serves the consumer
// project (node_modules/kms-envelope, browser/, fixtures/, dist/) and stores what the
// browser POSTs to /sink/<dir>/<file> in sink/, for the Python SDK to read.
import { createServer } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname, join, normalize } from 'node:path';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm', '.json': 'application/json' };

export function serve(root) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      const rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
      if (req.method === 'POST' && rel.startsWith('/sink/')) {
        const body = [];
        for await (const c of req) body.push(c);
        const file = join(root, rel);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, Buffer.concat(body));
        res.writeHead(204).end();
        return;
      }
      const data = await readFile(join(root, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
