import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { describeRun, envelopeId, makeInitialisedSandbox, makeSandbox, type CliResult, type Sandbox } from './run-cli.js';

/** What a user sees when they get things wrong, end to end through the built CLI. */

const sandboxes: Sandbox[] = [];
async function sandbox(): Promise<Sandbox> {
  const sb = await makeSandbox();
  sandboxes.push(sb);
  return sb;
}
async function initialised(): Promise<Sandbox & { did: string }> {
  const sb = await makeInitialisedSandbox();
  sandboxes.push(sb);
  return sb;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

const SOME_DIGEST = `sha256:${'ab'.repeat(32)}`;
const SOME_ID = 'cd'.repeat(32);
const SOME_DID = makeIssuer(new Uint8Array(32).fill(1)).did;
/** Audit fields given explicitly (the fixture's defaults are slower to build). */
const AUDIT = { harness: { name: 'lm-eval', version: '0.4.2' }, metrics: { refusal_rate: 0.5 }, verdict: 'warn' };

/** Runs `fn` over `items` with at most `limit` at a time (the suite targets 2 cores). */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

describe.concurrent('bad input', () => {
  test('query, list --subject and hash of a path that is not there all exit 4 (not found) with a message', async () => {
    const sb = await initialised();
    for (const args of [['query', 'nonsense'], ['query', 'no/such/model.gguf'], ['list', '--subject', 'no/such/model.gguf'], ['hash', 'no/such/model.gguf']]) {
      const r = await sb.run(args);
      expect(r.code, describeRun(args, r)).toBe(4);
      expect(r.stderr, describeRun(args, r)).toMatch(/no such file or directory|neither a sha256 digest nor an existing file or directory/);
      expect(r.stdout).toBe('');
    }
  });

  test('show of an unknown id exits 4; show of a malformed id exits 2', async () => {
    const sb = await initialised();
    const r = await sb.run(['show', SOME_ID]);
    expect(r.code, describeRun(['show', SOME_ID], r)).toBe(4);
    expect(r.stderr).toContain(`no attestation ${SOME_ID}`);
    const bad = await sb.run(['show', 'xyz']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not an attestation id');
  });

  test('commands before init exit 6 and tell the user to run chorus init, creating nothing', async () => {
    const sb = await sandbox();
    const model = join(sb.dir, 'm.bin');
    await writeFile(model, 'model');
    const bundle = join(sb.dir, 'b.jsonl');
    await writeFile(bundle, '');
    const commands: string[][] = [
      ['id'],
      ['status'],
      ['query', model],
      ['show', SOME_ID],
      ['list', '--issuer', SOME_DID],
      ['export'],
      ['import', bundle],
      ['verify-store'],
      ['attest', 'audit', '--subject', SOME_DIGEST, '--harness', 'x@1', '--verdict', 'pass'],
      ['trust', 'list'],
    ];
    // One at a time, so that a command that did open a store could not make another fail with exit 7.
    const results = await pool(commands, 1, (args) => sb.run(args));
    results.forEach((r, i) => {
      const args = commands[i] as string[];
      expect(r.code, describeRun(args, r)).toBe(6);
      expect(r.stderr, describeRun(args, r)).toContain('run: chorus init');
      expect(r.stderr).not.toContain('unexpected error');
    });
    expect(existsSync(sb.home), 'the data dir must not be created by a failed command').toBe(false);
  });

  test('trust add/remove before init exit 6 and create no half-initialised data dir', async () => {
    const sb = await sandbox();
    const add = await sb.run(['trust', 'add', SOME_DID]);
    expect(add.code, describeRun(['trust', 'add', SOME_DID], add)).toBe(6);
    expect(add.stderr).toContain('chorus init');
    const rm = await sb.run(['trust', 'remove', SOME_DID]);
    expect(rm.code, describeRun(['trust', 'remove', SOME_DID], rm)).toBe(6);
    expect(existsSync(sb.home), 'trust add must not create the data dir before init').toBe(false);
  });

  test('peers and connect with no node running: exit 1, saying to start the node', async () => {
    const sb = await initialised();
    for (const args of [['peers'], ['connect', '/ip4/127.0.0.1/tcp/7421']]) {
      const r = await sb.run(args);
      expect(r.code, describeRun(args, r)).toBe(1);
      expect(r.stderr).toContain('no node is running');
      expect(r.stderr).not.toContain('unexpected error');
    }
  });

  test('init twice is a no-op that says so, exits 0 and changes nothing', async () => {
    const sb = await initialised();
    const key = await readFile(join(sb.home, 'identity.key'));
    const token = await readFile(join(sb.home, 'api-token'));
    const config = await readFile(join(sb.home, 'config.json'));
    const r = await sb.run(['init']);
    expect(r.code, describeRun(['init'], r)).toBe(0);
    expect(r.stdout).toMatch(/already initialised: .* holds the identity did:key:z\S+; nothing was changed/);
    expect(JSON.parse((await sb.expectCode(0, ['init', '--json'])).stdout)).toMatchObject({ created: false });
    expect(await readFile(join(sb.home, 'identity.key'))).toEqual(key);
    expect(await readFile(join(sb.home, 'api-token'))).toEqual(token);
    expect(await readFile(join(sb.home, 'config.json'))).toEqual(config);
    expect((await sb.expectCode(0, ['id'])).stdout.trim()).toBe(sb.did);
  });

  test('unknown command, unknown option, missing option or argument, bad choice: exit 2 with usage help', async () => {
    const sb = await initialised();
    const cases: { args: string[]; says: string }[] = [
      { args: ['frobnicate'], says: "unknown command 'frobnicate'" },
      { args: ['status', '--bogus'], says: "unknown option '--bogus'" },
      { args: ['attest', 'audit', '--subject', SOME_DIGEST, '--verdict', 'fail'], says: "required option '--harness <name@version>' not specified" },
      { args: ['attest', 'audit', '--subject', SOME_DIGEST, '--harness', 'x@1', '--verdict', 'awful'], says: "argument 'awful' is invalid" },
      { args: ['attest', 'audit', '--harness', 'x@1', '--verdict', 'fail'], says: '--subject is required' },
      { args: ['attest', 'audit', '--subject', SOME_DIGEST, '--harness', 'no-version', '--verdict', 'fail'], says: 'expected NAME@VERSION' },
      { args: ['hash'], says: "missing required argument 'path'" },
      { args: ['show'], says: "missing required argument 'id'" },
      { args: ['list', '--subject', SOME_DIGEST, '--issuer', SOME_DID], says: 'give at most one of --subject and --issuer' },
      { args: ['show', '12ab'], says: 'expected 8 to 64 hex characters' },
      { args: ['list', '--before', '0'], says: '--before must be an integer of at least 1, got "0"' },
      { args: ['list', '--subject', SOME_DIGEST, '--before', '5', '--after', '1'], says: 'give --after (oldest first) or --before (newest first), not both' },
    ];
    // One at a time: some of these open the store, and a store has one owner at a time (exit 7).
    const results = await pool(cases, 1, (c) => sb.run(c.args));
    results.forEach((r: CliResult, i) => {
      const c = cases[i] as { args: string[]; says: string };
      expect(r.code, describeRun(c.args, r)).toBe(2);
      expect(r.stderr, describeRun(c.args, r)).toContain(c.says);
    });
    // commander's own usage errors come with the help text
    expect(results[0]?.stderr).toContain('Usage: chorus');
    // nothing was stored by any of them
    expect(JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout)).toMatchObject({ attestations: 0 });
  });

  test('a malformed number option exits 2 with a message, not a crash', async () => {
    const sb = await initialised();
    const bundle = join(sb.dir, 'empty.jsonl');
    await writeFile(bundle, '');
    const cases: { args: string[]; says: string }[] = [
      { args: ['list', '--limit', 'many', '--issuer', SOME_DID], says: '--limit must be a non-negative integer, got "many"' },
      { args: ['list', '--after', '1.5', '--issuer', SOME_DID], says: '--after must be a non-negative integer, got "1.5"' },
      { args: ['import', '--show', 'lots', bundle], says: '--show must be a non-negative integer, got "lots"' },
      { args: ['start', '--port', 'http'], says: '--port must be a non-negative integer, got "http"' },
    ];
    for (const c of cases) {
      const r = await sb.run(c.args);
      expect(r.code, describeRun(c.args, r)).toBe(2);
      expect(r.stderr, describeRun(c.args, r)).toContain(c.says);
      expect(r.stderr, 'no stack trace for a typo').not.toMatch(/\n\s+at /);
    }
  });

  test("every command's --help exits 0 and prints its usage", async () => {
    const sb = await sandbox();
    const commands = [
      [], ['init'], ['start'], ['id'], ['hash'], ['attest'], ['attest', 'audit'], ['attest', 'dealignment'], ['attest', 'license'], ['attest', 'payload'],
      ['attest', 'lineage'], ['attest', 'retraction'], ['attest', 'endorsement'], ['query'], ['show'], ['list'], ['export'], ['import'],
      ['trust'], ['trust', 'add'], ['trust', 'remove'], ['trust', 'list'], ['verify-store'], ['status'],
      ['key'], ['key', 'export'], ['key', 'import'], ['ui'],
    ];
    const results = await pool(commands, 3, (c) => sb.run([...c, '--help']));
    results.forEach((r, i) => {
      const c = commands[i] as string[];
      expect(r.code, describeRun([...c, '--help'], r)).toBe(0);
      expect(r.stdout, describeRun([...c, '--help'], r)).toMatch(new RegExp(`^Usage: chorus${c.map((w) => ` ${w}`).join('')} `, 'm'));
      expect(r.stdout).toContain('--help');
    });
    // the top-level help documents the exit codes scripts rely on
    expect(results[0]?.stdout).toContain('6 not initialised (run chorus init)');
    // --help does not need (or create) a data dir
    expect(existsSync(sb.home)).toBe(false);
  });

  test('a key file readable by others is refused with a chmod hint, and accepted again after chmod 600', async () => {
    const sb = await initialised();
    const key = join(sb.home, 'identity.key');
    await chmod(key, 0o644);
    // `id` reads the key itself; `attest` opens the node (the path every store command takes).
    for (const args of [['id'], ['attest', 'audit', '--subject', SOME_DIGEST, '--harness', 'x@1', '--verdict', 'pass']]) {
      const r = await sb.run(args);
      expect(r.code, describeRun(args, r)).toBe(1);
      expect(r.stderr).toContain(`key file ${key} is readable by others (mode 644); run: chmod 600 ${key}`);
      expect(r.stdout).toBe('');
    }
    await chmod(key, 0o600);
    expect((await sb.expectCode(0, ['id'])).stdout.trim()).toBe(sb.did);
    expect(JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout)).toMatchObject({ attestations: 0 });
  });

  test('a garbage import file: exit 5, bad lines named with codes, good lines land, store stays clean', async () => {
    const sb = await initialised();
    const x = makeIssuer();
    const y = makeIssuer();
    const d1 = randomDigest();
    const d2 = randomDigest();
    const d3 = randomDigest();
    const good1 = makeEnvelopeLine(x, { subjects: [d1], fields: AUDIT });
    const good2 = makeEnvelopeLine(y, { subjects: [d1], fields: { ...AUDIT, verdict: 'fail' } });
    const good3 = makeEnvelopeLine(x, { subjects: [d3], fields: AUDIT });
    const forged = JSON.parse(makeEnvelopeLine(x, { subjects: [d2], fields: AUDIT })) as { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] };
    const sig = Buffer.from(forged.signatures[0]?.sig ?? '', 'base64');
    sig[10] = (sig[10] as number) ^ 0x01;
    (forged.signatures[0] as { sig: string }).sig = sig.toString('base64');
    const junk = Buffer.from(randomBytes(300).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)));
    junk[0] = 0xff; // never valid UTF-8
    const huge = JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: 'A'.repeat(200 * 1024), signatures: [] });

    const lines: Buffer[] = [
      Buffer.from(good1), // 1
      Buffer.from(good2.slice(0, Math.floor(good2.length / 2))), // 2 truncated JSON
      junk, // 3 random bytes
      Buffer.from(JSON.stringify(forged)), // 4 flipped signature byte
      Buffer.alloc(0), // 5 empty line: skipped
      Buffer.from(huge), // 6 200 KB line
      Buffer.from(good2), // 7
      Buffer.from(`${good3}\r`), // 8 CRLF line ending
    ];
    const file = join(sb.dir, 'garbage.jsonl');
    await writeFile(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));

    const r = await sb.run(['import', file]);
    expect(r.code, describeRun(['import', file], r)).toBe(5);
    expect(r.stderr).toMatch(/^line 2: rejected malformed_json: /m);
    expect(r.stderr).toMatch(/^line 3: rejected malformed_json: /m);
    expect(r.stderr).toMatch(/^line 4: rejected bad_signature: /m);
    expect(r.stderr).toMatch(/^line 6: rejected too_large: /m);
    expect(r.stderr).not.toMatch(/^line [1578]:/m);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.stdout).toMatch(/^7 lines: 3 accepted, 0 ignored, 4 rejected \(/m);
    for (const part of ['malformed_json: 2', 'bad_signature: 1', 'too_large: 1']) expect(r.stdout).toContain(part);

    // the good lines landed ...
    const ids = (line: string): string => envelopeId(JSON.parse(line) as { payloadType: string; payload: string });
    const byX = JSON.parse((await sb.expectCode(0, ['list', '--json', '--issuer', x.did])).stdout) as { items: { id: string }[] };
    expect(byX.items.map((i) => i.id)).toEqual([ids(good3), ids(good1)]); // the newest first
    const q1 = JSON.parse((await sb.run(['query', '--json', d1])).stdout) as { byPredicate: Record<string, { total: number }> };
    expect(q1.byPredicate['audit']?.total).toBe(2);
    // ... the forged one did not
    const q2 = await sb.expectCode(0, ['query', d2]);
    expect(q2.stdout).toContain('no attestations about this digest');
    expect((await sb.run(['show', envelopeId(forged)])).code).toBe(4);
    expect(JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout)).toMatchObject({ attestations: 3 });

    const vs = await sb.run(['verify-store']);
    expect(vs.code, describeRun(['verify-store'], vs)).toBe(0);
    expect(vs.stdout).toContain('3 attestations');
    expect(vs.stdout).toContain('all signatures valid, indexes consistent');

    // --json summary of the same file: everything is now a duplicate or still rejected
    const again = await sb.run(['import', '--json', file]);
    expect(again.code).toBe(5);
    expect(JSON.parse(again.stdout)).toMatchObject({ lines: 7, accepted: 0, ignored: 3, rejected: 4, byCode: { duplicate: 3, malformed_json: 2, bad_signature: 1, too_large: 1 } });
  });
});
