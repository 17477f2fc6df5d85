// Where a download's plaintext goes.
//
// Where the File System Access API exists (Chromium), the page asks for a file with
// showSaveFilePicker() while it still has the click's user activation, and hands the
// FileSystemFileHandle to the transfer's Worker. The Worker streams the decrypted frames into
// handle.createWritable(): the browser writes them to a hidden swap file and moves it into
// place only on close(), which happens after the whole message has authenticated. A failed
// download aborts the writable (the swap file is discarded) and removes the empty file the
// picker created, so a tampered message leaves no plaintext behind, and memory stays flat for
// files of any size.
//
// Elsewhere the Worker keeps the authenticated frames and the page saves them as one Blob
// through <a download> once the message has verified.

const WRITE = 8 << 20;

/** Ask where to save `name`. Returns { handle } or { blob: true }; null if the user cancelled. */
export async function chooseTarget(name) {
  if (typeof window.showSaveFilePicker !== 'function') return { blob: true };
  try {
    return { handle: await window.showSaveFilePicker({ suggestedName: name }) };
  } catch (e) {
    if (e?.name === 'AbortError') return null; // the user closed the picker
    return { blob: true }; // no user activation left, or the picker is blocked: fall back
  }
}

/** Save a verified Blob through <a download> (the fallback). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * In the Worker: stream `plain` (a ReadableStream of authenticated frames) to the target.
 * With a handle, the file appears only if every byte authenticated; otherwise returns the
 * verified Blob for the page to save.
 */
export async function writeTarget(plain, target, type) {
  if (target?.handle) {
    // Frames are gathered into 8 MiB writes (each write is a round trip to the browser
    // process), two buffers alternating so that decryption goes on while one is written.
    const reader = plain.getReader();
    let writable = null;
    const bufs = [new Uint8Array(WRITE), new Uint8Array(WRITE)];
    let buf = bufs[0];
    let fill = 0;
    let pending = Promise.resolve();
    const flush = async (bytes) => {
      await pending;
      pending = writable.write(bytes);
      buf = buf === bufs[0] ? bufs[1] : bufs[0];
      fill = 0;
    };
    try {
      // Inside the try: if the file cannot be opened, the decrypt stream is cancelled too
      // (nothing else reads it, and its writer would wait for ever).
      writable = await target.handle.createWritable();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (let off = 0; off < value.length;) {
          const k = Math.min(WRITE - fill, value.length - off);
          buf.set(value.subarray(off, off + k), fill);
          fill += k;
          off += k;
          if (fill === WRITE) await flush(buf);
        }
      }
      if (fill > 0) await flush(buf.subarray(0, fill));
      await pending;
      await writable.close(); // the file appears, complete, only now
    } catch (e) {
      await pending.catch(() => {});
      await writable?.abort().catch(() => {}); // the swap file is discarded
      await reader.cancel(e).catch(() => {});
      if (typeof target.handle.remove === 'function') await target.handle.remove().catch(() => {});
      throw e;
    }
    return null;
  }
  // Every 32 MiB the frames so far become a Blob of their own, which Chromium moves out of the
  // renderer (and to disk when large), so the tab does not hold the file twice.
  const parts = [];
  let group = [];
  let size = 0;
  const reader = plain.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    group.push(value);
    size += value.byteLength;
    if (size >= 32 << 20) {
      parts.push(new Blob(group));
      group = [];
      size = 0;
    }
  }
  parts.push(new Blob(group));
  return new Blob(parts, { type: type || 'application/octet-stream' });
}
