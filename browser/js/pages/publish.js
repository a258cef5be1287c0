/* global Worker, URL */
import { useEffect, useState } from 'preact/hooks';
import { api, ErrorBox, html, LoginHint, normalizeDigest, session, Title } from '../lib.js';

// Each field names the `chorus attest` flag it stands for; problems read as the CLI's do.
const KINDS = {
  audit: {
    summary: 'the result of an evaluation or audit run',
    fields: [
      { name: 'harness', flag: '--harness', label: 'Harness (name@version)', required: true },
      { name: 'verdict', flag: '--verdict', label: 'Verdict', choices: ['pass', 'warn', 'fail'], required: true },
      { name: 'metric', flag: '--metric', label: 'Metrics (KEY=NUMBER, one per line)', multiline: true },
      { name: 'summary', flag: '--summary', label: 'Summary: what was found, in a sentence or two', multiline: true },
      { name: 'reproduce', flag: '--reproduce', label: 'Command that reproduces the run' },
      { name: 'dataset', flag: '--dataset', label: 'Dataset' },
      { name: 'uri', flag: '--uri', label: 'Where the full report is (URI)' },
    ],
  },
  license: {
    summary: 'a license finding',
    fields: [
      { name: 'declared', flag: '--declared', label: 'Declared license (SPDX, or "none")', required: true },
      { name: 'detected', flag: '--detected', label: 'Detected licenses (SPDX, comma-separated)' },
      { name: 'verdict', flag: '--verdict', label: 'Compliance', choices: ['compliant', 'noncompliant', 'unknown'], required: true },
      { name: 'notes', flag: '--notes', label: 'Notes', multiline: true },
    ],
  },
  payload: {
    summary: 'a malicious or suspicious content finding, or a clean scan',
    fields: [
      { name: 'scanner', flag: '--scanner', label: 'Scanner (name@version)', required: true },
      { name: 'finding', flag: '--finding', label: 'Finding', choices: ['malicious-code', 'pickle-exec', 'backdoor', 'suspicious', 'clean'], required: true },
      { name: 'severity', flag: '--severity', label: 'Severity', choices: ['info', 'low', 'medium', 'high', 'critical'], required: true },
      { name: 'description', flag: '--description', label: 'Description', multiline: true },
      { name: 'path', flag: '--path', label: 'File inside the model where it was found' },
    ],
  },
};

class Problem extends Error {}

function nameVersion(flag, v) {
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) throw new Problem(`${flag}: expected NAME@VERSION, got "${v}"`);
  return { name: v.slice(0, at), version: v.slice(at + 1) };
}
function metrics(text) {
  const out = {};
  for (const kv of text.split('\n').map((x) => x.trim()).filter(Boolean)) {
    const eq = kv.indexOf('=');
    const value = Number(kv.slice(eq + 1));
    if (eq <= 0 || kv.slice(eq + 1).trim() === '' || !Number.isFinite(value)) throw new Problem(`--metric: expected KEY=NUMBER, got "${kv}"`);
    out[kv.slice(0, eq)] = value;
  }
  return out;
}
function expiry(text, now) {
  const m = /^(\d+)([dhm])$/.exec(text);
  if (m) return new Date(now.getTime() + Number(m[1]) * (m[2] === 'd' ? 86_400_000 : m[2] === 'h' ? 3_600_000 : 60_000));
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Problem(`--expires: expected a duration like 90d/12h/30m or an RFC 3339 time, got "${text}"`);
  return new Date(t);
}
const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '' && !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)));
const stamp = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The predicate fields, as `chorus attest KIND` builds them from its flags. */
function fieldsOf(kind, v) {
  const s = (k) => (v[k] ?? '').trim() || undefined;
  switch (kind) {
    case 'audit': return defined({ harness: s('harness') && nameVersion('--harness', s('harness')), verdict: s('verdict'), metrics: metrics(v.metric ?? ''), summary: s('summary'), reproduce: defined({ command: s('reproduce'), dataset: s('dataset'), uri: s('uri') }) });
    case 'license': return defined({ declared: s('declared') === 'none' ? null : s('declared'), detected: (v.detected ?? '').split(',').map((x) => x.trim()).filter(Boolean), verdict: s('verdict'), notes: s('notes') });
    case 'payload': return { scanner: s('scanner') && nameVersion('--scanner', s('scanner')), finding: defined({ kind: s('finding'), description: v.description ?? '', path: s('path') }), severity: s('severity') };
    default: throw new Problem(`unknown kind ${kind}`);
  }
}

function Field({ f, value, set }) {
  const id = `f-${f.name}`;
  const hint = html`<span id=${`${id}-hint`} class="hint">${f.flag}${f.required ? ', required' : ''}</span>`;
  if (f.choices) {
    return html`<div class="field"><label for=${id}>${f.label}</label><select id=${id} value=${value ?? ''} onChange=${(e) => set(e.currentTarget.value)} aria-describedby=${`${id}-hint`}><option value="">choose…</option>${f.choices.map((c) => html`<option key=${c} value=${c}>${c}</option>`)}</select>${hint}</div>`;
  }
  if (f.multiline) return html`<div class="field"><label for=${id}>${f.label}</label><textarea id=${id} rows="3" value=${value ?? ''} onInput=${(e) => set(e.currentTarget.value)} aria-describedby=${`${id}-hint`}></textarea>${hint}</div>`;
  return html`<div class="field"><label for=${id}>${f.label}</label><input id=${id} type="text" class="wide" value=${value ?? ''} onInput=${(e) => set(e.currentTarget.value)} aria-describedby=${`${id}-hint`} />${hint}</div>`;
}

