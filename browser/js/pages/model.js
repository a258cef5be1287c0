/* global performance, document, location, history, URLSearchParams, setTimeout, clearTimeout */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, Backticked, Clipped, ErrorBox, html, IssuerName, LIST_LIMIT, normalizeDigest, predicateSummary, printable, shortDid, statementOf, shortDigest, STATUS_LABEL, StatusChip, subscribe, Title, useNames, VerdictChip, when } from '../lib.js';

const REASON_TEXT = {
  trusted: 'counts',
  untrusted: 'does not count: your trust does not reach this issuer',
  weak: 'does not count: your trust in this issuer is below the minimum weight',
  blocked: 'does not count: you blocked this issuer',
  retracted: 'does not count: its issuer retracted it',
  expired: 'does not count: expired',
  superseded: 'does not count: its issuer said something newer about this model',
  equivocating: 'does not count: its issuer signed contradictory verdicts at the same time',
  ignored: 'does not count: you are ignoring this issuer (what if)',
  'not-scored': 'not scored: this kind has no verdict',
};

function TrustPath({ trust, names }) {
  if (!trust) return null;
  if (trust.via === 'blocked') return html`<div class="path">Trust path: blocked by you.</div>`;
  if (!trust.path || trust.path.length === 0) return html`<div class="path">Trust path: ${trust.via === 'root' ? 'one of your roots' : 'none'} (${trust.scope}, trust ${trust.trust}).</div>`;
  const first = trust.path[0];
  return html`<div class="path" data-testid="trust-path">Trust path (${trust.scope}, trust ${trust.trust}): you
    ${first.from !== first.to ? html` → <${IssuerName} did=${first.from} note=${first.fromNote} names=${names} />` : null}
    ${trust.path.map((hop) => hop.from === hop.to ? null : html` → <${IssuerName} did=${hop.to} names=${names} /> <span class="muted">(×${hop.weight}${hop.endorsement ? ', endorsed' : ''})</span>`)}
    ${trust.path.length === 1 && first.from === first.to ? html` → <${IssuerName} did=${first.to} note=${first.fromNote} names=${names} /> <span class="muted">(root, ×${first.weight})</span>` : null}
  </div>`;
}

function Metrics({ metrics }) {
  if (!metrics || typeof metrics !== 'object') return null;
  const entries = Object.entries(metrics).slice(0, 20);
  if (entries.length === 0) return null;
  return html`<ul class="metrics" aria-label="metrics">${entries.map(([k, v]) => html`<li key=${k}><span class="mono">${k}</span> = ${String(v)}</li>`)}</ul>`;
}

function Envelope({ id }) {
  const [state, setState] = useState(undefined);
  useEffect(() => { api(`/v1/attestations/${id}`).then((d) => setState({ d }), (e) => setState({ e })); }, [id]);
  if (state === undefined) return html`<p class="muted">Loading the envelope…</p>`;
  if (state.e) return html`<${ErrorBox} error=${state.e} />`;
  return html`<div><p class="small muted">Signed DSSE envelope${state.d.retractedBy.length ? `; retracted by ${state.d.retractedBy.join(', ')}` : ''}:</p><pre data-testid="envelope">${JSON.stringify(state.d.envelope, null, 2)}</pre><p class="small muted">Its statement, decoded:</p><pre>${JSON.stringify(state.d.statement, null, 2)}</pre></div>`;
}

