// A dedicated (module) Worker: runs the suite, or the 1 GiB stream.
import { runAll, big } from './runner.js';

onmessage = async (e) => {
  try {
    const d = e.data ?? {};
    // (not `e.data?.big` on a string: String.prototype.big exists)
    postMessage(typeof d.big === 'number' ? await big(d.big, d.backend) : await runAll('worker'));
  } catch (err) {
    postMessage([{ name: 'worker', ok: false, error: String(err) }]);
  }
};
