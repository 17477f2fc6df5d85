// Where an upload's ciphertext parts wait while they are sent.
//
// A fetch() body must be a Blob to upload fast in Chromium (the same bytes as a Uint8Array go
// about 10x slower), but a Blob made from memory keeps its bytes in the browser's blob storage
// until the Worker's garbage collector happens to drop it. That storage is capped (about
// 500 MiB in Chromium 156 here), so an upload that makes little garbage can run into the cap
// and its requests fail. So each part is written to a file of the origin-private file system
// (OPFS) instead, through a synchronous access handle, and sent as that file's File: a
// file-backed Blob, which holds no memory and uploads faster (loopback, 1 GiB: 440 MB/s in
// 16 MiB parts against 256 MB/s from memory Blobs).
//
// The files hold ciphertext only. They live in a directory of their own per upload, and one
// file per part in flight plus one being filled, reused in turn: a slot is rewritten only
// after its part is stored (a retried part re-reads its file). The directory is removed when
// the upload ends; directories left by a closed tab are removed by the next upload. Each
// upload holds a Web Lock named after its directory while it runs (the browser releases it
// when the Worker or the tab goes away), so the sweep never touches a live upload.
// Where OPFS or its access handles are missing, or the quota runs out, parts fall back to
// memory Blobs.

const DIR = 'kms-envelope-upload-staging';

/**
 * A stager with `slots` files, or a memory-Blob stager if OPFS cannot be used here. Test builds:
 * `test` = 'memory' gives the memory stager, 'fallback' one that falls back at part 3 as on a
 * full quota.
 */
export async function openStager(slots, uploadName, test = undefined) {
  if (test === 'memory') return memoryStager();
  let release = null;
  try {
    if (typeof FileSystemFileHandle === 'undefined' || !navigator.locks
        || typeof FileSystemFileHandle.prototype.createSyncAccessHandle !== 'function') return memoryStager();
    const root = await navigator.storage.getDirectory();
    const top = await root.getDirectoryHandle(DIR, { create: true });
    release = await hold(`${DIR}/${uploadName}`);
    await sweep(top);
    const dir = await top.getDirectoryHandle(uploadName, { create: true });
    const files = [];
    for (let i = 0; i < slots; i++) files.push(await dir.getFileHandle(`part-${i}`, { create: true }));
    return opfsStager(top, uploadName, files, release, test === 'fallback' ? 3 : 0);
  } catch {
    release?.();
    return memoryStager();
  }
}

function memoryStager() {
  return {
    kind: 'memory',
    // new Blob copies the bytes, so the caller may reuse its buffer.
    async stage(_slot, bytes) { return new Blob([bytes]); },
    async close() {},
  };
}

function opfsStager(top, uploadName, files, release, failAt) {
  let fallback = null;
  return {
    get kind() { return fallback ? 'memory' : 'opfs'; },
    async stage(slot, bytes) {
      if (fallback) return fallback.stage(slot, bytes);
      let h = null;
      try {
        if (slot === failAt) throw new DOMException('test: the quota is full', 'QuotaExceededError');
        const f = files[slot % files.length];
        h = await f.createSyncAccessHandle();
        h.truncate(0);
        if (h.write(bytes, { at: 0 }) !== bytes.byteLength) throw new Error('short write');
        h.close();
        h = null;
        return await f.getFile();
      } catch {
        // Quota, or a browser that lets us open but not write: memory Blobs from here on.
        try { h?.close(); } catch { /* already closed */ }
        fallback = memoryStager();
        return fallback.stage(slot, bytes);
      }
    },
    async close() {
      await top.removeEntry(uploadName, { recursive: true }).catch(() => {});
      release();
    },
  };
}

/** Take the Web Lock `name`; resolves to the function that releases it. */
function hold(name) {
  return new Promise((resolve, reject) => {
    navigator.locks.request(name, () => new Promise((done) => resolve(done))).catch(reject);
  });
}

/** Remove what uploads in closed tabs left: directories whose lock nobody holds. */
async function sweep(top) {
  const names = [];
  for await (const name of top.keys()) names.push(name);
  for (const name of names) {
    // Under the directory's own lock, taken only if free: a live upload holds it for as long
    // as it runs, and one that starts now waits until this removal is done.
    await navigator.locks.request(`${DIR}/${name}`, { ifAvailable: true }, async (lock) => {
      if (lock) await top.removeEntry(name, { recursive: true }).catch(() => {});
    });
  }
}
