import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUIET, TestNet, type TestNode } from '../support/test-net.js';
import { runCli } from '../e2e/run-cli.js';

/*
 * The budgets an operator sees: every metric the Grafana dashboard in deploy/ draws is one
 * a running node exports, and /v1/status lists the budgets with their use.
 */

const net = new TestNet();
let daemon: TestNode;

beforeAll(async () => {
  daemon = await net.node({ ...QUIET, 'api.maxEventStreams': 1, 'net.dht': true }, { prefix: 'chorus-budgets-' });
});

afterAll(() => net.stop());

describe('budgets an operator can see', () => {
  it('every metric the Grafana dashboard (deploy/grafana-dashboard.json) queries is exported by a running node', async () => {
    const dash = JSON.parse(await readFile(new URL('../../deploy/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const names = new Set<string>();
    for (const p of dash.panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/\bchorus_[a-z0-9_]+/g)) names.add(m[0]);
    expect(names.size).toBeGreaterThan(20);
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    const exported = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_count', '_sum']) exported.add(m[1]! + s);
    }
    const missing = [...names].filter((n) => !exported.has(n));
    expect(missing).toEqual([]);
  });

  it('/v1/status lists each budget with its use, its limit and the key that sets it', async () => {
    const s = (await (await fetch(`${daemon.url}/v1/status`)).json()) as { budgets: { name: string; used: number; limit: number; unit: string; config?: string }[] };
    const byName = new Map(s.budgets.map((b) => [b.name, b]));
    expect(byName.get("strangers' pool")).toMatchObject({ used: 0, unit: 'bytes', config: 'limits.strangerPoolBytes' });
    expect(byName.get('connections')).toMatchObject({ limit: 64, config: 'net.maxConnections' });
    expect(byName.get('DHT provider records')).toMatchObject({ used: 0, limit: 100_000 });
    expect(byName.get('event streams')).toMatchObject({ used: 0, limit: 1 });
    for (const b of s.budgets) {
      expect(b.limit, b.name).toBeGreaterThan(0);
      expect(b.used, b.name).toBeGreaterThanOrEqual(0);
    }
  });

  it('chorus status (the built CLI) names a budget at its limit, with the key that sets it', async () => {
    // The one event stream allowed, held open.
    const ac = new AbortController();
    const res = await fetch(`${daemon.url}/v1/events`, { signal: ac.signal });
    expect(res.status).toBe(200);
    try {
      const r = await runCli(['status'], { home: daemon.dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/budgets\s+1 near the limit:/);
      expect(r.stdout).toMatch(/AT LIMIT\s+event streams: 1 streams of 1 streams \(100%\), set by api\.maxEventStreams/);
    } finally {
      ac.abort();
    }
  });
});
