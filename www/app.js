// The page: sign-in, the transfer list (each transfer runs in its own Worker), the file list.
import { decrypt } from '/pkg/index.js';
import { kmsProxyKeyring, explain, blobFetch } from './kms.js';
import { chooseTarget, saveBlob } from './save.js';
import { share, unshare, readersOf, sharedWithMe } from './share.js';

const $ = (s) => document.querySelector(s);
const cfg = await (await fetch('/config.json')).json();
let session = JSON.parse(sessionStorage.getItem('session') ?? 'null');

const fmtBytes = (n) => {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
};
const fmtTime = (s) => (!isFinite(s) ? '…' : s < 60 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`);

function showError(err) {
  const e = $('#error');
  e.textContent = err.message;
  e.dataset.kind = err.kind;
  e.className = err.kind === 'cancelled' ? 'info' : '';
  e.hidden = false;
  if (err.kind === 'session') signOut(false);
}
const clearError = () => { $('#error').hidden = true; $('#error').dataset.kind = ''; $('#notice').hidden = true; };
function showNotice(text) {
  const n = $('#notice');
  n.textContent = text;
  n.hidden = false;
}

function render() {
  const signedIn = session && session.expiresAt * 1000 > Date.now();
  $('#login').hidden = !!signedIn;
  $('#app').hidden = !signedIn;
  $('#who').hidden = !signedIn;
  if (signedIn) { $('#user').textContent = session.username; listFiles().then(() => listShared()); }
}

function signOut(clear = true) {
  session = null;
  sessionStorage.removeItem('session');
  if (clear) clearError();
  $('#files tbody').replaceChildren();
  $('#shared tbody').replaceChildren();
  $('#transfers').replaceChildren();
  render();
}

$('#loginform').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  try {
    const r = await fetch(cfg.idp.replace(/\/$/, '') + '/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('#username').value, password: $('#password').value }),
    });
    const j = await r.json().catch(() => ({}));
    if (r.status === 401) throw Object.assign(new Error('Wrong user name or password.'), { kind: 'login' });
    if (r.status === 429) throw Object.assign(new Error('Too many failed sign-ins; wait a minute and try again.'), { kind: 'login' });
    if (!r.ok) throw new Error(`Sign-in failed: ${j.code ?? r.status}`);
    session = { token: j.token, username: j.username, expiresAt: j.expiresAt };
    sessionStorage.setItem('session', JSON.stringify(session));
    $('#password').value = '';
    render();
  } catch (e) {
    showError({ kind: e.kind ?? 'network', message: e.kind ? e.message : `The sign-in service cannot be reached (${e.message}).` });
  }
});
$('#signout').addEventListener('click', () => signOut());

// ---- transfers ----------------------------------------------------------------

function transferRow(title) {
  const li = document.createElement('li');
  li.innerHTML = '<div><b class="name"></b> <span class="state"></span> <button class="cancel">Cancel</button></div>'
    + '<progress max="1" value="0"></progress><div class="stats"></div>';
  li.querySelector('.name').textContent = title;
  $('#transfers').prepend(li);
  return li;
}

function runTransfer(msg, title, onDone) {
  clearError();
  const li = transferRow(title);
  li.dataset.op = msg.op;
  const state = li.querySelector('.state');
  const bar = li.querySelector('progress');
  const stats = li.querySelector('.stats');
  const t0 = performance.now();
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.textContent = msg.op === 'upload' ? 'encrypting and uploading' : 'downloading and decrypting';
  li.querySelector('.cancel').onclick = () => worker.postMessage({ op: 'cancel' });
  worker.onmessage = ({ data }) => {
    if (data.type === 'progress') {
      const secs = (performance.now() - t0) / 1000;
      const speed = data.done / secs;
      bar.max = data.total || 1;
      bar.value = data.done;
      stats.textContent = `${fmtBytes(data.done)} of ${fmtBytes(data.total)} · ${fmtBytes(speed)}/s · ${fmtTime((data.total - data.done) / speed)} left`;
    } else if (data.type === 'test-data-key') {
      (window.__testDataKeys ??= []).push(data.key); // test builds only (cfg.testHooks)
    } else if (data.type === 'retrying') {
      state.textContent = data.message;
      li.dataset.retried = String(Number(li.dataset.retried ?? 0) + 1);
      li.dataset.outage = 'yes';
    } else if (data.type === 'resumed') {
      state.textContent = msg.op === 'upload' ? 'back online: encrypting and uploading' : 'back online: downloading and decrypting';
      li.dataset.outage = '';
    } else if (data.type === 'read-stalled') {
      li.dataset.readStalls = String(Number(li.dataset.readStalls ?? 0) + 1); // a file read given up and resumed
    } else if (data.type === 'staging') {
      li.dataset.staging = data.kind; // where the upload's parts waited (stage.js)
    } else if (data.type === 'meta') {
      li.querySelector('.name').textContent = data.meta.name;
    } else if (data.type === 'done') {
      worker.terminate();
      const secs = (performance.now() - t0) / 1000;
      li.dataset.state = 'done';
      li.dataset.ms = String(Math.round(secs * 1000));
      state.textContent = msg.op === 'upload' ? 'uploaded' : 'decrypted and saved';
      state.className = 'state done';
      bar.value = bar.max;
      li.querySelector('.cancel').remove();
      stats.textContent += ` · done in ${secs.toFixed(1)} s`;
      onDone?.(data);
    } else if (data.type === 'error') {
      worker.terminate();
      li.dataset.state = data.kind;
      state.textContent = data.kind === 'cancelled' ? 'cancelled' : 'failed';
      state.className = 'state error';
      li.querySelector('.cancel').remove();
      showError(data);
    }
  };
  worker.onerror = (e) => { li.dataset.state = 'other'; showError({ kind: 'other', message: `Worker failed: ${e.message}` }); };
  // Test builds only: window.__testStaging = 'memory' makes an upload use the memory-Blob fallback,
  // 'fallback' makes it fall back at part 3 (stage.js).
  const staging = cfg.testHooks === true ? window.__testStaging : undefined;
  worker.postMessage({ ...msg, cfg, staging, token: session.token, user: session.username });
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function uploadFiles(files) {
  for (const file of files) {
    runTransfer({ op: 'upload', file, oid: randomId() }, file.name, () => listFiles());
  }
}

$('#file').addEventListener('change', (ev) => { uploadFiles([...ev.target.files]); ev.target.value = ''; });
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); uploadFiles([...e.dataTransfer.files]); });

// Ask where to save while the click's user activation lasts (File System Access where the
// browser has it; a Blob and <a download> otherwise: save.js), then download into it.
async function download(owner, oid, label, name = label) {
  const target = await chooseTarget(name);
  if (!target) return; // the user closed the save dialog
  runTransfer({ op: 'download', owner, oid, target }, label, (d) => { if (d.blob) saveBlob(d.blob, d.meta.name); });
}

$('#openform').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const m = /^([A-Za-z0-9._-]+)\/([0-9a-f]{32})$/.exec($('#link').value.trim());
  if (!m) { showError({ kind: 'other', message: 'A link looks like owner/0123...(32 hex digits).' }); return; }
  download(m[1], m[2], `${m[1]}/${m[2]}`, m[2]);
});

// ---- the file list ----------------------------------------------------------------

async function listFiles() {
  const user = session.username;
  const token = session.token;
  const keyring = kmsProxyKeyring({ proxy: cfg.proxy, keyArn: cfg.keyArn, token });
  try {
    const r = await blobFetch(cfg.blob, token, 'GET', `/o/${encodeURIComponent(user)}?limit=1000`);
    const { objects } = await r.json();
    const ids = new Set(objects.map((o) => o.id));
    const readers = readersOf(objects);
    const rows = [];
    for (const o of objects) {
      if (!o.id.endsWith('.m') || !ids.has(o.id.slice(0, -2) + '.d') || !ids.has(o.id.slice(0, -2) + '.h')) continue;
      const oid = o.id.slice(0, -2);
      const ct = new Uint8Array(await (await blobFetch(cfg.blob, token, 'GET', `/o/${user}/${o.id}`)).arrayBuffer());
      const { plaintext } = await decrypt(ct, { keyring, encryptionContext: { owner: user, purpose: 'metadata' } });
      rows.push({ oid, ...JSON.parse(new TextDecoder().decode(plaintext)) });
    }
    rows.sort((a, b) => b.uploaded - a.uploaded);
    const tbody = $('#files tbody');
    tbody.replaceChildren(...rows.map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.oid = f.oid;
      tr.innerHTML = '<td class="fname"></td><td></td><td></td><td class="link"></td><td><button class="dl">Download</button></td>'
        + '<td class="sharing"><span class="readers"></span><form class="shareform"><input class="to" placeholder="user name" size="9" required>'
        + ' <button class="share" type="submit">Share</button></form></td>';
      tr.children[0].textContent = f.name;
      tr.children[1].textContent = fmtBytes(f.size);
      tr.children[2].textContent = new Date(f.uploaded).toLocaleString();
      tr.children[3].textContent = `${user}/${f.oid}`;
      tr.querySelector('.dl').onclick = () => download(user, f.oid, f.name);
      const rs = readers.get(f.oid) ?? [];
      tr.dataset.readers = rs.join(',');
      tr.querySelector('.readers').replaceChildren(...rs.map((r) => {
        const b = document.createElement('button');
        b.className = 'unshare';
        b.dataset.reader = r;
        b.title = `Stop sharing with ${r}`;
        b.textContent = `${r} ✕`;
        b.onclick = () => sharing('unshare', f, r, b);
        return b;
      }));
      tr.querySelector('.shareform').onsubmit = (ev) => {
        ev.preventDefault();
        sharing('share', f, tr.querySelector('.to').value.trim(), ev.submitter);
      };
      return tr;
    }));
    $('#nofiles').hidden = rows.length > 0;
  } catch (e) {
    showError(explain(e, keyring));
  }
}
$('#refresh').addEventListener('click', () => listFiles());

async function sharing(op, f, reader, button) {
  clearError();
  if (button) button.disabled = true;
  try {
    const args = { cfg, token: session.token, owner: session.username, oid: f.oid, reader };
    if (op === 'share') await share(args);
    else await unshare(args);
    showNotice(op === 'share' ? `Shared "${f.name}" with ${reader}. Only its small header was re-encrypted for them; the file itself did not move.`
      : `"${f.name}" is no longer shared with ${reader}.`);
    await listFiles();
  } catch (e) {
    showError(explain(e));
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- files shared with me ----------------------------------------------------------

async function listShared() {
  if (!session) return;
  try {
    const rows = await sharedWithMe({ cfg, token: session.token, me: session.username });
    $('#shared tbody').replaceChildren(...rows.map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.oid = f.oid;
      tr.dataset.owner = f.owner;
      tr.innerHTML = '<td class="fname"></td><td></td><td class="owner"></td><td></td><td><button class="dl">Download</button></td>';
      tr.children[0].textContent = f.name;
      tr.children[1].textContent = fmtBytes(f.size);
      tr.children[2].textContent = f.owner;
      tr.children[3].textContent = new Date(f.uploaded).toLocaleString();
      tr.querySelector('.dl').onclick = () => download(f.owner, f.oid, f.name);
      return tr;
    }));
    $('#noshared').hidden = rows.length > 0;
  } catch (e) {
    showError(explain(e));
  }
}
$('#refreshshared').addEventListener('click', () => { clearError(); listShared(); });

render();
