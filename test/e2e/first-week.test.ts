import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNode, type RunningNode } from '../browser/support.js';
import { makeInitialisedSandbox } from './run-cli.js';

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

  test('a mistyped flag is reported as unknown, not as a missing required one', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const r = await node.sb.run(['attest', 'audit', '--subject', digest, '--harness', 'suite@1', '--verdikt', 'fail']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--verdikt'");
    expect(r.stderr).not.toContain('--verdict <verdict>\' not specified');
    // A truly missing one is still named.
    const m = await node.sb.run(['attest', 'audit', '--subject', digest, '--harness', 'suite@1']);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("required option '--verdict <verdict>' not specified");
  });

  test('attest payload takes --summary like the other kinds (the same as --description)', async () => {
    const digest = `sha256:${'cd'.repeat(32)}`;
    const r = await node.sb.expectCode(0, ['attest', 'payload', '--subject', digest, '--scanner', 'picklescan@0.0.1', '--finding', 'suspicious', '--severity', 'medium', '--summary', 'an odd global', '--dry-run']);
    const env = JSON.parse(r.stdout) as { payload: string };
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as { predicate: { finding: { description: string } } };
    expect(st.predicate.finding.description).toBe('an odd global');
    expect((await node.sb.run(['attest', 'payload', '--subject', digest, '--scanner', 'p@1', '--finding', 'clean', '--severity', 'info', '--summary', 'a', '--description', 'b', '--dry-run'])).code).toBe(2);
  });

  test('attest with no node running says it was not gossiped yet, and when it will be', async () => {
    const other = await makeInitialisedSandbox('chorus-first-week-local-');
    try {
      const r = await other.expectCode(0, ['attest', 'audit', '--subject', `sha256:${'ef'.repeat(32)}`, '--harness', 'suite@1', '--verdict', 'pass']);
      expect(r.stdout).toMatch(/^stored audit attestation [0-9a-f]{64}/);
      expect(r.stderr).toContain('not gossiped yet');
      expect(r.stderr).toContain('chorus start');
      // With a node running, it went out: nothing of the kind is said.
      const d = await node.sb.expectCode(0, ['attest', 'audit', '--subject', `sha256:${'ef'.repeat(32)}`, '--harness', 'suite@1', '--verdict', 'pass']);
      expect(d.stderr).not.toContain('not gossiped');
    } finally {
      await other.cleanup();
    }
  });

  test('list is the newest first with --subject and --issuer too, as without a filter; --after gives arrival order', async () => {
    const digest = `sha256:${'12'.repeat(32)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await node.sb.expectCode(0, ['attest', 'audit', '--subject', digest, '--harness', `suite@${i + 1}`, '--verdict', 'pass', '--json']);
      ids.push((JSON.parse(r.stdout) as { id: string }).id);
    }
    const bySubject = (JSON.parse((await node.sb.expectCode(0, ['list', '--subject', digest, '--json'])).stdout) as { items: { id: string }[] }).items.map((x) => x.id);
    expect(bySubject).toEqual([...ids].reverse());
    const arrival = (JSON.parse((await node.sb.expectCode(0, ['list', '--subject', digest, '--after', '0', '--json'])).stdout) as { items: { id: string }[] }).items.map((x) => x.id);
    expect(arrival).toEqual(ids);
    const byIssuer = (JSON.parse((await node.sb.expectCode(0, ['list', '--issuer', node.sb.did, '--limit', '3', '--json'])).stdout) as { items: { id: string }[] }).items.map((x) => x.id);
    expect(byIssuer).toEqual([...ids].reverse());
  });
});
