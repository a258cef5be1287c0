/* global setInterval, clearInterval */
import { useEffect, useState } from 'preact/hooks';
import { api, bytes, Clipped, ErrorBox, FEED_MAX, html, IssuerName, kindOf, predicateSummary, shortDid, shortDigest, statementOf, StatusChip, subscribe, Title, useNames, VerdictChip, when } from '../lib.js';

function Status({ status, peers, peersError }) {
  const net = status.network;
  return html`
    <div class="cards">
      <dl class="card">
        <dt>Issuer id (did)</dt><dd class="mono" data-testid="did">${status.did}</dd>
        <dt>Version</dt><dd>${status.version}</dd>
        <dt>Up for</dt><dd>${Math.round(status.uptimeSeconds / 60)} min</dd>
      </dl>
      <dl class="card">
        <dt>Attestations stored</dt><dd data-testid="attestations">${status.attestations}</dd>
        <dt>Store on disk</dt><dd>${bytes(status.storeBytes)}</dd>
        <dt>Strangers' storage budget</dt><dd data-testid="pool">${bytes(status.strangerPool.usedBytes)} of ${bytes(status.strangerPool.budgetBytes)} (${Math.round((100 * status.strangerPool.usedBytes) / Math.max(1, status.strangerPool.budgetBytes))}%)</dd>
        <dt>Issuers your trust reaches</dt><dd>${status.trustedIssuers}</dd>
      </dl>
      <dl class="card">
        <dt>Peer id</dt><dd class="mono">${net ? net.peerId : 'not on the network (net.enabled is false)'}</dd>
        <dt>Reachability</dt><dd>${net ? net.reachability.state : '—'}</dd>
        <dt>Peers connected</dt><dd>${net ? net.peers : 0}</dd>
      </dl>
    </div>
    ${net && html`
      <h2>Peers</h2>
      ${peersError ? html`<${ErrorBox} error=${peersError} />` : peers && peers.length === 0 ? html`<p class="muted">No peer connected.</p>` : peers && html`
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Peer</th><th scope="col">Direction</th><th scope="col">Latency</th><th scope="col">Last sync</th><th scope="col">Address</th></tr></thead>
          <tbody>${peers.map((p) => html`<tr key=${p.peerId}><td class="mono" title=${p.peerId}>${shortDid(p.peerId)}</td><td>${p.direction}${p.relayed ? ' (relayed)' : ''}</td><td>${p.latencyMs === null ? '—' : `${Math.round(p.latencyMs)} ms`}</td><td>${p.lastSync ? `${when(p.lastSync.at)} (${p.lastSync.fetched} fetched)` : 'not yet'}</td><td class="mono small">${p.addresses[0] ?? ''}</td></tr>`)}</tbody>
        </table></div>`}`}`;
}

/** New attestations as they arrive (SSE), newest first, at most FEED_MAX lines. */
function LiveFeed() {
  const names = useNames();
  const [lines, setLines] = useState([]);
  const [state, setState] = useState('connecting');
  useEffect(() => {
    // The newest few stored first (the feed is not empty on load), then what arrives.
    let close = () => {};
    let live = true;
    api('/v1/status').then((st) => st.lastSeq, () => undefined).then((lastSeq) => {
      if (!live) return;
      close = subscribe(lastSeq > 0 ? `/v1/events?cursor=${Math.max(0, lastSeq - 10)}` : '/v1/events', handlers, setState);
    });
    return () => { live = false; close(); };
  }, []);
  const handlers = {
      attestation: (ev) => {
        let a;
        try { a = JSON.parse(ev.data); } catch { return; }
        const st = statementOf(a.envelope);
        const kind = a.kind ?? kindOf(a.predicateType);
        const line = { key: a.id, id: a.id, kind, issuer: a.issuer, subjects: (a.subjects ?? []).slice(0, 4), at: a.receivedAt, verdict: st?.predicate?.verdict, summary: predicateSummary(kind, st?.predicate), endorsed: kind === 'endorsement' ? st?.predicate?.endorsed : undefined };
        setLines((l) => (l.some((x) => x.key === line.key) ? l : [line, ...l].slice(0, FEED_MAX)));
      },
      status: (ev) => {
        let c;
        try { c = JSON.parse(ev.data); } catch { return; }
        setLines((l) => [{ key: `s${c.at}${c.digest}`, status: c, at: c.at }, ...l].slice(0, FEED_MAX));
      },
  };
  return html`
    <h2>Live <span class="small muted" data-testid="live-state" data-state=${state}>(${state === 'open' ? 'connected' : state}; newest first, at most ${FEED_MAX} lines)</span></h2>
    ${lines.length === 0 ? html`<p class="muted">New attestations appear here as this node accepts them (the newest stored ones first).</p>` : null}
    <ul class="feed" aria-live="polite" data-testid="feed">${lines.map((x) => x.status
      ? html`<li key=${x.key}>${when(x.at)} · <a href=${`/models/${x.status.digest}`}>${shortDigest(x.status.digest)}</a> is now <${StatusChip} status=${x.status.new} /> <span class="muted">(was ${x.status.old})</span></li>`
      : html`<li key=${x.key}>${when(x.at)} · <strong>${x.kind}</strong> <${VerdictChip} verdict=${x.verdict} /> by <${IssuerName} did=${x.issuer} names=${names} /> ${x.kind === 'endorsement' && x.endorsed ? html`of <${IssuerName} did=${x.endorsed} names=${names} />` : html`about ${x.subjects.map((s) => html`<a href=${`/models/sha256:${s}`}>${shortDigest(s)}</a> `)}`}${x.summary ? html`: <${Clipped} text=${x.summary} />` : null}</li>`)}</ul>`;
}

export function HomePage() {
  const [status, setStatus] = useState(undefined);
  const [peers, setPeers] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [peersError, setPeersError] = useState(undefined);
  useEffect(() => {
    let live = true;
    const load = () => {
      api('/v1/status').then((s) => {
        if (!live) return;
        setStatus(s);
        setError(undefined);
        if (s.network) api('/v1/peers').then((p) => live && setPeers(p.peers), (e) => live && setPeersError(e));
      }, (e) => live && setError(e));
    };
    load();
    const t = setInterval(load, 5000);
    return () => { live = false; clearInterval(t); };
  }, []);
  return html`<main class="page">
    <${Title}>This node</${Title}>
    <${ErrorBox} error=${error} />
    ${status && html`<${Status} status=${status} peers=${peers} peersError=${peersError} />`}
    <${LiveFeed} />
  </main>`;
}