/** Hashes a picked file in a worker (never uploaded) and gives its digest to `set`; `say` tells the progress. */
function hashInto(file, set, say) {
  if (!file) return;
  const w = new Worker(new URL('../hash-worker.js', import.meta.url), { type: 'module' });
  say(`Hashing ${file.name}…`);
  w.onmessage = (m) => {
    const msg = m.data;
    if (msg.type === 'progress') say(`Hashing ${file.name}: ${Math.round((100 * msg.done) / Math.max(1, msg.total))} %`);
    else if (msg.type === 'done') { w.terminate(); set(msg.digest); say(`${file.name}: ${msg.digest}`); }
    else if (msg.type === 'error') { w.terminate(); say(`could not read ${file.name}: ${msg.message}`); }
  };
  w.onerror = (err) => say(`the hashing worker failed: ${err.message ?? 'unknown error'}`);
  w.postMessage(file);
}

export function PublishPage() {
  const [s, setS] = useState(undefined);
  const [kind, setKind] = useState('audit');
  const [subject, setSubject] = useState('');
  const [hashing, setHashing] = useState(undefined);
  const [expires, setExpires] = useState('');
  const [values, setValues] = useState({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => { session().then(setS); }, []);
  const def = KINDS[kind];

  const submit = async (e) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    try {
      const digest = normalizeDigest(subject);
      if (!digest) throw new Problem(subject.trim() === '' ? '--subject is required: a model digest or a path to hash' : `--subject: not a sha256 digest: "${subject}" (hash a file on the Search page)`);
      for (const f of def.fields) if (f.required && !(values[f.name] ?? '').trim()) throw new Problem(`required option '${f.flag}' not specified`);
      const now = new Date();
      const statement = {
        subject: [{ name: '', digest: { sha256: digest.slice(7) } }],
        predicateType: `https://chorus.dev/attestation/${kind}/v1`,
        predicate: fieldsOf(kind, values),
        ...(expires.trim() ? { expiresAt: stamp(expiry(expires.trim(), now)) } : {}),
      };
      setBusy(true);
      const r = await api('/v1/attestations', { method: 'POST', body: { statement } });
      setResult({ ...r, digest, kind });
    } catch (err) {
      setError(err instanceof Problem ? { code: 'bad_input', message: err.message } : err);
    } finally {
      setBusy(false);
    }
  };

  return html`<main class="page">
    <${Title}>Publish a finding</${Title}>
    <p>Signed with this node's key, stored here and gossiped to peers — the same as <code>chorus attest ${kind}</code>.</p>
    ${s && !s.loggedIn ? html`<${LoginHint} what="publish" />` : null}
    <form onSubmit=${submit} class="card" novalidate>
      <div class="field"><label for="kind">Kind</label>
        <select id="kind" value=${kind} onChange=${(e) => { setKind(e.currentTarget.value); setValues({}); }}>${Object.keys(KINDS).map((k) => html`<option key=${k} value=${k}>${k}: ${KINDS[k].summary}</option>`)}</select></div>
      <div class="field"><label for="subject">Model digest</label><input id="subject" type="text" class="wide mono" placeholder="sha256:…" value=${subject} onInput=${(e) => setSubject(e.currentTarget.value)} aria-describedby="subject-hint" /><span id="subject-hint" class="hint">--subject, required; or pick the file below</span></div>
      <div class="field"><label for="subject-file">Or the model file</label><input id="subject-file" type="file" onChange=${(e) => hashInto(e.currentTarget.files?.[0], setSubject, setHashing)} aria-describedby="subject-file-hint" /><span id="subject-file-hint" class="hint">${hashing ?? 'Hashed here in your browser (SHA-256, in a worker); never uploaded.'}</span></div>
      ${def.fields.map((f) => html`<${Field} key=${`${kind}-${f.name}`} f=${f} value=${values[f.name]} set=${(x) => setValues({ ...values, [f.name]: x })} />`)}
      <div class="field"><label for="expires">Expires</label><input id="expires" type="text" placeholder="90d, 12h, 30m or an RFC 3339 time" value=${expires} onInput=${(e) => setExpires(e.currentTarget.value)} aria-describedby="expires-hint" /><span id="expires-hint" class="hint">--expires, optional</span></div>
      <button type="submit" class="primary" disabled=${busy || !s?.loggedIn}>Sign and publish</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result && html`<p class="notice" role="status" data-testid="published">${result.code === 'duplicate' ? 'Already stored' : `Stored ${result.kind} attestation`} <span class="mono">${result.id ?? ''}</span>. <a href=${`/models/${result.digest}`}>Open the model</a></p>`}
  </main>`;
}
