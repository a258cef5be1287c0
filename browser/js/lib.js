/* global fetch, history, location, sessionStorage, dispatchEvent, PopStateEvent, atob, TextDecoder, TextDecoderStream, AbortController, setTimeout, clearTimeout */
// Shared by every page: rendering (preact + htm: text is always escaped), the JSON API
// client (same origin; requests carry the session's CSRF token), names and labels.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** Evidence items a list shows before "show all" (bounds the cost of a hostile flood). */
export const LIST_LIMIT = 50;
/** Characters of a summary shown in a list before "show full text". */
export const CLIP = 280;
/** Lines the live feed keeps. */
export const FEED_MAX = 200;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A login lands on /#csrf=…: the secret is kept in this tab's sessionStorage (this origin's
// alone: another port of 127.0.0.1 cannot read it, though the browser sends it the cookie)
// and taken out of the address bar.
if (location.hash.startsWith('#csrf=')) {
  sessionStorage.setItem('chorus-csrf', location.hash.slice(6));
  history.replaceState(null, '', location.pathname + location.search);
}

let sessionPromise;
/**
 * {loggedIn, csrf?, readsNeedToken, otherTab?}: read once per page load (login is a full
 * page load). loggedIn means this tab may write: the session cookie and the CSRF secret of
 * its login; a tab opened on its own has the cookie only (otherTab), and reads.
 */
export function session() {
  sessionPromise ??= fetch('/ui/session', { credentials: 'same-origin' }).then((r) => r.json()).then((s) => {
    const csrf = sessionStorage.getItem('chorus-csrf');
    if (!s.loggedIn) return s;
    return csrf ? { ...s, csrf } : { ...s, loggedIn: false, otherTab: true };
  }).catch(() => ({ loggedIn: false }));
  return sessionPromise;
}

/**
 * Calls the node's JSON API. Every request sends the session's CSRF token (when this tab
 * logged in): writes and private reads need it beside the cookie, which the browser would
 * also send to a server on another port of 127.0.0.1.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const s = await session();
  if (s.csrf) headers['x-chorus-csrf'] = s.csrf;
  const r = await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, j?.code ?? 'error', j?.message ?? `${r.status} ${r.statusText}`);
  return j;
}

/**
 * Server-sent events from `path`, with this tab's CSRF token (EventSource cannot send a
 * header, and when reads need the token the cookie alone reads nothing). `on` maps event
 * names to handlers of {data}; `onState` hears 'open' and 'reconnecting'. Reconnects after
 * 3 s with Last-Event-ID. Returns a function that closes the stream.
 */
export function subscribe(path, on, onState = () => undefined) {
  const ac = new AbortController();
  let lastId;
  let retry;
  const dispatch = (block) => {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(line[c + 1] === ' ' ? c + 2 : c + 1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') lastId = value;
    }
    if (data.length > 0) on[event]?.({ data: data.join('\n') });
  };
  const connect = async () => {
    try {
      const s = await session();
      const headers = { accept: 'text/event-stream' };
      if (s.csrf) headers['x-chorus-csrf'] = s.csrf;
      if (lastId !== undefined) headers['last-event-id'] = lastId;
      const r = await fetch(path, { headers, credentials: 'same-origin', signal: ac.signal });
      if (!r.ok || !r.body) throw new Error(`${r.status}`);
      onState('open');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
    } catch {
      // ended or refused: reconnect below unless closed
    }
    if (ac.signal.aborted) return;
    onState('reconnecting');
    retry = setTimeout(connect, 3000);
  };
  connect();
  return () => { ac.abort(); clearTimeout(retry); };
}

