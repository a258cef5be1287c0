import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { localClient } from '../../node/client/local-client.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { findingStatements } from '../../node/scan/attest-findings.js';
import { inspectionDenials } from '../../node/scan/gate.js';
import { scan, type ScanReport } from '../../node/scan/scan.js';
import { BENIGN_CORPUS, BYPASS_CORPUS, type CorpusCase } from '../fixtures/scan/corpus.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * The regression corpora (test/fixtures/scan/corpus.ts): every published bypass technique is
 * denied by the gate and never signed clean; every benign model in a real library's shape is
 * inspected in full, allowed, and signed clean.
 */
let dir: Awaited<ReturnType<typeof tempDir>>;
let node: LocalNode;

beforeAll(async () => {
  dir = await tempDir('chorus-corpus-');
  const home = resolveHome({}, join(dir.path, 'home'));
  await initHome(home);
  node = await LocalNode.open(home);
});
afterAll(async () => {
  await node.close();
  await dir[Symbol.asyncDispose]();
});

async function scanCase(c: CorpusCase, kind: string): Promise<ScanReport> {
  const root = join(dir.path, kind, c.id);
  for (const [name, bytes] of Object.entries(await c.files())) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), bytes);
  }
  return scan({ paths: [root], verify: true, cache: undefined, client: localClient(node), suite: nativeSuite() });
}

describe('bypass corpus: every published technique is denied', () => {
  test.each(BYPASS_CORPUS.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const r = await scanCase(c, 'bypass');
    const denials = inspectionDenials(r.models);
    expect(denials, `${c.id} (${c.reference}) was allowed`).not.toEqual([]);
    for (const m of r.models) {
      expect(m.inspection).not.toBe('clean');
      const cleanClaims = findingStatements(m, node.identity.did, new Date()).filter((s) => (s.predicate as { finding?: { kind?: string } }).finding?.kind === 'clean');
      expect(cleanClaims.map((s) => s.subject[0]?.name), `${c.id}: a file signed clean`).toEqual([]);
    }
  });
});

describe('benign corpus: nothing is flagged', () => {
  test.each(BENIGN_CORPUS.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const r = await scanCase(c, 'benign');
    expect(inspectionDenials(r.models)).toEqual([]);
    // Text beside a model (config.json, external tensor data) is no model format: not claimed clean, not denied.
    const models = r.models.filter((m) => m.files.some((f) => f.format !== 'unknown'));
    expect(models.length).toBeGreaterThan(0);
    for (const m of models) {
      expect(m.inspection, JSON.stringify(m.files.map((f) => [f.name, f.format, f.coverage, f.findings]))).toBe('clean');
      for (const f of m.files.filter((x) => x.format !== 'unknown')) expect(f.coverage.state).toBe('inspected');
      const payloads = findingStatements(m, node.identity.did, new Date()).map((s) => (s.predicate as { finding?: { kind?: string } }).finding?.kind).filter((k) => k !== undefined);
      expect(payloads.length).toBeGreaterThan(0);
      expect(payloads.every((k) => k === 'clean')).toBe(true);
    }
    for (const m of r.models.filter((x) => !models.includes(x))) expect(m.inspection).toBe('no-model-format');
  });
});
