import { useEffect, useState } from 'preact/hooks';
import { api, ErrorBox, forgetNames, html, IssuerName, kindOf, LoginHint, session, shortDigest, Title, useApi, useNames, when } from '../lib.js';

const SCOPES = ['audit', 'payload', 'license', 'dealignment', 'lineage', 'provenance'];

function TrustForm({ did, onDone }) {
  const [scope, setScope] = useState(new Set(['*']));
  const [weight, setWeight] = useState('1');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(undefined);
  const toggle = (s) => {
    const next = new Set(scope);
    if (s === '*') { next.clear(); next.add('*'); } else { next.delete('*'); if (next.has(s)) next.delete(s); else next.add(s); }
    if (next.size === 0) next.add('*');
    setScope(next);
  };
  const edit = async (body) => {
    setBusy(true);
    setError(undefined);
    try {
      await api('/v1/trust', { method: 'POST', body });
      forgetNames();
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e) => {
    e.preventDefault();
    const w = Number(weight);
    if (!(w > 0 && w <= 1)) return setError({ message: 'weight: expected a number in (0, 1]' });
    edit({ op: 'trust', issuer: did, scope: [...scope], weight: w, ...(note ? { note } : {}) });
  };
  return html`<form onSubmit=${submit} class="card" aria-labelledby="trust-form">
    <h2 id="trust-form">Change your trust</h2>
    <fieldset><legend>Trust it on</legend>
      <label><input type="checkbox" checked=${scope.has('*')} onChange=${() => toggle('*')} /> every kind</label>
      ${SCOPES.map((s) => html`<label key=${s}><input type="checkbox" checked=${scope.has(s)} onChange=${() => toggle(s)} /> ${s}</label>`)}
    </fieldset>
    <div class="row">
      <div class="field"><label for="weight">Weight (0–1]</label><input id="weight" type="number" min="0.01" max="1" step="0.01" value=${weight} onInput=${(e) => setWeight(e.currentTarget.value)} /></div>
      <div class="field"><label for="note">Your name for it</label><input id="note" type="text" maxlength="256" value=${note} onInput=${(e) => setNote(e.currentTarget.value)} /></div>
    </div>
    <div class="row">
      <button type="submit" class="primary" disabled=${busy}>Trust</button>
      <button type="button" class="danger" disabled=${busy} onClick=${() => edit({ op: 'block', issuer: did, ...(note ? { note } : {}) })}>Block</button>
      <button type="button" disabled=${busy} onClick=${() => edit({ op: 'remove', issuer: did })}>Remove from your policy</button>
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}

export function IssuerPage({ did }) {
  const names = useNames();
  const { data: info, error, reload } = useApi(`/v1/issuers/${encodeURIComponent(did)}`);
  const [s, setS] = useState(undefined);
  useEffect(() => { session().then(setS); }, []);
  const trust = info ? Object.values(info.trust) : [];
  return html`<main class="page">
    <${Title}><span class="muted small">Issuer</span><br />${info?.note ?? names.get(did) ?? ''} <span class="mono small">${did}</span></${Title}>
    <${ErrorBox} error=${error} />
    ${info && html`
      <p data-testid="role">Role in your view: <strong>${info.role}</strong>; ${info.counts ? 'its word counts in some kind.' : 'its word does not count.'}</p>
      ${info.log ? html`<p data-testid="issuer-log">Its log here: <strong>${info.log.completeness.state}</strong>${info.log.completeness.state === 'own' ? '' : `, ${info.log.completeness.verified} of ${info.log.completeness.known} leaves verified, ${info.log.completeness.missing} statement(s) missing, ${info.log.completeness.witnesses} witness(es)${info.log.completeness.settled ? ', settled' : ''}`}.</p>` : null}
      ${info.log?.equivocation ? html`<section class="verdict s-flagged" data-testid="equivocation"><span class="badge">Equivocation</span>
        <p class="reason">This issuer signed two checkpoints of its log that cannot both be true. Anyone can check the proof below with the two notes alone.</p>
        <pre class="mono small">${info.log.equivocation.a}</pre><pre class="mono small">${info.log.equivocation.b}</pre></section>` : null}
      <h2>Your trust in it, per kind</h2>
      ${trust.length === 0 ? html`<p class="muted">Your trust does not reach it.</p>` : html`<div class="table-wrap"><table data-testid="trust-table">
        <thead><tr><th scope="col">Kind</th><th scope="col">Trust</th><th scope="col">Via</th><th scope="col">Path</th></tr></thead>
        <tbody>${trust.map((t) => html`<tr key=${t.scope}><td>${t.scope}</td><td>${t.trust}</td><td>${t.via}</td><td class="path">you ${t.path.map((h, i) => html`${i === 0 && h.from !== h.to ? html` → <${IssuerName} did=${h.from} note=${h.fromNote} names=${names} />` : null}${h.from === h.to ? null : html` → <${IssuerName} did=${h.to} names=${names} /> (×${h.weight})`}`)}</td></tr>`)}</tbody>
      </table></div>`}
      ${info.role === 'self' ? html`<p class="muted" data-testid="self-note">This is this node's own key: its word always counts here (config trust.includeSelf), so there is nothing to trust, block or remove.</p>`
        : s?.loggedIn ? html`<${TrustForm} did=${did} onDone=${reload} />` : s ? html`<${LoginHint} what="trust, block or remove this issuer" />` : null}
      <h2>Endorsed by</h2>
      ${info.endorsedBy.length === 0 ? html`<p class="muted">No endorsement of it is stored here.</p>` : html`<ul>${info.endorsedBy.map((e) => html`<li key=${e.id}><${IssuerName} did=${e.issuer} names=${names} /> on ${e.scope.join(', ')} (weight ${e.weight}), ${when(e.issuedAt)}</li>`)}</ul>`}
      <h2>It endorses</h2>
      ${info.endorses.length === 0 ? html`<p class="muted">Nobody.</p>` : html`<ul>${info.endorses.map((e) => html`<li key=${e.id}><${IssuerName} did=${e.endorsed} names=${names} /> on ${e.scope.join(', ')} (weight ${e.weight})</li>`)}</ul>`}
      <h2>What it published</h2>
      <p>${info.published.attestations} attestation(s), ${info.published.bytes} bytes stored here. Most recent:</p>
      <ul>${info.published.recent.map((a) => html`<li key=${a.id}>${a.kind ?? kindOf(a.predicateType)} about ${a.subjects.slice(0, 4).map((x) => html`<a href=${`/models/sha256:${x}`}>${shortDigest(x)}</a> `)} <span class="muted small">${when(a.issuedAt)}</span></li>`)}</ul>`}
  </main>`;
}
