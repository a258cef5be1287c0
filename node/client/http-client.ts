import type { Readable } from 'node:stream';
import { ChorusError, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import type { ImportTally } from '../ingest/import-lines.js';
import type { AttestationDetail, AttestationSummary, CheckResult, IssuerInfo, ListPage, LogVerifyResult, NodeClient, NodeStatus, PeerView, PublishOutcome, TrustGraphInfo, TrustListView, ViewWithLookup } from './node-client.js';

const CODES = new Set<string>(ERROR_CODES);

/** The running daemon, over its local HTTP API. */
export function httpClient(baseUrl: string, token: string): NodeClient {
  async function call<T>(method: string, path: string, body?: unknown, opts: { ok?: number[]; raw?: Readable; contentType?: string } = {}): Promise<{ status: number; body: T; text: string }> {
    let res: Response;
    try {
      res = await fetch(baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined || opts.raw ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
        },
        ...(opts.raw ? { body: opts.raw as never, duplex: 'half' } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      } as RequestInit);
    } catch (e) {
      throw new ChorusError('unavailable', `cannot reach the running node at ${baseUrl}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok || opts.ok?.includes(res.status)) return { status: res.status, body: json as T, text };
    const err = json as { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
    const code = (err?.code && CODES.has(err.code) ? err.code : 'io_error') as ErrorCode;
    throw new ChorusError(code, err?.message ?? `the node answered ${res.status}`, err?.details);
  }

  return {
    mode: 'daemon',
    async view(digest, opts) {
      const qs = new URLSearchParams();
      if (opts?.lookup === false) qs.set('lookup', 'false');
      if (opts?.without !== undefined) qs.set('without', opts.without);
      const q = qs.toString();
      return (await call<ViewWithLookup>('GET', `/v1/models/${digest}/reputation${q === '' ? '' : `?${q}`}`)).body;
    },
    async publish(envelope) {
      const r = await call<PublishOutcome | { code: string; message: string; details?: { outcome?: string; id?: string } }>('POST', '/v1/attestations', envelope, { ok: [422] });
      if (r.status !== 422) return r.body as PublishOutcome;
      const e = r.body as { code: string; message: string; details?: { outcome?: string; id?: string } };
      return { outcome: e.details?.outcome === 'ignore' ? 'ignore' : 'reject', code: e.code, message: e.message, ...(e.details?.id ? { id: e.details.id } : {}) };
    },
    async importLines(stream, opts) {
      // The daemon reports once at the end; progress is the final tally.
      const t = (await call<ImportTally>('POST', `/v1/import?show=${opts.show}`, undefined, { raw: stream, contentType: 'application/x-ndjson' })).body;
      opts.onProgress?.(t, t.lines);
      return t;
    },
    async get(id) {
      try {
        return (await call<AttestationDetail>('GET', `/v1/attestations/${encodeURIComponent(id)}`)).body;
      } catch (e) {
        if (e instanceof ChorusError && e.code === 'not_found') return undefined;
        throw e;
      }
    },
    async list(by, q) {
      const qs = `${q.before === undefined ? `after=${q.after}` : `before=${q.before}`}&limit=${q.limit}`;
      const path = by.subject !== undefined ? `/v1/models/${by.subject}/attestations?${qs}` : `/v1/attestations?${qs}${by.issuer !== undefined ? `&issuer=${encodeURIComponent(by.issuer)}` : ''}`;
      return (await call<ListPage>('GET', path)).body;
    },
    async trust() {
      return (await call<TrustListView>('GET', '/v1/trust')).body;
    },
    async setTrust(issuers) {
      return (await call<TrustListView>('PUT', '/v1/trust', { issuers })).body;
    },
    async editTrust(edit) {
      return (await call<TrustListView & { changed: boolean }>('POST', '/v1/trust', edit)).body;
    },
    async issuer(did) {
      return (await call<IssuerInfo>('GET', `/v1/issuers/${encodeURIComponent(did)}`)).body;
    },
    async trustGraph() {
      return (await call<TrustGraphInfo>('GET', '/v1/trust/graph')).body;
    },
    async check(digest) {
      return (await call<CheckResult>('POST', '/v1/check', { digest })).body;
    },
    async approved() {
      return (await call<{ items: AttestationSummary[] }>('GET', '/v1/approvals')).body.items;
    },
    async status() {
      return (await call<NodeStatus>('GET', '/v1/status')).body;
    },
    async peers() {
      return (await call<{ peers: PeerView[] }>('GET', '/v1/peers')).body.peers;
    },
    async logCheckpoint(of) {
      const did = of ?? (await call<NodeStatus>('GET', '/v1/status')).body.did;
      return (await call<undefined>('GET', `/v1/issuers/${encodeURIComponent(did)}/checkpoint`)).text;
    },
    async logVerify(did, fetch) {
      return (await call<LogVerifyResult>(fetch ? 'POST' : 'GET', `/v1/issuers/${encodeURIComponent(did)}/log/${fetch ? 'verify' : 'status'}`)).body;
    },
    async logProof(id, of) {
      const did = of ?? (await call<NodeStatus>('GET', '/v1/status')).body.did;
      const checkpoint = (await call<undefined>('GET', `/v1/issuers/${encodeURIComponent(did)}/checkpoint`)).text;
      const p = (await call<{ index: number; size: number; proof: string[] }>('GET', `/v1/issuers/${encodeURIComponent(did)}/proof/inclusion?id=${encodeURIComponent(id)}`)).body;
      return { ...p, checkpoint };
    },
    async connect(addr) {
      return (await call<{ peerId: string }>('POST', '/v1/peers', { multiaddr: addr })).body.peerId;
    },
    close: async () => {},
  };
}
