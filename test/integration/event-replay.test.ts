import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/**
 * Replay of /v1/events is bounded: a client without the token gets only recent history, and
 * one with the token gets all of it, paced by the replay budget, with live events after it.
 */

const HISTORY = 10;
const STORED = 40;
let td: TestDaemon;

beforeAll(async () => {
  td = await startTestDaemon('chorus-replay-', {
    'api.eventHistoryWithoutToken': HISTORY,
    // 40 summaries of over 1 KB: more than the one second's worth the buckets start with,
    // so the replay has to wait for budget.
    'api.eventReplayBytesPerSecond': 16 * 1024,
    'api.eventReplayTotalBytesPerSecond': 16 * 1024,
  });
  const issuer = makeIssuer();
  const lines = Array.from({ length: STORED }, () => makeEnvelopeLine(issuer));
  const r = await fetch(`${td.url}/v1/import`, { method: 'POST', headers: { authorization: `Bearer ${td.token}`, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
  expect(((await r.json()) as { accepted: number }).accepted).toBe(STORED);
});

afterAll(async () => {
  await td?.stop();
});

interface SseEvent { readonly event: string; readonly id?: number; readonly data: string }

/** An open event stream: its events so far, and a way to wait for one. */
async function open(path: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(`${td.url}${path}`, { headers, signal: ac.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buf = '';
  return {
    events,
    /** Reads until `done` holds for the events so far. */
    async until(done: (es: readonly SseEvent[]) => boolean): Promise<readonly SseEvent[]> {
      while (!done(events)) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`the stream ended after ${events.length} events`);
        buf += value;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const fields = new Map(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as const));
          if (fields.has('data')) events.push({ event: fields.get('event') ?? 'message', data: fields.get('data')!, ...(fields.has('id') ? { id: Number(fields.get('id')) } : {}) });
        }
      }
      return events;
    },
    close: () => ac.abort(),
  };
}

const ids = (es: readonly SseEvent[]): number[] => es.filter((e) => e.event === 'attestation').map((e) => e.id!);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${td.url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('/v1/events replay', () => {
  it('without the token, cursor=0 replays only the newest api.eventHistoryWithoutToken, and says so', async () => {
    const last = td.daemon.node.store.lastSeq;
    const truncated = await metric('chorus_events_truncated_total');
    const s = await open('/v1/events?cursor=0');
    const es = await s.until((x) => ids(x).includes(last));
    s.close();
    expect(es[0]).toMatchObject({ event: 'truncated' });
    expect(JSON.parse(es[0]!.data)).toEqual({ cursor: 0, from: last - HISTORY, history: HISTORY });
    expect(ids(es)).toEqual(Array.from({ length: HISTORY }, (_, i) => last - HISTORY + 1 + i));
    expect(await metric('chorus_events_truncated_total')).toBe(truncated + 1);
  });

  it('a Last-Event-ID without the token is held to the same history', async () => {
    const last = td.daemon.node.store.lastSeq;
    const s = await open('/v1/events', { 'last-event-id': '1' });
    const es = await s.until((x) => ids(x).includes(last));
    s.close();
    expect(JSON.parse(es[0]!.data)).toMatchObject({ cursor: 1, from: last - HISTORY });
    expect(ids(es)).toHaveLength(HISTORY);
  });

  it('with the token, the whole history arrives, paced by the budget, then live events; other streams get live events meanwhile', async () => {
    const last = td.daemon.node.store.lastSeq;
    const waits = await metric('chorus_events_replay_waits_total');
    const charged = await metric('chorus_events_replay_attestations_total');
    const live = await open('/v1/events');
    const full = await open('/v1/events?cursor=0', { authorization: `Bearer ${td.token}` });
    await full.until((x) => x.length > 0);
    const r = await fetch(`${td.url}/v1/attestations`, { method: 'POST', headers: { authorization: `Bearer ${td.token}`, 'content-type': 'application/json' }, body: makeEnvelopeLine(makeIssuer()) });
    expect(r.status).toBe(201);
    const fresh = last + 1;
    expect(ids(await live.until((x) => ids(x).includes(fresh)))).toEqual([fresh]);
    const es = await full.until((x) => ids(x).includes(fresh));
    live.close();
    full.close();
    expect(es.some((e) => e.event === 'truncated')).toBe(false);
    expect(ids(es)).toEqual(Array.from({ length: fresh }, (_, i) => i + 1));
    // The replay went over its budget and waited for it; every replayed attestation was charged.
    expect(await metric('chorus_events_replay_waits_total')).toBeGreaterThan(waits);
    expect(await metric('chorus_events_replay_attestations_total')).toBeGreaterThanOrEqual(charged + last);
    expect(await metric('chorus_events_bytes_sent_total')).toBeGreaterThan(0);
  });
});