function Evidence({ item, kind, names, without, setWithout }) {
  const [raw, setRaw] = useState(false);
  const summary = predicateSummary(kind, item.predicate);
  const ignoring = without === item.issuer;
  const expired = item.expiresAt && Date.parse(item.expiresAt) <= Date.now();
  return html`<li class=${item.counts ? 'counting' : 'not-counting'} data-testid="evidence" data-id=${item.id}>
    <div class="head">
      <${VerdictChip} verdict=${item.verdict} />
      <strong><${IssuerName} did=${item.issuer} note=${item.issuerNote} names=${names} /></strong>
      <span class="small muted">${when(item.issuedAt)}</span>
    </div>
    ${summary ? html`<p class="summary" data-testid="summary"><${Clipped} text=${summary} /></p>` : null}
    <${Metrics} metrics=${item.predicate?.metrics} />
    <div class="meta">
      <span>${item.counts ? `counts, weight ${item.weight}` : REASON_TEXT[item.reason] ?? item.reason}</span>
      ${item.retractedBy ? html`<span>retracted by <span class="mono">${item.retractedBy.slice(0, 12)}…</span></span>` : null}
      ${item.supersededBy ? html`<span>superseded by <span class="mono">${item.supersededBy.slice(0, 12)}…</span></span>` : null}
      ${item.expiresAt ? html`<span>${expired ? 'expired' : 'expires'} ${when(item.expiresAt)}</span>` : null}
      ${item.inherited ? html`<span data-testid="inherited">inherited from base <a href=${`/models/${item.inherited.from}`}>${shortDigest(item.inherited.from)}</a> (${item.inherited.relation}; lineage by ${shortDid(item.inherited.lineageBy)}; there: ${item.inherited.originalVerdict})</span>` : null}
    </div>
    <${TrustPath} trust=${item.trust} names=${names} />
    <div class="actions">
      <button type="button" class="link" aria-expanded=${raw} onClick=${() => setRaw(!raw)}>${raw ? 'hide signed envelope' : 'signed envelope'}</button>
      <label><input type="checkbox" checked=${ignoring} onChange=${() => setWithout(ignoring ? undefined : item.issuer)} data-testid="ignore" /> what if I ignore this issuer</label>
    </div>
    ${raw ? html`<${Envelope} id=${item.id} />` : null}
  </li>`;
}

function KindGroup({ kind, group, names, without, setWithout }) {
  const [all, setAll] = useState(false);
  const items = all ? group.attestations : group.attestations.slice(0, LIST_LIMIT);
  return html`<section aria-labelledby=${`k-${kind}`}>
    <h2 id=${`k-${kind}`}>${kind} <${StatusChip} status=${group.status} /> <span class="small muted">${group.counted} of ${group.total} count</span></h2>
    <ul class="evidence">${items.map((it) => html`<${Evidence} key=${it.id} item=${it} kind=${it.inherited ? kind : kind} names=${names} without=${without} setWithout=${setWithout} />`)}</ul>
    ${group.attestations.length > LIST_LIMIT && !all ? html`<p><button type="button" onClick=${() => setAll(true)}>show all ${group.attestations.length} (the first ${LIST_LIMIT} are shown)</button></p>` : null}
  </section>`;
}

/** Each side of a dispute with its evidence: who, how much their word weighs, what they found. */
function Disputes({ view, names }) {
  const disputes = view.disputes;
  if (!disputes.length) return null;
  const side = (kind, list) => {
    const items = view.byPredicate[kind]?.attestations ?? [];
    return html`<ul class="dispute-side">${list.slice(0, 20).map((x) => {
      const item = items.find((a) => a.id === x.id);
      const summary = item ? predicateSummary(kind, item.predicate) : '';
      return html`<li key=${x.id} data-testid="dispute-item"><strong><${IssuerName} did=${x.issuer} note=${item?.issuerNote} names=${names} /></strong> <span class="muted">weight ${x.weight}</span>
        ${summary ? html`<p class="summary"><${Clipped} text=${summary} /></p>` : null}
        ${item ? html`<${Metrics} metrics=${item.predicate?.metrics} />` : null}</li>`;
    })}</ul>`;
  };
  return html`<section aria-labelledby="disputes"><h2 id="disputes">Disputes</h2>${disputes.map((d) => html`
    <h3>${d.kind}</h3>
    <div class="disputes"><div class="card"><h4 class="v-fail chip">says fail</h4>${side(d.kind, d.fail)}</div><div class="card"><h4 class="v-pass chip">says pass</h4>${side(d.kind, d.pass)}</div></div>`)}</section>`;
}

