import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeRun, envelopeId, idIn, makeInitialisedSandbox, makeSandbox, sha256Hex, type Sandbox } from './run-cli.js';

/** The README walk-through, end to end through the built CLI. */

const DID = /did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+/;

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

interface ListJson {
  items: { id: string; seq: number; kind: string | null; issuer: string }[];
  next: number | null;
}
interface ViewJson {
  digest: string;
  status: string;
  trustedIssuers: number;
  byPredicate: Record<string, { summary: string; counted: number; total: number; attestations: { id: string; issuer: string; verdict?: string; counts: boolean; reason: string }[] }>;
}

describe.concurrent('README walk-through', () => {
  test('init creates identity.key and api-token with mode 0600 and prints a did:key; id prints the same did', async () => {
    const sb = await sandbox();
    const init = await sb.expectCode(0, ['init']);
    const did = DID.exec(init.stdout)?.[0];
    expect(did, describeRun(['init'], init)).toBeDefined();
    expect(init.stdout).toContain(sb.home);

    for (const name of ['identity.key', 'api-token']) {
      const st = await stat(join(sb.home, name));
      expect(st.isFile()).toBe(true);
      expect((st.mode & 0o777).toString(8), `${name} mode`).toBe('600');
    }
    const token = (await readFile(join(sb.home, 'api-token'), 'utf8')).trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    // The key file names the same identity the CLI printed.
    const key = JSON.parse(await readFile(join(sb.home, 'identity.key'), 'utf8')) as { did: string };
    expect(key.did).toBe(did);

    const id = await sb.expectCode(0, ['id']);
    expect(id.stdout.trim()).toBe(did);
    const idJson = JSON.parse((await sb.expectCode(0, ['id', '--json'])).stdout) as { did: string; home: string };
    expect(idJson.did).toBe(did);
    expect(idJson.home).toBe(sb.home);
  });

  test('hash FILE prints the sha256 of the file (also without init)', async () => {
    const sb = await sandbox();
    const file = join(sb.dir, 'model.gguf');
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    await writeFile(file, bytes);
    const want = sha256Hex(bytes);

    const r = await sb.expectCode(0, ['hash', file]);
    expect(r.stdout.trim()).toBe(`sha256:${want}  model.gguf`);
    const j = JSON.parse((await sb.expectCode(0, ['hash', '--json', file])).stdout) as { digest: string; kind: string; bytes: number };
    expect(j).toMatchObject({ digest: `sha256:${want}`, kind: 'file', bytes: bytes.length });
  });

  test('hash DIR gives per-file digests and the root digest over raw digests in path-component order', async () => {
    const sb = await sandbox();
    const root = join(sb.dir, 'mymodel');
    const files: Record<string, string> = {
      'a/b': 'in directory a',
      'a-b': 'a dash b',
      'config.json': '{"arch":"llama"}\n',
      'weights.bin': 'W'.repeat(10_000),
      'sub/.gitignore': 'nested ignore files are model content\n',
    };
    const skipped: Record<string, string> = {
      '.gitignore': '*.tmp\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/objects/ab/cdef': 'object',
    };
    for (const [rel, content] of Object.entries({ ...files, ...skipped })) {
      await mkdir(join(root, rel, '..'), { recursive: true });
      await writeFile(join(root, rel), content);
    }
    // PurePosixPath order: component by component, so "a/b" ("a" < "a-b") comes before "a-b",
    // although a plain string sort would put "a-b" first ('-' < '/').
    const order = ['a/b', 'a-b', 'config.json', 'sub/.gitignore', 'weights.bin'];
    expect([...order].sort()).not.toEqual(order); // the case really discriminates
    const digests = order.map((p) => sha256Hex(files[p] as string));
    const wantRoot = sha256Hex(Buffer.concat(digests.map((d) => Buffer.from(d, 'hex'))));

    const r = await sb.expectCode(0, ['hash', root]);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([...order.map((p, i) => `${digests[i]}  ${p}`), `sha256:${wantRoot}  mymodel/ (root of 5 files)`]);
    expect(r.stdout).not.toContain('.git/');
    expect(r.stdout).not.toMatch(/ \.gitignore$/m);

    const j = JSON.parse((await sb.expectCode(0, ['hash', '--json', root])).stdout) as { digest: string; kind: string; files: { path: string; sha256: string }[] };
    expect(j.digest).toBe(`sha256:${wantRoot}`);
    expect(j.kind).toBe('directory');
    expect(j.files).toEqual(order.map((path, i) => ({ path, sha256: digests[i] })));
  });

  test('attest fail -> query FLAGGED (exit 3); attest pass -> ok (exit 0); show, show --envelope, list', async () => {
    const sb = await initialised();
    const bad = join(sb.dir, 'bad.gguf');
    const good = join(sb.dir, 'good.safetensors');
    await writeFile(bad, 'a de-aligned model');
    await writeFile(good, 'a well-behaved model');
    const badDigest = sha256Hex('a de-aligned model');
    const goodDigest = sha256Hex('a well-behaved model');

    const a1 = await sb.expectCode(0, ['attest', 'audit', '--subject', bad, '--harness', 'x@1', '--verdict', 'fail']);
    expect(a1.stdout).toMatch(/^stored audit attestation [0-9a-f]{64}$/m);
    const failId = idIn(a1.stdout);

    const q = await sb.run(['query', bad]);
    expect(q.code, describeRun(['query', bad], q)).toBe(3);
    expect(q.stdout).toContain(`sha256:${badDigest}`);
    expect(q.stdout).toContain('FLAGGED');
    expect(q.stdout).toMatch(/^flagged: audit fail by this node \(weight 1\)\.$/m);
    expect(q.stdout).toMatch(/audit: flagged\s+\(1 counted of 1; weights fail 1, warn 0, pass 0\)/);
    expect(q.stdout).toContain(failId);

    const qj = await sb.run(['query', '--json', bad]);
    expect(qj.code).toBe(3);
    const view = JSON.parse(qj.stdout) as ViewJson;
    expect(view.digest).toBe(`sha256:${badDigest}`);
    expect(view.status).toBe('flagged');
    expect(view.byPredicate['audit']).toMatchObject({ summary: 'fail', counted: 1, total: 1 });
    expect(view.byPredicate['audit']?.attestations).toEqual([
      expect.objectContaining({ id: failId, issuer: sb.did, verdict: 'fail', counts: true, reason: 'trusted' }),
    ]);
    // The digest form of the subject gives the same answer.
    expect((await sb.run(['query', `sha256:${badDigest}`])).code).toBe(3);

    const a2 = await sb.expectCode(0, ['attest', 'audit', '--subject', good, '--harness', 'lm-eval@0.4.2', '--verdict', 'pass', '--metric', 'refusal_rate=0.97']);
    const passId = idIn(a2.stdout);
    expect(passId).not.toBe(failId);
    const qg = await sb.run(['query', '--json', good]);
    expect(qg.code, describeRun(['query', '--json', good], qg)).toBe(0);
    const gview = JSON.parse(qg.stdout) as ViewJson;
    expect(gview.status).toBe('ok');
    expect(gview.byPredicate['audit']).toMatchObject({ summary: 'pass', counted: 1, total: 1 });
    const qgText = await sb.expectCode(0, ['query', good]);
    expect(qgText.stdout).toMatch(/^OK {2}sha256:/);

    // show
    const show = await sb.expectCode(0, ['show', failId]);
    expect(show.stdout).toMatch(new RegExp(`^id:\\s+${failId}$`, 'm'));
    expect(show.stdout).toMatch(/^kind:\s+audit$/m);
    expect(show.stdout).toMatch(new RegExp(`^issuer:\\s+${sb.did}$`, 'm'));
    expect(show.stdout).toContain(`sha256:${badDigest} (bad.gguf)`);
    expect(show.stdout).toContain('"verdict": "fail"');
    expect(show.stdout).not.toContain('retracted by');

    const envRun = await sb.expectCode(0, ['show', failId, '--envelope']);
    const env = JSON.parse(envRun.stdout) as { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] };
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(env.signatures).toHaveLength(1);
    expect(env.signatures[0]?.keyid).toBe(sb.did);
    expect(Buffer.from(env.signatures[0]?.sig ?? '', 'base64')).toHaveLength(64);
    // The id is the sha256 of the envelope's DSSE pre-authentication encoding.
    expect(envelopeId(env)).toBe(failId);
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
      _type: string;
      subject: { name: string; digest: { sha256: string } }[];
      predicate: { issuer: string; verdict: string; harness: { name: string; version: string } };
    };
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.subject).toEqual([{ name: 'bad.gguf', digest: { sha256: badDigest } }]);
    expect(statement.predicate).toMatchObject({ issuer: sb.did, verdict: 'fail', harness: { name: 'x', version: '1' } });

    // list --subject: only the attestation about that model
    const ls = await sb.expectCode(0, ['list', '--subject', `sha256:${badDigest}`]);
    expect(ls.stdout).toContain(failId);
    expect(ls.stdout).not.toContain(passId);
    const lsj = JSON.parse((await sb.expectCode(0, ['list', '--json', '--subject', goodDigest])).stdout) as ListJson;
    expect(lsj.items.map((i) => i.id)).toEqual([passId]);

    // list --issuer: both, the newest first (as plain list); --after 0: arrival order
    const li = JSON.parse((await sb.expectCode(0, ['list', '--json', '--issuer', sb.did])).stdout) as ListJson;
    expect(li.items.map((i) => i.id)).toEqual([passId, failId]);
    const liArrival = JSON.parse((await sb.expectCode(0, ['list', '--json', '--issuer', sb.did, '--after', '0'])).stdout) as ListJson;
    expect(liArrival.items.map((i) => i.id)).toEqual([failId, passId]);
    expect(li.items.map((i) => i.kind)).toEqual(['audit', 'audit']);
    expect(li.next).toBeNull();
    const liText = await sb.expectCode(0, ['list', '--issuer', sb.did]);
    expect(liText.stdout.trim().split('\n')).toHaveLength(2);
  });

  test('export then import into a fresh home gives the same ids; importing again ignores all as duplicates', async () => {
    const a = await initialised();
    const b = await initialised();
    expect(b.did).not.toBe(a.did);
    const ids: string[] = [];
    const subjects = [sha256Hex('model one'), sha256Hex('model two'), sha256Hex('model three')];
    for (const [i, d] of subjects.entries()) {
      const r = await a.expectCode(0, ['attest', 'audit', '--subject', `sha256:${d}`, '--harness', 'h@1', '--verdict', i === 1 ? 'fail' : 'pass']);
      ids.push(idIn(r.stdout));
    }
    const file = join(a.dir, 'bundle.jsonl');
    const ex = await a.expectCode(0, ['export', '-o', file]);
    expect(ex.stderr).toContain(`exported 3 attestations to ${file}`);
    const text = await readFile(file, 'utf8');
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => envelopeId(JSON.parse(l) as { payloadType: string; payload: string }))).toEqual(ids);
    // export to standard output writes the same bundle
    expect((await a.expectCode(0, ['export'])).stdout).toBe(text);

    const im = await b.expectCode(0, ['import', file]);
    expect(im.stdout.trim()).toBe('3 lines: 3 accepted, 0 ignored, 0 rejected');
    const listB = JSON.parse((await b.expectCode(0, ['list', '--json', '--issuer', a.did, '--after', '0'])).stdout) as ListJson;
    expect(listB.items.map((i) => i.id)).toEqual(ids);
    const listA = JSON.parse((await a.expectCode(0, ['list', '--json', '--issuer', a.did, '--after', '0'])).stdout) as ListJson;
    expect(listB.items.map((i) => i.id)).toEqual(listA.items.map((i) => i.id));
    // the imported envelope is byte-for-byte what A stored
    expect((await b.expectCode(0, ['show', ids[1] as string, '--envelope'])).stdout).toBe((await a.expectCode(0, ['show', ids[1] as string, '--envelope'])).stdout);
    const statusB = JSON.parse((await b.expectCode(0, ['status', '--json'])).stdout) as { attestations: number; did: string };
    expect(statusB).toMatchObject({ attestations: 3, did: b.did });

    const again = await b.run(['import', file]);
    expect(again.code, describeRun(['import', file], again)).toBe(0);
    expect(again.stdout.trim()).toBe('3 lines: 0 accepted, 3 ignored, 0 rejected (duplicate: 3)');
    expect(again.stderr).toMatch(/^line 1: ignored duplicate/m);
    expect(JSON.parse((await b.expectCode(0, ['status', '--json'])).stdout)).toMatchObject({ attestations: 3 });
  });
});
