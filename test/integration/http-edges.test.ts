import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { TestNet, until, type TestNode } from '../support/test-net.js';

/**
 * The edges of the HTTP API that a hostile page or client reaches: the Host header (DNS
 * rebinding), event streams that never read, bodies the node stops reading.
 */

const net = new TestNet({ 'api.writeRateLimitPerMinute': 100_000, 'net.enabled': false });
let daemon: TestNode;
let token: string;
let port: number;

beforeAll(async () => {
  daemon = await net.node({
    'api.allowedHosts': ['chorus.example.org'],
    'api.maxEventStreams': 3,
    'api.importLimitBytes': 4096,
  }, { prefix: 'chorus-http-edges-' });
  token = daemon.token;
  port = Number(new URL(daemon.url).port);
});

afterAll(() => net.stop());

/** A GET with a Host header of our choosing (fetch does not let a caller set it). */
function getWithHost(path: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...headers, host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? NaN);
}

/** A raw socket on the API, with what it has received and whether it has closed. */
function rawClient(): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (got += d));
  socket.on('error', () => undefined);
  return { socket, received: () => got, closed: once(socket, 'close').then(() => undefined) };
}

describe('Host header (DNS rebinding)', () => {
  it('answers loopback names and addresses, the configured names, and refuses any other name with 421 forbidden_host', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST', `chorus.example.org:${port}`]) {
      expect((await getWithHost('/healthz', host)).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'attacker.test', `127.0.0.1.evil.example:${port}`, 'localhost.evil.example', '10.1.2.3']) {
      const r = await getWithHost('/v1/trust', host);
      expect(r.status, host).toBe(421);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'forbidden_host' });
    }
    // Even with the token: a rebinding page never has it, but the rule does not depend on that.
    expect((await getWithHost('/v1/status', 'evil.example', { authorization: `Bearer ${token}` })).status).toBe(421);
  });
});

describe('/v1/status', () => {
  it('names the data dir only to a caller with the API token', async () => {
    const open = await (await fetch(`${daemon.url}/v1/status`)).json() as Record<string, unknown>;
    expect(open).not.toHaveProperty('home');
    expect(JSON.stringify(open)).not.toContain(daemon.dir);
    const authed = await (await fetch(`${daemon.url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json() as Record<string, unknown>;
    expect(authed['home']).toBe(daemon.dir);
  });
});

describe('event streams', () => {
  it('at most api.maxEventStreams at once; the next gets 503 unavailable, and a slot frees when a client leaves', async () => {
    const streams = await Promise.all(Array.from({ length: 3 }, async () => {
      const ac = new AbortController();
      const r = await fetch(`${daemon.url}/v1/events`, { signal: ac.signal });
      expect(r.status).toBe(200);
      return ac;
    }));
    const over = await fetch(`${daemon.url}/v1/events`);
    expect(over.status).toBe(503);
    expect(await over.json()).toMatchObject({ code: 'unavailable' });
    streams[0]!.abort();
    await until('a stream slot to free', async () => (await metric('chorus_event_streams')) === 2);
    const again = new AbortController();
    expect((await fetch(`${daemon.url}/v1/events`, { signal: again.signal })).status).toBe(200);
    for (const ac of [...streams, again]) ac.abort();
    await until('every stream to close', async () => (await metric('chorus_event_streams')) === 0);
  });

  it('a client that stops reading is disconnected once 256 KiB wait for it, instead of buffering without bound', async () => {
    const stalled = rawClient();
    stalled.socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await until('the stream to open', () => stalled.received().includes('chorus events from cursor'));
    stalled.socket.pause(); // never reads again: kernel buffers fill, then the node's
    const dropped = await metric('chorus_event_streams_dropped_total');
    const issuer = makeIssuer();
    const blob = 'x'.repeat(40_000);
    let published = 0;
    // Each publish wakes the stream; ~50 KB events fill the socket buffers (a few MB on
    // loopback) and then the node's 256 KiB: the stream must be dropped well before 1,000.
    while ((await metric('chorus_event_streams_dropped_total')) === dropped) {
      expect(published, 'the stalled stream was never dropped').toBeLessThan(1000);
      const r = await fetch(`${daemon.url}/v1/attestations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // An unknown predicate type: stored and relayed, not scored, so it may be this large.
        body: makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { n: published, blob } }),
      });
      expect(r.status, await r.clone().text()).toBe(201);
      published++;
    }
    await until('the dropped stream to be gone', async () => (await metric('chorus_event_streams')) === 0);
    stalled.socket.destroy();
  });
});

describe('request bodies the node stops reading', () => {
  it('an import over the limit is answered 413 and its connection closed, while the client is still sending', async () => {
    const c = rawClient();
    c.socket.resume();
    c.socket.write(`POST /v1/import HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.from('{"not":"an envelope"}\n'.repeat(100)); // 2.2 KB a chunk, the limit is 4 KiB
    const send = (): boolean => c.socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`);
    for (let i = 0; i < 4; i++) send();
    // The body never ends: without the fix, the node keeps the socket (and stop() waits for it) forever.
    await until('the 413 answer', () => /^HTTP\/1\.1 413 /.test(c.received()));
    expect(c.received()).toMatch(/connection: close/i);
    expect(c.received()).toContain('"code":"too_large"');
    await c.closed;
  });

  it('a write refused before its body is read (no token) closes the connection instead of reading the body', async () => {
    const c = rawClient();
    c.socket.write(`POST /v1/import HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000000\r\n\r\n`);
    c.socket.write('x'.repeat(10_000));
    await until('the 401 answer', () => /^HTTP\/1\.1 401 /.test(c.received()));
    await c.closed;
  });
});