/** Loads `path` (re-loads when it changes); {data, error, reload}. */
export function useApi(path) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [n, setN] = useState(0);
  useEffect(() => {
    if (path === undefined) return undefined;
    let live = true;
    api(path).then((data) => live && setState({ data, error: undefined }), (error) => live && setState({ data: undefined, error }));
    return () => { live = false; };
  }, [path, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export function navigate(url) {
  history.pushState({}, '', url);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** sha256:<hex> from "sha256:<hex>" or bare hex; undefined otherwise. */
export function normalizeDigest(text) {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(String(text).trim());
  return m ? `sha256:${m[1].toLowerCase()}` : undefined;
}

export const shortDid = (did) => (typeof did === 'string' && did.length > 24 ? `${did.slice(0, 14)}…${did.slice(-6)}` : String(did));
export const shortDigest = (d) => { const x = String(d).replace(/^sha256:/, ''); return `sha256:${x.slice(0, 12)}…`; };

let namesPromise;
/** Your names for issuers: the notes of your trust list (roots, subscriptions, blocks). */
export function useNames() {
  const [names, setNames] = useState(new Map());
  useEffect(() => {
    namesPromise ??= api('/v1/trust').then((t) => {
      const m = new Map();
      for (const list of [t.policy?.blocks ?? [], t.policy?.subscriptions ?? [], t.policy?.roots ?? []]) for (const e of list) if (e.note) m.set(e.issuer, e.note);
      if (t.self) m.set(t.self, m.get(t.self) ?? 'this node');
      return m;
    }).catch(() => new Map());
    let live = true;
    namesPromise.then((m) => live && setNames(m));
    return () => { live = false; };
  }, []);
  return names;
}
/** Forget cached names (after a trust edit). */
export function forgetNames() { namesPromise = undefined; }

export function IssuerName({ did, note, names }) {
  const name = note ?? names?.get(did);
  return html`<a href=${`/issuers/${did}`} title=${did}>${name ?? shortDid(did)}</a>`;
}

export const STATUS_LABEL = { flagged: '✖ FLAGGED', caution: '⚠ CAUTION', ok: '✔ OK', disputed: '⇄ DISPUTED', unknown: '? UNKNOWN' };

export function StatusChip({ status }) {
  return html`<span class=${`chip s-${status}`}>${STATUS_LABEL[status] ?? String(status)}</span>`;
}
export function VerdictChip({ verdict }) {
  if (verdict === undefined) return null;
  return html`<span class=${`chip v-${verdict}`}>${String(verdict)}</span>`;
}

/** Text clipped to CLIP characters with a button for the rest. */
export function Clipped({ text }) {
  const [open, setOpen] = useState(false);
  const s = String(text ?? '');
  if (s.length <= CLIP) return html`<span>${s}</span>`;
  return html`<span>${open ? s : `${s.slice(0, CLIP)}…`} <button type="button" class="link" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? 'show less' : `show full text (${s.length} characters)`}</button></span>`;
}

/**
 * Text as a stranger wrote it, made safe to show as a name: control characters, bidirectional
 * overrides and invisible characters (which can make one name look like another) removed.
 */
export function printable(text) {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  return String(text ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '');
}

/** Text in which `backticked` spans (commands, as the API's messages quote them) show as code. */
export function Backticked({ text }) {
  const parts = String(text ?? '').split('`');
  // An odd count of backticks leaves the last one as it is.
  if (parts.length % 2 === 0) return html`<span>${String(text ?? '')}</span>`;
  return html`<span>${parts.map((p, i) => (i % 2 === 1 ? html`<code key=${i}>${p}</code>` : p))}</span>`;
}

/** The statement inside a DSSE envelope (payload is base64 of UTF-8 JSON); undefined if it does not decode. */
export function statementOf(envelope) {
  try {
    const bin = atob(envelope.payload);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** One line saying what a predicate found, whatever its kind. */
export function predicateSummary(kind, p) {
  if (!p || typeof p !== 'object') return '';
  const s = (v) => (v === undefined || v === null ? '' : String(v));
  switch (kind) {
    case 'audit': return [p.harness ? `${s(p.harness.name)}@${s(p.harness.version)}` : '', s(p.summary)].filter(Boolean).join(': ');
    case 'payload': return [p.finding ? s(p.finding.kind) : '', p.severity ? `(${s(p.severity)})` : '', p.finding ? s(p.finding.description) : '', p.finding?.path ? `in ${s(p.finding.path)}` : '', p.scanner ? `by ${s(p.scanner.name)}@${s(p.scanner.version)}` : ''].filter(Boolean).join(' ');
    case 'license': return `declared ${p.declared === null ? 'none' : s(p.declared)}${Array.isArray(p.detected) && p.detected.length ? `, detected ${p.detected.map(s).join(', ')}` : ''}${p.verdict ? `: ${s(p.verdict)}` : ''}${p.notes ? ` — ${s(p.notes)}` : ''}`;
    case 'dealignment': return `${s(p.method)} of base ${p.baseModel ? shortDigest(s(p.baseModel.sha256)) : '?'}: ${s(p.evidence?.description)}`;
    case 'lineage': return (Array.isArray(p.derivedFrom) ? p.derivedFrom : []).slice(0, 8).map((d) => `${s(d.relation)} from ${shortDigest(s(d.digest?.sha256))}`).join('; ') + (p.notes ? ` — ${s(p.notes)}` : '');
    case 'provenance': return `signed by ${p.signer?.identity ? `${s(p.signer.identity)}${p.signer.oidcIssuer ? ` via ${s(p.signer.oidcIssuer)}` : ''}` : `key sha256:${s(p.signer?.keyFingerprint).slice(0, 16)}…`} (OMS model signing, ${s(p.method)}, ${s(p.files)} file(s) matched)`;
    case 'retraction': return `withdraws ${s(p.target).slice(0, 16)}…${p.reason ? `: ${s(p.reason)}` : ''}`;
    case 'endorsement': return `endorses ${shortDid(s(p.endorsed))} on ${Array.isArray(p.scope) ? p.scope.map(s).join(', ') : ''} (weight ${s(p.weight)})${p.note ? ` — ${s(p.note)}` : ''}`;
    case 'approval': return `approves ${s(p.name)}${p.version ? ` ${s(p.version)}` : ''}${p.license ? ` under ${s(p.license)}` : ''}`;
    default: return s(p.summary);
  }
}

export const kindOf = (predicateType) => /\/attestation\/([a-z]+)\/v\d+$/.exec(String(predicateType))?.[1] ?? 'other';

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function bytes(n) {
  if (typeof n !== 'number') return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

/** The page's <h1>, focused on navigation so screen readers announce the new page. */
export function Title({ children }) {
  return html`<h1 id="page-title" tabindex="-1">${children}</h1>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.code ? `${error.code}: ` : ''}<${Backticked} text=${error.message ?? String(error)} /></p>`;
}

export function LoginHint({ what }) {
  return html`<p class="notice">To ${what}, log in: run <code>chorus ui</code> on this machine (it opens this page with a one-time login code).</p>`;
}
