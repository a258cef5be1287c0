/* global self */
// Hashes a File in the browser, streaming: the file is read here, in chunks, and never sent anywhere.
import { sha256 } from '../vendor/noble/sha2.js';

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

self.onmessage = async (e) => {
  const file = e.data;
  try {
    const h = sha256.create();
    const reader = file.stream().getReader();
    let done = 0;
    let reported = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      h.update(r.value);
      done += r.value.length;
      if (done - reported >= 4 * 1024 * 1024) {
        reported = done;
        self.postMessage({ type: 'progress', done, total: file.size });
      }
    }
    self.postMessage({ type: 'progress', done, total: file.size });
    self.postMessage({ type: 'done', digest: `sha256:${hex(h.digest())}`, bytes: done });
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
};
