// Bundle a browser consumer with esbuild and with Vite, and check that no Node built-in
// (node:*, fs, path, Buffer, process, require) gets in. The Vite build is then loaded in
// Chromium by browser/run-browser.mjs.
import { build as esbuild } from 'esbuild';
import { build as vite } from 'vite';
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, '..', 'dist');
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
let failed = false;
const check = (name, cond, detail) => {
  console.log(`${cond ? 'ok  ' : 'FAIL'} - ${name}${cond ? '' : `: ${detail}`}`);
  if (!cond) failed = true;
};

const forbidden = [/\bfrom\s*["']node:/, /\brequire\(\s*["'](node:)?(fs|path|crypto|buffer|stream|url)["']/, /\bBuffer\.(from|alloc)/, /\bprocess\.(env|versions)/];
function scan(dir) {
  const bad = [];
  for (const f of readdirSync(dir, { recursive: true })) {
    if (!/\.m?js$/.test(f)) continue;
    const src = readFileSync(join(dir, f), 'utf8');
    for (const re of forbidden) if (re.test(src)) bad.push(`${f}: ${re}`);
  }
  return bad;
}

const r = await esbuild({
  entryPoints: [join(here, 'entry.js')],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  outdir: join(dist, 'esbuild'),
  metafile: true,
  logLevel: 'error',
});
const inputs = Object.keys(r.metafile.inputs);
check('esbuild: bundles for the browser platform', r.errors.length === 0, r.errors);
check('esbuild: no Node built-in among the inputs', !inputs.some((i) => builtins.has(i.replace(/^.*:/, '')) || i.startsWith('node:')), inputs);
check('esbuild: takes the browser entry (index.js, not node.js)', inputs.some((i) => i.endsWith('kms-envelope/index.js')) && !inputs.some((i) => i.endsWith('kms-envelope/node.js')), inputs);
const eb = scan(join(dist, 'esbuild'));
check('esbuild: output references no Node API', eb.length === 0, eb);

await vite({
  root: here,
  base: './',
  logLevel: 'error',
  build: { outDir: join(dist, 'vite'), emptyOutDir: true, target: 'es2022' },
});
const vb = scan(join(dist, 'vite'));
check('vite: output references no Node API', vb.length === 0, vb);
const files = readdirSync(join(dist, 'vite'), { recursive: true });
check('vite: emits both wasm modules (main, and ECDSA for signed suites) as assets', files.filter((f) => f.endsWith('.wasm')).length === 2, files);
process.exit(failed ? 1 : 0);