/** Base models (lineage claims about this digest) above, this model, models derived from it below, and findings carried down. */
function Lineage({ view, derived }) {
  const claims = view.byPredicate.lineage?.attestations ?? [];
  const bases = new Map();
  for (const c of claims) for (const d of (Array.isArray(c.predicate?.derivedFrom) ? c.predicate.derivedFrom : []).slice(0, 8)) {
    const digest = `sha256:${d.digest?.sha256}`;
    if (!bases.has(digest)) bases.set(digest, { relation: d.relation, counts: c.counts });
  }
  const inherited = Object.values(view.byPredicate).flatMap((g) => g.attestations.filter((a) => a.inherited));
  const below = new Map();
  for (const m of derived ?? []) {
    const seen = below.get(m.digest);
    if (!seen || (!seen.counts && m.counts)) below.set(m.digest, m);
  }
  if (bases.size === 0 && inherited.length === 0 && below.size === 0) return null;
  return html`<section aria-labelledby="lineage"><h2 id="lineage">Lineage</h2>
    <div class="lineage">
      ${bases.size ? html`
        <div class="tier">${[...bases].slice(0, 12).map(([d, b]) => html`<a class="node" href=${`/models/${d}`} key=${d}>${shortDigest(d)}<br /><span class="small muted">base${b.counts ? '' : ' (claim does not count)'}</span></a>`)}</div>
        <div class="arrow" aria-hidden="true">↓ ${[...new Set([...bases.values()].map((b) => b.relation))].join(', ')}</div>` : null}
      <div class="tier"><span class="node self">${shortDigest(view.digest)} (this model)</span></div>
      ${below.size ? html`
        <div class="arrow" aria-hidden="true">↓ ${[...new Set([...below.values()].map((m) => m.relation))].join(', ')}</div>
        <div class="tier" data-testid="derived">${[...below.values()].slice(0, 12).map((m) => html`<a class="node" href=${`/models/${m.digest}`} key=${m.digest}>${shortDigest(m.digest)}<br /><span class="small muted">${m.relation}${m.counts ? '' : ' (claim does not count)'}</span></a>`)}</div>
        ${below.size > 12 ? html`<p class="small muted">and ${below.size - 12} more derived model(s)</p>` : null}` : null}
      ${inherited.length ? html`<p class="small">${inherited.length} finding(s) inherited from base models are marked <em>inherited</em> below.</p>` : null}
    </div></section>`;
}

let pending = { key: '', request: undefined };
/** One request per (digest, what-if, refresh): renders before its answer reuse it. */
function viewRequest(digest, without, tick) {
  const key = `${digest}|${without ?? ''}|${tick}`;
  if (pending.key !== key) pending = { key, request: api(`/v1/models/${digest}/reputation${without ? `?without=${encodeURIComponent(without)}` : ''}`) };
  return pending.request;
}

const LOG_TEXT = {
  missing: (c) => `${c.missing} of its statements known and not held here`,
  stale: (c) => `its newest checkpoint (${c.checkpointAt ? when(c.checkpointAt) : 'undated'}) is stale`,
  unsettled: () => 'its checkpoint is not yet cosigned by the witness quorum',
  'no-log': () => 'no checkpoint of its log reached this node',
  equivocated: () => 'it signed two histories that cannot both be true: it no longer counts',
};

/** What this machine's own scan found about the model: local and unsigned, beside the network's view (issue 22). */
function LocalInspection({ local }) {
  if (!local) return null;
  return html`<section class="local-inspection" data-testid="local-inspection" aria-labelledby="local-h">
    <h2 id="local-h">On this machine <span class="small muted">your own inspection (chorus scan, ${when(local.scannedAt)}): local and unsigned, not part of the network's view unless attested</span></h2>
    ${local.models.map((m) => html`<div key=${m.path} class=${`local-model i-${m.inspection}`} data-inspection=${m.inspection}>
      <strong>${m.inspection === 'dangerous' ? 'Dangerous' : m.inspection === 'not-inspected' ? 'Not fully inspected' : m.inspection === 'findings' ? 'Findings' : m.inspection === 'clean' ? 'Nothing found' : 'No model format read'}</strong>
      <span class="mono small"> ${m.path}</span>
      ${m.findings.length > 0 ? html`<ul>${m.findings.slice(0, 5).map((f, i) => html`<li key=${i}><span class="badge-small">${f.severity}</span> ${f.kind}: ${f.path ? `${f.path}: ` : ''}${f.detail}</li>`)}</ul>` : null}
      ${m.findingsTotal > 5 ? html`<p class="small muted">${m.findingsTotal - 5} more finding(s)</p>` : null}
    </div>`)}
  </section>`;
}

