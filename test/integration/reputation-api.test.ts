import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';

let url: string;
let token: string;
const auth = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const publish = (line: string) => fetch(`${url}/v1/attestations`, { method: 'POST', headers: auth(), body: line });
const edit = (body: unknown) => fetch(`${url}/v1/trust`, { method: 'POST', headers: auth(), body: JSON.stringify(body) });
const endorse = (by: TestIssuer, who: TestIssuer, scope: string[], weight: number) =>
  makeEnvelopeLine(by, { kind: 'endorsement', subjects: [endorsementSubject(who.did)], fields: { endorsed: who.did, scope, weight } });

let td: TestDaemon;
beforeAll(async () => {
  td = await startTestDaemon('chorus-rep-');
  ({ url, token } = td);
});

afterAll(async () => {
  await td?.stop();
});

describe('reputation over the HTTP API', () => {
  it('trust edits, the graph, an issuer\'s paths, what-if and status-change events', async () => {
    const curator = makeIssuer();
    const scanner = makeIssuer();
    const model = randomDigest();

    // A status-change stream, filtered to the model, opened before anything happens.
    const ac = new AbortController();
    const stream = await fetch(`${url}/v1/events?subject=sha256:${model}`, { signal: ac.signal });
    const reader = stream.body!.getReader();
    let text = '';
    const waitFor = async (pattern: RegExp): Promise<string> => {
      const end = Date.now() + 15_000;
      while (!pattern.test(text)) {
        if (Date.now() > end) throw new Error(`no ${pattern} in stream: ${text}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return text;
    };

    expect((await publish(makeEnvelopeLine(scanner, { kind: 'payload', subjects: [model] }))).status).toBe(201);
    expect((await publish(endorse(curator, scanner, ['payload'], 1))).status).toBe(201);
    // The gate asks first: unknown (the baseline of its status events).
    const first = await (await fetch(`${url}/v1/models/sha256:${model}/reputation`)).json() as { status: string };
    expect(first.status).toBe('unknown');

    const r = await edit({ op: 'trust', issuer: curator.did, scope: ['payload'], weight: 0.8, note: 'curator' });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ changed: true, policy: { roots: [{ issuer: curator.did, scope: ['payload'], weight: 0.8, note: 'curator' }] } });
    // Without the token: 401, nothing changes.
    expect((await fetch(`${url}/v1/trust`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'block', issuer: curator.did }) })).status).toBe(401);
    // A bad edit: 400 with a typed code.
    const bad = await edit({ op: 'trust', issuer: curator.did, weight: 7 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad_input' });

    const view = await (await fetch(`${url}/v1/models/sha256:${model}/reputation`)).json() as { status: string; byPredicate: Record<string, { attestations: { trust: { path: { from: string; fromNote?: string }[] } }[] }> };
    expect(view.status).toBe('flagged');
    expect(view.byPredicate['payload']!.attestations[0]!.trust.path).toEqual([expect.objectContaining({ from: curator.did, fromNote: 'curator', to: scanner.did })]);
    // Trusting the scanner directly on audits adds its warning (flagged stays flagged).
    await edit({ op: 'trust', issuer: scanner.did, scope: ['audit'] });
    expect((await publish(makeEnvelopeLine(scanner, { subjects: [model], fields: exampleFields('audit', { verdict: 'warn' }) }))).status).toBe(201);
    await edit({ op: 'block', issuer: scanner.did });
    await fetch(`${url}/v1/models/sha256:${model}/reputation`);
    // Blocking the scanner takes its finding away: flagged -> unknown, told as it happens.
    const events = await waitFor(/event: status\ndata: [^\n]*"old":"flagged","new":"unknown"/);
    expect(events).toContain(`event: attestation`);
    expect(events).toMatch(/"old":"unknown","new":"flagged"/);
    ac.abort();

    // What-if, the graph and the issuer page.
    await edit({ op: 'remove', issuer: scanner.did });
    const w = await (await fetch(`${url}/v1/models/sha256:${model}/reputation?without=${curator.did}`)).json() as { status: string; without: string };
    expect(w).toMatchObject({ without: curator.did });
    const g = await (await fetch(`${url}/v1/trust/graph`)).json() as { roots: number; reached: number; byScope: Record<string, number>; issuers: { issuer: string }[] };
    expect(g.roots).toBe(2); // the curator and this node's own key
    expect(g.byScope['payload']).toBeGreaterThanOrEqual(2);
    expect(g.issuers.map((i) => i.issuer)).toContain(scanner.did);
    const i = await (await fetch(`${url}/v1/issuers/${scanner.did}`)).json() as { role: string; trust: Record<string, { trust: number; path: unknown[] }>; endorsedBy: { issuer: string }[]; published: { attestations: number } };
    expect(i.role).toBe('endorsed');
    expect(i.trust['payload']!.trust).toBeCloseTo(0.2);
    expect(i.endorsedBy).toEqual([expect.objectContaining({ issuer: curator.did, weight: 1, scope: ['payload'] })]);
    expect(i.published.attestations).toBe(2);
    expect((await fetch(`${url}/v1/issuers/not-a-did`)).status).toBe(400);
    expect((await fetch(`${url}/v1/models/sha256:${model}/reputation?without=nope`)).status).toBe(400);
  }, 60_000);

  it('a counted finding that expires changes the status: an event says so when it happens', async () => {
    const lab = makeIssuer();
    const model = randomDigest();
    await edit({ op: 'trust', issuer: lab.did });
    const ac = new AbortController();
    const stream = await fetch(`${url}/v1/events?subject=sha256:${model}`, { signal: ac.signal });
    const reader = stream.body!.getReader();
    expect((await publish(makeEnvelopeLine(lab, { kind: 'payload', subjects: [model], expiresAt: new Date(Date.now() + 2500) }))).status).toBe(201);
    const first = await (await fetch(`${url}/v1/models/sha256:${model}/reputation`)).json() as { status: string };
    expect(first.status).toBe('flagged');
    let text = '';
    const end = Date.now() + 15_000;
    while (!/"old":"flagged","new":"unknown"/.test(text) && Date.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    expect(text).toMatch(/event: status\ndata: [^\n]*"old":"flagged","new":"unknown"/);
  }, 30_000);

  it('models derived from a base: a trusted lineage claim is listed first however many strangers claim otherwise, strangers capped at 20', async () => {
    const lab = makeIssuer();
    const base = randomDigest();
    const ours = randomDigest();
    await edit({ op: 'trust', issuer: lab.did, note: 'lab' });
    const claim = (by: TestIssuer, subject: string) => makeEnvelopeLine(by, { kind: 'lineage', subjects: [subject], fields: exampleFields('lineage', { derivedFrom: [{ digest: { sha256: base }, relation: 'fine-tuned' }] }) });
    expect((await publish(claim(lab, ours))).status).toBe(201);
    // 300 strangers' claims after it, each a fresh key: the newest 300 entries of the index.
    const flood = Array.from({ length: 300 }, () => claim(makeIssuer(), randomDigest()));
    const imported = await fetch(`${url}/v1/import`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/x-ndjson' }, body: flood.join('\n') + '\n' });
    expect(((await imported.json()) as { accepted: number }).accepted).toBe(300);
    const r = await fetch(`${url}/v1/models/sha256:${base}/derived`);
    expect(r.status).toBe(200);
    const d = (await r.json()) as { models: { digest: string; relation: string; counts: boolean; issuerNote?: string }[] };
    expect(d.models[0]).toMatchObject({ digest: `sha256:${ours}`, relation: 'fine-tuned', counts: true, issuerNote: 'lab' });
    expect(d.models).toHaveLength(21);
    expect(d.models.slice(1).every((m) => !m.counts)).toBe(true);
    expect((await fetch(`${url}/v1/models/not-a-digest/derived`)).status).toBe(400);
  });

  it('a kept view is served as bytes made once: the same answer as computed, changed at once by a publish; query summaries too', async () => {
    const lab = makeIssuer();
    const stranger = makeIssuer();
    const model = randomDigest();
    expect((await edit({ op: 'trust', issuer: lab.did, scope: ['*'], weight: 1 })).status).toBe(200);
    expect((await publish(makeEnvelopeLine(lab, { subjects: [model], fields: exampleFields('audit', { verdict: 'pass' }) }))).status).toBe(201);
    expect((await publish(makeEnvelopeLine(stranger, { subjects: [model], fields: exampleFields('audit', { verdict: 'fail' }) }))).status).toBe(201);
    const hits = async () => Number(/chorus_views_kept_total\{outcome="hit"\} (\d+)/.exec(await (await fetch(`${url}/metrics`, { headers: auth() })).text())?.[1]);
    const get = () => fetch(`${url}/v1/models/sha256:${model}/reputation`);
    const computed = await get();
    const before = await hits();
    const kept = await get();
    expect(await hits()).toBe(before + 1);
    expect(kept.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const [a, b] = [await computed.json() as { status: string }, await kept.json() as { status: string }];
    expect(b).toEqual(a);
    expect(b.status).toBe('ok');

    // A newer failing audit by the trusted lab: the next answer is the new one, not the kept bytes.
    expect((await publish(makeEnvelopeLine(lab, { subjects: [model], fields: exampleFields('audit', { verdict: 'fail' }), issuedAt: new Date(Date.now() + 1000) }))).status).toBe(201);
    expect((await (await get()).json() as { status: string }).status).toBe('flagged');

    // The batch: summaries (no attestations) from the same kept view; evidence once per digest; a bad digest its own error.
    const query = async (body: unknown) => (await (await fetch(`${url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { results: { status?: string; byPredicate?: Record<string, { attestations: unknown[]; counted: number }>; error?: { code: string } }[] };
    const brief = await query({ digests: [`sha256:${model}`, `sha256:${model}`, 'sha256:nothex'] });
    expect(brief.results.map((r) => r.status ?? r.error?.code)).toEqual(['flagged', 'flagged', 'bad_input']);
    expect(brief.results[0]!.byPredicate!['audit']).toMatchObject({ attestations: [], counted: 1 });
    const full = await query({ digests: [`sha256:${model}`, `sha256:${model}`], evidence: true });
    expect(full.results[0]!.byPredicate!['audit']!.attestations).toHaveLength(3);
    expect(full.results[1]!.byPredicate!['audit']!.attestations).toHaveLength(0);
  });
});
