/* global Worker, URL */
import { useEffect, useRef, useState } from 'preact/hooks';
import { bytes, html, navigate, normalizeDigest, Title } from '../lib.js';

export function SearchPage() {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState(undefined);
  const [progress, setProgress] = useState(undefined);
  const worker = useRef(undefined);
  useEffect(() => () => worker.current?.terminate(), []);

  const submit = (e) => {
    e.preventDefault();
    const d = normalizeDigest(text);
    if (!d) return setProblem('expected a sha256 digest: sha256:<64 hex> or 64 hex characters');
    navigate(`/models/${d}`);
  };
  const pick = (e) => {
    const file = e.currentTarget.files?.[0];
    if (!file) return;
    worker.current?.terminate();
    const w = new Worker(new URL('../hash-worker.js', import.meta.url), { type: 'module' });
    worker.current = w;
    setProblem(undefined);
    setProgress({ name: file.name, done: 0, total: file.size });
    w.onmessage = (m) => {
      const msg = m.data;
      if (msg.type === 'progress') setProgress({ name: file.name, done: msg.done, total: msg.total });
      else if (msg.type === 'done') { w.terminate(); navigate(`/models/${msg.digest}`); }
      else if (msg.type === 'error') { w.terminate(); setProgress(undefined); setProblem(`could not read ${file.name}: ${msg.message}`); }
    };
    w.onerror = (err) => { setProgress(undefined); setProblem(`the hashing worker failed: ${err.message ?? 'unknown error'}`); };
    w.postMessage(file);
  };
  return html`<main class="page">
    <${Title}>Find a model</${Title}>
    <form onSubmit=${submit} class="card">
      <div class="field">
        <label for="digest">Model digest</label>
        <input id="digest" type="text" class="wide mono" placeholder="sha256:…" autocomplete="off" spellcheck="false" value=${text} onInput=${(e) => setText(e.currentTarget.value)} aria-describedby="digest-hint" />
        <span id="digest-hint" class="hint">${'sha256:<hex>'} or bare hex, as <code>chorus hash</code> prints it.</span>
      </div>
      <button type="submit" class="primary">Open</button>
    </form>
    <h2>Or a file on this computer</h2>
    <div class="card">
      <div class="field">
        <label for="file">Model file</label>
        <input id="file" type="file" onChange=${pick} aria-describedby="file-hint" />
        <span id="file-hint" class="hint">Hashed here in your browser (SHA-256, streamed in a worker). The file is never uploaded.</span>
      </div>
      ${progress && html`<div role="status"><label for="hash-progress">Hashing ${progress.name}: ${bytes(progress.done)} of ${bytes(progress.total)}</label>
        <progress id="hash-progress" max=${Math.max(progress.total, 1)} value=${progress.done}></progress></div>`}
    </div>
    ${problem ? html`<p class="error" role="alert">${problem}</p>` : null}
  </main>`;
}