/** The longest name shown in the title; the rest is behind "show". */
const NAME_MAX = 120;

/**
 * What the model is called: the file name this machine's scan found, else the subject name
 * the attestations give it (a claim by their issuer, the counting issuers' first), so a page
 * says more than a digest. Names are text, clipped, and say whose they are.
 */
function ModelName({ view, attested, names }) {
  const local = view?.local?.models?.[0]?.name;
  if (local) return html` <span data-testid="model-name" data-source="local">${printable(local).slice(0, NAME_MAX)}</span> <span class="small muted">(the file on this machine)</span>`;
  if (!attested || attested.length === 0) return null;
  const counting = new Set();
  for (const g of Object.values(view?.byPredicate ?? {})) for (const it of g.attestations) if (it.counts) counting.add(it.issuer);
  const ranked = [...attested].sort((a, b) => Number(counting.has(b.issuer)) - Number(counting.has(a.issuer)));
  const first = ranked[0];
  const others = new Set(ranked.map((x) => x.name).filter((n) => n !== first.name));
  return html` <span data-testid="model-name" data-source="attested">${first.name.slice(0, NAME_MAX)}</span> <span class="small muted" data-testid="model-name-by">as named by <${IssuerName} did=${first.issuer} names=${names} />${counting.has(first.issuer) ? '' : ', whose word does not count here'}${others.size > 0 ? `; also called ${[...others].slice(0, 3).map((n) => n.slice(0, 60)).join(', ')}${others.size > 3 ? '…' : ''}` : ''}</span>`;
}

/** The subject names the stored attestations give this digest (at most 50 attestations read), one per name, first issuer. */
function attestedNames(items, hex) {
  const seen = new Map();
  for (const item of items) {
    const st = statementOf(item.envelope);
    const subjects = Array.isArray(st?.subject) ? st.subject : [];
    for (const sub of subjects) {
      const name = typeof sub?.name === 'string' ? printable(sub.name).trim() : '';
      if (sub?.digest?.sha256 === hex && name && !seen.has(name)) seen.set(name, { name, issuer: item.issuer });
    }
  }
  return [...seen.values()];
}

/** Whether this node holds every statement of the issuers that count (SPEC §16.4): shown next to the verdict. */
function Completeness({ c, names }) {
  if (!c) return null;
  const bad = c.issuers.filter((i) => LOG_TEXT[i.state]);
  return html`<section class=${`completeness ${c.complete ? 'complete' : 'incomplete'}`} data-testid="completeness" data-complete=${String(c.complete)}>
    <strong>${c.complete ? 'Complete' : 'Incomplete'}</strong> <span>${c.summary}</span>
    ${bad.length > 0 ? html`<ul>${bad.slice(0, 10).map((i) => html`<li key=${i.issuer}><${IssuerName} did=${i.issuer} names=${names} />: ${LOG_TEXT[i.state](i)}</li>`)}</ul>` : null}
  </section>`;
}

