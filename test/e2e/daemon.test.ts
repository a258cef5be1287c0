import { once } from 'node:events';
import { connect } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInitialisedSandbox, startDaemon, type Sandbox } from './run-cli.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';

const startNode = startDaemon;

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
}

const sandboxes: Sandbox[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sandboxes.splice(0)) await s.cleanup();
});

async function sandbox(): Promise<Sandbox> {
  const sb = await makeInitialisedSandbox('chorus-daemon-');
  sandboxes.push(sb);
  return sb;
}

describe('chorus start (the daemon, as a child process)', () => {
  it('serves the CLI over the API, refuses a second instance, and stops cleanly on SIGTERM', async () => {
    const sb = await sandbox();
    const node = await startNode(sb);
    children.push(node.child);
    expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:/);

    const second = await sb.run(['start', '--port', '0']);
    expect(second.code).toBe(7);
    expect(second.stderr).toMatch(/already running .*pid \d+/);

    // The CLI goes through the running node transparently.
    const status = JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout) as { running: boolean; api: { url: string } };
    expect(status.running).toBe(true);
    expect(status.api.url).toBe(node.url);
    const digest = 'ab'.repeat(32);
    await sb.expectCode(0, ['attest', 'audit', '--subject', digest, '--harness', 'h@1', '--verdict', 'fail']);
    const q = await sb.run(['query', digest]);
    expect(q.code).toBe(3);
    expect(q.stdout).toContain('FLAGGED');
    const viaHttp = await (await fetch(`${node.url}/v1/models/${digest}/reputation`)).json() as { status: string };
    expect(viaHttp.status).toBe('flagged');
    // verify-store needs the store to itself.
    const vs = await sb.run(['verify-store']);
    expect(vs.code).toBe(7);
    expect(vs.stderr).toMatch(/stop it first/);

    node.child.kill('SIGTERM');
    const [code] = await once(node.child, 'exit');
    expect(code).toBe(0);
    expect(node.log()).toMatch(/stopped/);
    await expect(readFile(join(sb.home, 'daemon.json'))).rejects.toThrow();
    // Without the daemon the CLI opens the store itself and sees the same data.
    expect((await sb.run(['query', digest])).code).toBe(3);
    await sb.expectCode(0, ['verify-store']);
  });

  it('a bad configuration is one clear error naming the field', async () => {
    const sb = await sandbox();
    const cfg = JSON.parse(await readFile(join(sb.home, 'config.json'), 'utf8')) as { api: Record<string, unknown> };
    cfg.api['port'] = 'eighty';
    await writeFile(join(sb.home, 'config.json'), JSON.stringify(cfg));
    const r = await sb.run(['start']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field "api\.port"/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    await writeFile(join(sb.home, 'config.json'), '{}');
    const env = await sb.run(['start'], { env: { CHORUS_API_PORT: '-5' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/api\.port.*CHORUS_API_PORT/);
  });

  it('SIGKILL during a burst of publishes: every publish that got a 2xx is in the store, and verify-store is clean', async () => {
    const sb = await sandbox();
    const node = await startNode(sb, [], { CHORUS_API_WRITE_RATE_LIMIT: '1000000' });
    children.push(node.child);
    const issuers = Array.from({ length: 10 }, () => makeIssuer());
    const acknowledged: string[] = [];
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await fetch(`${node.url}/v1/attestations`, {
            method: 'POST',
            headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' },
            body: makeEnvelopeLine(issuers[w % 10]!, { fields: { harness: { name: 'burst', version: `${w}.${i}` }, metrics: {}, verdict: 'pass' } }),
          });
          if (r.status === 201) acknowledged.push(((await r.json()) as { id: string }).id);
          else await r.arrayBuffer();
        } catch {
          return; // the node is gone
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acknowledged.length < 300) await new Promise((r) => setTimeout(r, 10));
    const exited = once(node.child, 'exit');
    node.child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    await exited;

    const report = JSON.parse((await sb.expectCode(0, ['verify-store', '--json'])).stdout) as { ok: boolean; records: number };
    expect(report.ok).toBe(true);
    expect(report.records).toBeGreaterThanOrEqual(acknowledged.length);
    const exported = new Set((await sb.expectCode(0, ['export'])).stdout.trim().split('\n').map((l) => {
      const e = JSON.parse(l) as { payload: string };
      return e.payload;
    }));
    expect(exported.size).toBe(report.records);
    // Each acknowledged id can be shown after the restart.
    const restarted = await startNode(sb);
    children.push(restarted.child);
    for (const id of acknowledged.slice(-50)) {
      const r = await fetch(`${restarted.url}/v1/attestations/${id}`);
      expect(r.status).toBe(200);
    }
    const all = await Promise.all(acknowledged.map((id) => fetch(`${restarted.url}/v1/attestations/${id}`).then((r) => r.status)));
    expect(all.every((s) => s === 200)).toBe(true);
  });

  it('stalled event-stream clients do not grow the daemon\'s memory with their backlog', async () => {
    const sb = await sandbox();
    // 10,000 attestations of ~6 KB: each client has ~60 MB of events to back-fill.
    const issuers = Array.from({ length: 10 }, () => makeIssuer());
    const summary = 'x'.repeat(4000);
    const lines = Array.from({ length: 10_000 }, (_, i) => makeEnvelopeLine(issuers[i % 10]!, { fields: { harness: { name: 'sse', version: String(i) }, metrics: {}, verdict: 'pass', summary } }));
    const bulk = lines.join('\n');
    await writeFile(join(sb.dir, 'bulk.jsonl'), bulk);
    await sb.expectCode(0, ['import', join(sb.dir, 'bulk.jsonl')], { timeoutMs: 120_000 });
    // Replay unpaced (the budget is not what this test is about): the clients stall at once.
    const configPath = join(sb.home, 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8').catch(() => '{}')) as { api?: Record<string, unknown> };
    config.api = { ...config.api, eventReplayBytesPerSecond: 2 ** 30, eventReplayTotalBytesPerSecond: 2 ** 30 };
    await writeFile(configPath, JSON.stringify(config));
    const node = await startNode(sb);
    children.push(node.child);
    const pid = node.child.pid as number;
    await fetch(`${node.url}/v1/status`);
    const before = await rssKb(pid);
    const { port } = new URL(node.url);
    const clients = 8;
    const sockets = Array.from({ length: clients }, () => {
      const s = connect(Number(port), '127.0.0.1');
      // With the token: the full backlog (without it, only the newest api.eventHistoryWithoutToken).
      s.write(`GET /v1/events?cursor=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${node.token}\r\n\r\n`);
      s.pause(); // never read: the socket buffers fill and the server must wait
      return s;
    });
    await new Promise((r) => setTimeout(r, 2500));
    const early = await rssKb(pid);
    await new Promise((r) => setTimeout(r, 2500));
    const late = await rssKb(pid);
    const backlogKb = (clients * bulk.length) / 1024;
    // Buffering the backlog would cost ~500 MB; waiting for the clients costs a bounded amount
    // (a page of events each, plus allocator and heap slack) that stops growing.
    expect(late - before).toBeLessThan(backlogKb / 4);
    expect(late - early).toBeLessThan(16 * 1024);
    for (const s of sockets) s.destroy();
    // And the node still answers.
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });
});
