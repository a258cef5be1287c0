import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNode, type RunningNode } from '../browser/support.js';

/*
 * The first week's rough edges (issue 22), each as a new user meets it, against a node
 * started from the built CLI.
 */

let node: RunningNode;
beforeAll(async () => {
  node = await startNode();
}, 60_000);
afterAll(async () => {
  await node?.stop();
});

describe('the first week', () => {
  test('chorus init on a data dir that has an identity (npm start made it) is a no-op that says so, exit 0', async () => {
    const r = await node.sb.expectCode(0, ['init']);
    expect(r.stdout).toContain(`holds the identity ${node.sb.did}; nothing was changed`);
  });

  test('chorus status prints every value as text, never [object Object]', async () => {
    const r = await node.sb.expectCode(0, ['status']);
    expect(r.stdout).not.toContain('[object Object]');
    expect(r.stdout).toMatch(/strangerPool\s+\S+.* of /);
  });

  test('process metrics are named chorus_process_*, not chorus_process_process_*', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    expect(text).toMatch(/^chorus_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^chorus_nodejs_eventloop_lag_p99_seconds /m);
    expect(text).not.toContain('chorus_process_process_');
  });

  test('favicon.ico is an icon, not a 404', async () => {
    const r = await fetch(`${node.url}/favicon.ico`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await r.text()).toMatch(/^<svg /);
  });
});