export function ModelPage({ digest: given }) {
  const digest = normalizeDigest(given);
  const names = useNames();
  const [without, setWithoutState] = useState(() => new URLSearchParams(location.search).get('without') ?? undefined);
  const [view, setView] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [tick, setTick] = useState(0);
  const [attested, setAttested] = useState(undefined);
  const [derived, setDerived] = useState(undefined);
  const marked = useRef(false);
  const setWithout = (did) => {
    history.replaceState({}, '', `/models/${digest}${did ? `?without=${encodeURIComponent(did)}` : ''}`);
    setWithoutState(did);
  };
  // Asked for during the first render, not after it: effects wait for the next frame.
  const request = digest ? viewRequest(digest, without, tick) : undefined;
  // Leaving the page forgets the request: coming back reads the view again.
  useEffect(() => () => { pending = { key: '', request: undefined }; }, []);
  useEffect(() => {
    if (!request) return undefined;
    let live = true;
    request.then((v) => { if (live) { setView(v); setError(undefined); } }, (e) => live && setError(e));
    return () => { live = false; };
  }, [request]);
  // Models derived from this one (lineage claims naming it as their base): beside the view, never before it.
  useEffect(() => {
    if (!digest) return undefined;
    let live = true;
    api(`/v1/models/${digest}/derived`).then((d) => live && setDerived(d.models), () => live && setDerived(undefined));
    return () => { live = false; };
  }, [digest, tick]);
  // What the attestations call it (the first 50 stored; names only, beside the view).
  useEffect(() => {
    if (!digest) return undefined;
    let live = true;
    api(`/v1/models/${digest}/attestations?limit=50`).then((d) => live && setAttested(attestedNames(d.items, digest.slice(7))), () => live && setAttested(undefined));
    return () => { live = false; };
  }, [digest, tick]);
  // New evidence or a status change about this model: read the view again.
  useEffect(() => {
    if (!digest) return undefined;
    let t;
    const again = () => { clearTimeout(t); t = setTimeout(() => setTick((x) => x + 1), 250); };
    const close = subscribe(`/v1/events?subject=${digest}`, { attestation: again, status: again });
    return () => { clearTimeout(t); close(); };
  }, [digest]);
  useEffect(() => {
    if (view && !marked.current) {
      marked.current = true;
      performance.mark('chorus:model-rendered');
    }
    if (view) document.body.dataset.rendered = `${view.digest}|${view.without ?? ''}|${view.status}`;
  }, [view]);

  if (!digest) return html`<main class="page"><${Title}>Not a model digest</${Title}><p>Expected sha256:&lt;64 hex&gt;, got <code>${given}</code>. <a href="/search">Search</a></p></main>`;
  const kinds = view ? Object.entries(view.byPredicate).filter(([, g]) => g.attestations.length > 0) : [];
  return html`<main class="page">
    <${Title}><span class="muted small">Model</span><${ModelName} view=${view} attested=${attested} names=${names} /><br /><span class="mono">${digest}</span></${Title}>
    <${ErrorBox} error=${error} />
    ${view && html`
      ${without ? html`<p class="notice" data-testid="what-if">What if: this view leaves out <${IssuerName} did=${without} names=${names} />. <button type="button" onClick=${() => setWithout(undefined)}>stop ignoring</button></p>` : null}
      <section class=${`verdict s-${view.status}`} aria-live="polite" data-testid="verdict" data-status=${view.status}>
        <span class="badge">${STATUS_LABEL[view.status] ?? view.status}</span>
        <p class="reason"><${Backticked} text=${view.reason} /></p>
      </section>
      <${Completeness} c=${view.completeness} names=${names} />
      <${LocalInspection} local=${view.local} />
      <p class="small muted">Your view as of ${when(view.asOf)}: ${view.trustedIssuers} issuer(s) reached by your trust.
        ${view.untrusted.listed > 0 ? ` ${view.untrusted.listed} attestation(s) from issuers you do not trust (fail ${view.untrusted.fail}, warn ${view.untrusted.warn}, pass ${view.untrusted.pass}) do not count.` : ''}
        ${view.evidence && view.evidence.omitted > 0 ? ` ${view.evidence.omitted} more attestation(s) by issuers that do not count are not listed.` : ''}
        ${view.lookup ? ` Asked the network: ${view.lookup.outcome}, ${view.lookup.accepted} accepted.` : ''}</p>
      <${Disputes} view=${view} names=${names} />
      <${Lineage} view=${view} derived=${derived} />
      ${kinds.length === 0 ? html`<p>No attestation about this model is stored here.</p>` : null}
      ${kinds.map(([k, g]) => html`<${KindGroup} key=${k} kind=${k} group=${g} names=${names} without=${without} setWithout=${setWithout} />`)}`}
    ${!view && !error ? html`<p class="muted">Computing your view…</p>` : null}
  </main>`;
}
