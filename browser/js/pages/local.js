/* global setTimeout, clearTimeout */
import { useEffect, useState } from 'preact/hooks';
import { api, bytes, Clipped, ErrorBox, html, LoginHint, session, shortDigest, StatusChip, Title, when } from '../lib.js';

const FINDINGS_SHOWN = 10;

function Model({ m }) {
  const dangerous = m.inspection === 'dangerous';
  return html`<li class="card" data-testid="local-model">
    <div class="head"><strong>${m.name}</strong> <span class="muted small">${m.runtime}</span> <${StatusChip} status=${m.status} />
      ${dangerous ? html` <span class="chip s-flagged">✖ DANGEROUS (inspection)</span>`
        : m.inspection === 'not-inspected' ? html` <span class="chip s-caution" data-testid="not-inspected">? NOT INSPECTED in full (can carry code)</span>`
          : m.inspection === 'findings' ? html` <span class="chip s-caution">⚠ findings</span>`
            : m.inspection === 'clean' ? html` <span class="chip s-ok">✔ inspection clean</span>` : m.inspection === 'no-model-format' ? html` <span class="chip">no model format (not inspected)</span>` : html` <span class="chip">inspection: ${String(m.inspection)}</span>`}</div>
    <p class="small"><a href=${`/models/sha256:${m.digest}`}>${shortDigest(m.digest)}</a>: <${Clipped} text=${m.reason} /></p>
    <ul class="small">${m.files.slice(0, 50).map((f) => html`<li key=${f.path}>${f.name}: ${f.format}${f.coverage && f.coverage.state !== 'inspected' ? html` <strong>(${f.coverage.state})</strong>` : null}, ${bytes(f.size)}${f.sha256 ? html`, <a href=${`/models/sha256:${f.sha256}`}>${shortDigest(f.sha256)}</a>` : null}${f.tampered ? html` <strong class="v-fail chip">TAMPERED</strong>` : null}
      ${f.findings.length ? html`<ul>${f.findings.slice(0, FINDINGS_SHOWN).map((x, i) => html`<li key=${i}><strong>${String(x.severity).toUpperCase()}</strong> ${x.kind}${x.path ? ` in ${x.path}` : ''}: <${Clipped} text=${x.detail} /></li>`)}${f.findings.length > FINDINGS_SHOWN ? html`<li>… ${f.findings.length - FINDINGS_SHOWN} more (chorus scan --json)</li>` : null}</ul>` : null}</li>`)}</ul>
  </li>`;
}

export function LocalPage() {
  const [s, setS] = useState(undefined);
  const [state, setState] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => { session().then(setS); }, []);
  useEffect(() => {
    // The list needs the login's CSRF secret beside the cookie: a tab opened on its own has the cookie only.
    if (!s?.loggedIn) return undefined;
    let live = true;
    let t;
    api('/v1/scan/last').then((x) => {
      if (!live) return;
      setState(x);
      if (x.running) t = setTimeout(() => setTick((n) => n + 1), 1000);
    }, (e) => live && setError(e));
    return () => { live = false; clearTimeout(t); };
  }, [s, tick]);
  const rescan = async () => {
    try {
      await api('/v1/scan', { method: 'POST' });
      setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  const report = state?.last?.report;
  return html`<main class="page">
    <${Title}>Model files on this machine</${Title}>
    ${s && !s.loggedIn ? html`<${LoginHint} what=${`see the models on this machine${s.otherTab ? ' in this tab' : ''} (the list names files here, so it is not public to every reader of the API)`} />` : null}
    <${ErrorBox} error=${error} />
    ${state && html`
      <p data-testid="scan-at" data-at=${state.last?.at ?? ''}>${state.last ? html`Last scan ${when(state.last.at)}${state.last.paths.length ? ` of ${state.last.paths.join(', ')}` : ' of the places local runtimes keep models'}: ${report.models.length} model(s).` : html`No scan yet: run <code>chorus scan</code>, or rescan here.`}</p>
      <p><button type="button" class="primary" onClick=${rescan} disabled=${state.running || !s?.loggedIn}>${state.running ? 'Scanning…' : 'Rescan'}</button></p>
      ${state.error ? html`<p class="error" role="alert">The last rescan failed: ${state.error}</p>` : null}
      ${report && html`<ul class="evidence">${report.models.map((m) => html`<${Model} key=${m.root + m.name} m=${m} />`)}</ul>
        ${report.problems.length ? html`<h2>Problems</h2><ul>${report.problems.slice(0, 20).map((p, i) => html`<li key=${i}>${p.path}: ${p.message}</li>`)}</ul>` : null}`}`}
  </main>`;
}
