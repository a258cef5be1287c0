import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Daemon } from '../../node/daemon/daemon.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, makeStatement, randomDigest, signPayload } from '../support/fixtures.js';

let daemon: Daemon;
let url: string;
let token: string;

const auth = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const post = (path: string, body: unknown, headers: Record<string, string> = auth()) =>
  fetch(url + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

let td: TestDaemon;
beforeAll(async () => {
  td = await startTestDaemon('chorus-api-');
  ({ daemon, url, token } = td);
});

afterAll(async () => {
  await td?.stop();
});

describe('HTTP API', () => {
  it('binds to loopback by default', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves an OpenAPI 3.1 document that a real validator accepts and that lists every route', async () => {
    const doc = await (await fetch(`${url}/v1/openapi.json`)).json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const p of ['/v1/models/{digest}/reputation', '/v1/models/{digest}/attestations', '/v1/models/{digest}/derived', '/v1/scan/last', '/v1/scan', '/v1/attestations', '/v1/attestations/{id}', '/v1/query', '/v1/events', '/v1/trust', '/v1/trust/graph', '/v1/issuers/{did}', '/v1/status', '/healthz', '/metrics']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });

  it('publishes a pre-signed envelope (201), reports a duplicate (200), and serves it back', async () => {
    const issuer = makeIssuer();
    const digest = randomDigest();
    const line = makeEnvelopeLine(issuer, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail' }) });
    const r1 = await post('/v1/attestations', line);
    expect(r1.status).toBe(201);
    const { id } = await r1.json() as { id: string };
    const r2 = await post('/v1/attestations', line);
    expect(r2.status).toBe(200);
    expect(await r2.json()).toMatchObject({ outcome: 'ignore', code: 'duplicate', id });
    const got = await (await fetch(`${url}/v1/attestations/${id}`)).json() as { issuer: string; subjects: string[] };
    expect(got).toMatchObject({ issuer: issuer.did, subjects: [digest] });
    // Untrusted issuer: shown, does not count.
    const view = await (await fetch(`${url}/v1/models/sha256:${digest}/reputation`)).json() as { status: string; byPredicate: { audit: { total: number; counted: number } } };
    expect(view.status).toBe('unknown');
    expect(view.byPredicate.audit).toMatchObject({ total: 1, counted: 0 });
    // Trust the issuer over the API: now it flags.
    const put = await fetch(`${url}/v1/trust`, { method: 'PUT', headers: auth(), body: JSON.stringify({ issuers: [{ issuer: issuer.did, note: 'lab' }] }) });
    expect(put.status).toBe(200);
    const after = await (await fetch(`${url}/v1/models/${digest}/reputation`)).json() as { status: string };
    expect(after.status).toBe('flagged');
    // A full replace says what it removed.
    const cleared = await fetch(`${url}/v1/trust`, { method: 'PUT', headers: auth(), body: JSON.stringify({ issuers: [] }) });
    expect(((await cleared.json()) as { removed: { issuer: string; was: string }[] }).removed).toEqual([{ issuer: issuer.did, was: 'root' }]);
  });

  it('signs an unsigned statement with the node key', async () => {
    const digest = randomDigest();
    const r = await post('/v1/attestations', { statement: { subject: [{ name: 'm', digest: { sha256: digest } }], predicateType: 'https://chorus.dev/attestation/audit/v1', predicate: exampleFields('audit', { verdict: 'pass' }) } });
    expect(r.status).toBe(201);
    const body = await r.json() as { envelope: { signatures: { keyid: string }[] } };
    expect(body.envelope.signatures[0]?.keyid).toBe(daemon.node.identity.did);
    const view = await (await fetch(`${url}/v1/models/${digest}/reputation`)).json() as { status: string };
    expect(view.status).toBe('ok');
  });

  it('answers a batch query of 1,000 digests, with per-digest errors for bad ones', async () => {
    const digests = Array.from({ length: 999 }, () => randomDigest());
    const r = await post('/v1/query', { digests: [...digests, 'not-a-digest'] });
    expect(r.status).toBe(200);
    const { results } = await r.json() as { results: ({ status: string } | { error: { code: string } })[] };
    expect(results).toHaveLength(1000);
    expect(results[0]).toMatchObject({ status: 'unknown' });
    expect(results[999]).toMatchObject({ error: { code: 'bad_input' } });
    expect((await post('/v1/query', { digests: [...digests, randomDigest(), randomDigest()] })).status).toBe(400);
  });

  it.each([
    ['malformed JSON', () => post('/v1/attestations', '{"payloadType":'), 400, 'malformed_json'],
    ['wrong content type', () => post('/v1/attestations', 'x', { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    ['unknown fields', () => post('/v1/query', { digests: [randomDigest()], extra: 1 }), 400, 'bad_input'],
    ['oversized body', () => post('/v1/attestations', JSON.stringify({ payloadType: 'x', payload: 'A'.repeat(2 * 1024 * 1024), signatures: [] })), 413, 'too_large'],
    ['invalid digest', () => fetch(`${url}/v1/models/xyz/reputation`), 400, 'bad_input'],
    ['forged signature', () => {
      const issuer = makeIssuer();
      const env = signPayload(issuer, makeStatement(issuer));
      env.signatures[0]!.sig = signPayload(makeIssuer(), makeStatement(issuer)).signatures[0]!.sig;
      return post('/v1/attestations', env);
    }, 422, 'bad_signature'],
    ['missing token', () => post('/v1/attestations', {}, { 'content-type': 'application/json' }), 401, 'unauthorized'],
    ['wrong token', () => post('/v1/attestations', {}, { authorization: 'Bearer nope', 'content-type': 'application/json' }), 401, 'unauthorized'],
    ['unknown attestation', () => fetch(`${url}/v1/attestations/${'0'.repeat(64)}`), 404, 'not_found'],
    ['unknown route', () => fetch(`${url}/v2/nothing`), 404, 'not_found'],
    ['trust change without token', () => fetch(`${url}/v1/trust`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"issuers":[]}' }), 401, 'unauthorized'],
    ['trust list with a bad did', () => fetch(`${url}/v1/trust`, { method: 'PUT', headers: auth(), body: JSON.stringify({ issuers: [{ issuer: 'did:key:nope' }] }) }), 400, 'bad_input'],
  ] as const)('%s -> %i %s, nothing stored', async (_name, send, status, code) => {
    const before = daemon.node.store.size;
    const r = await send();
    expect(r.status).toBe(status);
    const body = await r.json() as { code: string; message: string };
    expect(body.code).toBe(code);
    expect(body.message.length).toBeGreaterThan(0);
    expect(daemon.node.store.size).toBe(before);
  });

  it('keeps serving after 3,000 bad requests, then answers a good one', async () => {
    const before = daemon.node.store.size;
    const bad = [
      () => post('/v1/attestations', '{{{'),
      () => post('/v1/attestations', { payloadType: 1 }),
      () => post('/v1/attestations', signPayload(makeIssuer(), 'garbage')),
      () => fetch(`${url}/v1/models/${'z'.repeat(64)}/reputation`),
      () => post('/v1/query', { digests: 'x' }),
      () => post('/v1/attestations', {}, {}),
    ];
    for (let round = 0; round < 30; round++) {
      const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => bad[i % bad.length]!()));
      for (const r of rs) {
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        await r.arrayBuffer();
      }
    }
    expect(daemon.node.store.size).toBe(before);
    const ok = await post('/v1/attestations', makeEnvelopeLine(makeIssuer()));
    expect(ok.status).toBe(201);
  });

  it('streams accepted attestations as SSE, with backfill from a cursor', async () => {
    const start = daemon.node.store.lastSeq;
    const ac = new AbortController();
    const res = await fetch(`${url}/v1/events?cursor=${start}`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const lines = [makeEnvelopeLine(makeIssuer()), makeEnvelopeLine(makeIssuer())];
    const ids: string[] = [];
    for (const l of lines) ids.push(((await (await post('/v1/attestations', l)).json()) as { id: string }).id);
    let text = '';
    const dec = new TextDecoder();
    while (!ids.every((id) => text.includes(id))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    ac.abort();
    expect(text).toContain(`id: ${start + 1}\nevent: attestation`);
    expect(text).toContain(`id: ${start + 2}\n`);
    // Resuming from the first event's id replays only the second.
    const ac2 = new AbortController();
    const res2 = await fetch(`${url}/v1/events?cursor=${start + 1}`, { signal: ac2.signal });
    const r2 = res2.body!.getReader();
    let t2 = '';
    while (!t2.includes(ids[1]!)) t2 += dec.decode((await r2.read()).value);
    ac2.abort();
    expect(t2).not.toContain(ids[0]!);
  });

  it('exposes Prometheus metrics with request latency and ingest decisions', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/chorus_http_request_duration_seconds_bucket\{/);
    expect(text).toMatch(/chorus_ingest_decisions_total\{outcome="accept",code="accepted"\} \d+/);
    expect(text).toMatch(/chorus_ingest_decisions_total\{outcome="reject",code="bad_signature"\} \d+/);
    expect(text).toMatch(/chorus_store_attestations \d+/);
  });

  it('reports status and health', async () => {
    const s = await (await fetch(`${url}/v1/status`)).json() as { did: string; attestations: number };
    expect(s.did).toBe(daemon.node.identity.did);
    expect(s.attestations).toBe(daemon.node.store.size);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });
  });

  it('lists the newest first with ?before=, by an id prefix, and refuses after and before together', async () => {
    const issuer = makeIssuer();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await post('/v1/attestations', JSON.parse(makeEnvelopeLine(issuer)));
      expect(r.status).toBe(201);
      ids.push(((await r.json()) as { id: string }).id);
    }
    const page = (await (await fetch(`${url}/v1/attestations?issuer=${issuer.did}&before=${Number.MAX_SAFE_INTEGER}&limit=2`)).json()) as { items: { id: string }[]; next: number | null };
    expect(page.items.map((a) => a.id)).toEqual([ids[2], ids[1]]);
    const rest = (await (await fetch(`${url}/v1/attestations?issuer=${issuer.did}&before=${page.next}&limit=2`)).json()) as { items: { id: string }[]; next: number | null };
    expect(rest.items.map((a) => a.id)).toEqual([ids[0]]);
    expect(rest.next).toBeNull();
    const both = await fetch(`${url}/v1/attestations?after=3&before=5`);
    expect(both.status).toBe(400);
    expect(((await both.json()) as { message: string }).message).toContain('not both');
    const byPrefix = await fetch(`${url}/v1/attestations/${ids[1]!.slice(0, 10)}`);
    expect(((await byPrefix.json()) as { id: string }).id).toBe(ids[1]);
    expect((await fetch(`${url}/v1/attestations/${ids[1]!.slice(0, 7)}`)).status).toBe(400);
  });
});
