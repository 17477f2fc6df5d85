// Start the demo's services on free ports in a fresh state dir (for the end-to-end test).
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync, cpSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = new URL('../..', import.meta.url).pathname;

function start(name, cmd, args, logFile) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.KMS_PROXY_LISTEN;
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    p.stderr.on('data', (d) => chunks.push(d));
    p.on('exit', () => writeFileSync(logFile, Buffer.concat(chunks)));
    const rl = createInterface({ input: p.stdout });
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 15000);
    rl.on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve({ proc: p, url: m[1] }); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${Buffer.concat(chunks)}`)); });
  });
}

export async function startDemo({ bin = process.env.KMS_DEMO_BIN ?? join(ROOT, 'target/release'),
  pkg = join(ROOT, 'target/npm/kms-envelope') } = {}) {
  const state = mkdtempSync(join(tmpdir(), 'kms-demo-e2e-'));
  // Serve a private copy of the package: other jobs on this machine may rebuild target/npm.
  for (let i = 0; !existsSync(join(pkg, 'wasm/kms_envelope_bg.wasm')) || !existsSync(join(pkg, 'index.js')); i++) {
    if (i === 600) throw new Error(`no built package in ${pkg} (run scripts/build-wasm.sh)`);
    await new Promise((r) => setTimeout(r, 500));
  }
  cpSync(pkg, join(state, 'pkg'), { recursive: true });
  pkg = join(state, 'pkg');
  const procs = [];
  const cfgFile = join(state, 'www-config.json');
  writeFileSync(cfgFile, '{}');
  const www = await start('www', 'node', [join(ROOT, 'www/server.mjs'), '--listen', '127.0.0.1:0', '--pkg', pkg, '--config', cfgFile], join(state, 'www.log'));
  procs.push(www.proc);
  execFileSync(join(ROOT, 'scripts/demo-init.sh'), [state, www.url, bin], { stdio: ['ignore', 'ignore', 'inherit'] });
  const proxy = await start('kms-proxy', join(bin, 'kms-proxy'), ['--config', join(state, 'proxy/kms-proxy.toml'), 'serve'], join(state, 'proxy.log'));
  procs.push(proxy.proc);
  const blob = await start('kms-blobstore', join(bin, 'kms-blobstore'), ['--config', join(state, 'blob/blobstore.toml')], join(state, 'blob.log'));
  procs.push(blob.proc);
  const idp = await start('kms-demo-idp', join(bin, 'kms-demo-idp'), ['--config', join(state, 'idp/idp.toml'), 'serve'], join(state, 'idp.log'));
  procs.push(idp.proc);
  const keyArn = readFileSync(join(state, 'key-arn'), 'utf8').trim();
  writeFileSync(cfgFile, JSON.stringify({ proxy: proxy.url, blob: blob.url, idp: idp.url, keyArn, testHooks: true }));
  const passwords = Object.fromEntries(readFileSync(join(state, 'passwords.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')));
  return {
    state, www: www.url, proxy: proxy.url, blob: blob.url, idp: idp.url, keyArn, passwords,
    blobData: join(state, 'blob/data'),
    async stop() {
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.on('exit', r)))));
    },
  };
}
