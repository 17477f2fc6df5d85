// A kms-proxy for the KMS tests, started the way proxy/tests-py/helpers.py does: its own
// directory and config, `init`, an admin access key (SigV4) with AdministratorAccess,
// `serve` on 127.0.0.1:0; HS256 JWTs for the bearer users; SigV4-signed admin calls.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const REGION = 'us-east-1';
export const ACCOUNT = '111122223333';
const JWT_SECRET = 'test-hs256-secret-0123456789abcdef-0123';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'kms-proxy';
export const userArn = (name) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

export function proxyBin() {
  return process.env.KMS_PROXY_BIN ?? join(process.env.KMS_ENVELOPE_ROOT ?? '../..', 'target/debug/kms-proxy');
}

export class Proxy {
  constructor({ corsOrigins = [], openJwtUsers = true } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'kms-envelope-kms-'));
    this.config = join(this.dir, 'kms-proxy.toml');
    writeFileSync(join(this.dir, 'jwt.secret'), JWT_SECRET);
    const lines = [
      `region = "${REGION}"`, `account = "${ACCOUNT}"`, 'listen = "127.0.0.1:0"', 'store_path = "store.db"',
      '[root_key]', 'source = "file"', 'file = "root.key"',
      '[jwt]', 'hs256_secret_file = "jwt.secret"', `issuer = "${ISSUER}"`, `audience = "${AUDIENCE}"`,
    ];
    if (corsOrigins.length) lines.push('[cors]', `allowed_origins = ${JSON.stringify(corsOrigins)}`);
    writeFileSync(this.config, lines.join('\n') + '\n');
    this.run('init');
    const creds = JSON.parse(this.run('access-key', 'create', '--principal', 'admin'));
    this.accessKey = creds.AccessKeyId;
    this.secretKey = creds.SecretAccessKey;
    this.run('policy', 'attach', 'AdministratorAccess', '--principal', 'admin');
    if (openJwtUsers) this.run('policy', 'attach', 'AdministratorAccess', '--group', 'jwt-users');
  }

  env() {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMS_PROXY_')));
    env.RUST_LOG = 'info';
    return env;
  }

  run(...args) {
    const r = spawnSync(proxyBin(), ['--config', this.config, ...args], { cwd: this.dir, env: this.env(), encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`kms-proxy ${args.join(' ')}: ${r.status} ${r.stderr || r.error}`);
    return r.stdout;
  }

  async start() {
    const log = openSync(join(this.dir, 'server.log'), 'a');
    this.proc = spawn(proxyBin(), ['--config', this.config, 'serve'], { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', log] });
    const rl = createInterface({ input: this.proc.stdout });
    const line = await new Promise((resolve, reject) => {
      rl.once('line', resolve);
      this.proc.once('exit', (c) => reject(new Error(`kms-proxy exited (${c}); see ${this.dir}/server.log`)));
    });
    if (!line.includes('listening on')) throw new Error(`kms-proxy did not start: ${line}`);
    this.url = line.split('listening on')[1].trim();
    return this;
  }

  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    if (p.exitCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
  }

  /** Remove the proxy's directory (after stop). */
  remove() {
    if (!process.env.KMS_ENVELOPE_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }

  /** An admin call signed with SigV4 (KMS or SSM). */
  async admin(op, body, service = 'kms') {
    const target = service === 'kms' ? `TrentService.${op}` : `AmazonSSM.${op}`;
    const payload = JSON.stringify(body);
    const headers = sigv4(this.url, payload, target, this.accessKey, this.secretKey, service);
    const res = await fetch(this.url, { method: 'POST', headers, body: payload });
    const v = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${op}: ${res.status} ${JSON.stringify(v)}`);
    return v;
  }
}

function sigv4(url, body, target, accessKey, secretKey, service) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const date = amzDate.slice(0, 8);
  const host = new URL(url).host;
  const h = { 'content-type': 'application/x-amz-json-1.1', host, 'x-amz-date': amzDate, 'x-amz-target': target };
  const names = Object.keys(h).sort();
  const sha = (s) => createHash('sha256').update(s).digest('hex');
  const canonical = ['POST', '/', '', names.map((n) => `${n}:${h[n]}\n`).join(''), names.join(';'), sha(body)].join('\n');
  const scope = `${date}/${REGION}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
  const hm = (k, m) => createHmac('sha256', k).update(m).digest();
  const k = hm(hm(hm(hm(`AWS4${secretKey}`, date), REGION), service), 'aws4_request');
  const sig = createHmac('sha256', k).update(sts).digest('hex');
  delete h.host;
  h.authorization = `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`;
  return h;
}

/** An HS256 JWT the proxy accepts (sub, issuer, audience, 5 minutes). */
export function jwt(sub, over = {}) {
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64(JSON.stringify({ sub, iss: ISSUER, aud: AUDIENCE, exp: now + 300, nbf: now - 10, ...over }));
  const sig = createHmac('sha256', JWT_SECRET).update(`${head}.${payload}`).digest('base64url');
  return `${head}.${payload}.${sig}`;
}

export const OWN_DATA_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: userArn('admin') }, Action: 'kms:*', Resource: '*' },
    {
      Sid: 'OwnDataOnly',
      Effect: 'Allow',
      Principal: '*',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:owner': '${jwt:sub}' }, Null: { 'jwt:sub': 'false' } },
    },
  ],
};
