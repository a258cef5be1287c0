import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, inspectFile, inspectSource, type Finding, type InspectLimits, type Inspection } from '../../node/scan/inspect/index.js';
import {
  buildH5,
  dataH5,
  garbageAfterSignature,
  kerasH5,
  kerasWeightsH5,
  lyingGlobalHeap,
  save,
  sequentialDense,
  sequentialLambda,
  trainingConfig,
  truncated,
  withUserBlock,
} from '../fixtures/scan/hdf5-builders.js';

/**
 * Legacy Keras `.h5` models: `load_model('x.h5')` ignores safe_mode and runs a Lambda layer's
 * marshalled bytecode (CVE-2025-9905). The root group's `model_config` and `training_config`
 * are read by the HDF5 library and walked like a `.keras` archive's config; a file that cannot
 * be read is never clean. Fixtures are written by the HDF5 library (h5wasm) into a temp dir.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chorus-hdf5-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function inspectBytes(bytes: Buffer, limits?: Partial<InspectLimits>): Promise<Inspection> {
  const path = await save(join(dir, `f${++n}.h5`), bytes);
  return inspectFile(path, limits === undefined ? {} : { limits });
}

const ORDER = ['critical', 'high', 'medium', 'low', 'info'];
const aboveInfo = (f: Finding): boolean => ORDER.indexOf(f.severity) < ORDER.indexOf('info');
const show = (r: Inspection): string => JSON.stringify(r);

describe('legacy Keras .h5 (HDF5)', () => {
  it('a Sequential model with a Lambda layer: embedded-code at high, path model_config', async () => {
    const r = await inspectBytes(await kerasH5({ modelConfig: sequentialLambda(), trainingConfig: trainingConfig() }));
    expect(r.format).toBe('hdf5');
    const code = r.findings.find((f) => f.kind === 'embedded-code');
    expect(code, show(r)).toMatchObject({ severity: 'high', path: 'model_config' });
    expect(code?.detail).toContain('Lambda layer "lambda"');
    expect(r.meta).toMatchObject({ keras: true, kerasVersion: '2.15.0', backend: 'tensorflow' });
  });

  it('a benign Sequential of Dense layers: no finding above info, its config read', async () => {
    const r = await inspectBytes(await kerasH5({ modelConfig: sequentialDense(), trainingConfig: trainingConfig() }));
    expect(r.format).toBe('hdf5');
    expect(r.findings.filter(aboveInfo), show(r)).toEqual([]);
    expect(r.meta).toMatchObject({
      keras: true,
      kerasVersion: '2.15.0',
      backend: 'tensorflow',
      modelConfigBytes: JSON.stringify(sequentialDense()).length,
      trainingConfigBytes: JSON.stringify(trainingConfig()).length,
    });
  });

  it('a weights-only file and a plain data file: no findings, keras false', async () => {
    for (const f of [await kerasWeightsH5(), await dataH5()]) {
      const r = await inspectBytes(f);
      expect(r, show(r)).toMatchObject({ format: 'hdf5', findings: [], meta: { keras: false } });
    }
  });

  it('truncated, or garbage after the signature: malformed or not-inspected, high — never an empty list', async () => {
    const model = await kerasH5({ modelConfig: sequentialLambda() });
    for (const f of [truncated(model), truncated(model, 200), truncated(model, 8), garbageAfterSignature()]) {
      const r = await inspectBytes(f);
      expect(r.format).toBe('hdf5');
      expect(r.findings.length, show(r)).toBeGreaterThan(0);
      for (const x of r.findings) expect(['malformed', 'not-inspected']).toContain(x.kind);
      expect(r.findings.some((x) => x.severity === 'high')).toBe(true);
    }
    expect((await inspectBytes(truncated(model))).findings[0]).toMatchObject({ kind: 'malformed', detail: expect.stringContaining('truncated file') });
    // A superblock version HDF5 does not know may be a newer format: not read, rather than broken.
    expect((await inspectBytes(garbageAfterSignature())).findings[0]).toMatchObject({ kind: 'not-inspected', detail: expect.stringContaining('superblock version') });
  });

  it('a config attribute bigger than kerasConfigBytes: limit, high, not walked', async () => {
    const big = { ...sequentialLambda(), padding: 'x'.repeat(20_000) };
    const r = await inspectBytes(await kerasH5({ modelConfig: big }), { kerasConfigBytes: 10_000 });
    expect(r.findings, show(r)).toEqual([expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringContaining('model_config') })]);
    // A training_config too big after a model_config read whole: the model_config is still walked.
    const late = await inspectBytes(await kerasH5({ modelConfig: sequentialLambda(), trainingConfig: { ...trainingConfig(), padding: 'y'.repeat(20_000) } }), { kerasConfigBytes: 10_000 });
    expect(late.findings.map((f) => [f.kind, f.severity, f.path]), show(late)).toEqual([['embedded-code', 'high', 'model_config'], ['limit', 'high', 'training_config']]);
    // The same file within the default limit is walked.
    expect((await inspectBytes(await kerasH5({ modelConfig: big }))).findings.map((f) => f.kind)).toContain('embedded-code');
  });

  it('every layout h5py writes: superblock 3 with dense attributes, variable-length strings, a user block', async () => {
    const cases = {
      latest: await kerasH5({ libver: 'latest', modelConfig: sequentialLambda() }),
      // Over 64 KiB: stored in dense attribute storage (a fractal heap indexed by a B-tree).
      dense: await kerasH5({ libver: 'latest', modelConfig: { ...sequentialLambda(), padding: 'x'.repeat(100_000) } }),
      vlen: await kerasH5({ configStorage: 'vlen', modelConfig: sequentialLambda() }),
      userBlock: withUserBlock(await kerasH5({ modelConfig: sequentialLambda() }), 512),
      userBlock4k: withUserBlock(await kerasH5({ libver: 'latest', modelConfig: sequentialLambda() }), 4096),
    };
    for (const [name, f] of Object.entries(cases)) {
      const r = await inspectBytes(f);
      expect(r.format, name).toBe('hdf5');
      expect(r.findings, `${name}: ${show(r)}`).toEqual([expect.objectContaining({ kind: 'embedded-code', severity: 'high', path: 'model_config' })]);
      expect(r.meta, name).toMatchObject({ keras: true, kerasVersion: '2.15.0' });
    }
  });

  it('training_config is walked too: a custom loss from outside Keras, a __lambda__ metric', async () => {
    const custom = await kerasH5({
      modelConfig: sequentialDense(),
      trainingConfig: trainingConfig({ module: 'my_losses', class_name: 'FocalLoss', config: { gamma: 2 }, registered_name: 'FocalLoss' }),
    });
    const r = await inspectBytes(custom);
    expect(r.findings, show(r)).toEqual([expect.objectContaining({ kind: 'suspicious-import', path: 'training_config', detail: expect.stringContaining('my_losses.FocalLoss') })]);

    const lambda = { ...trainingConfig(), metrics: [{ class_name: '__lambda__', config: { code: 'YmFk', defaults: null, closure: null }, module: 'builtins' }] };
    const l = await inspectBytes(await kerasH5({ modelConfig: sequentialDense(), trainingConfig: lambda }));
    expect(l.findings.find((f) => f.kind === 'embedded-code'), show(l)).toMatchObject({ severity: 'high', path: 'training_config' });

    const os = await inspectBytes(await kerasH5({ modelConfig: sequentialDense(), trainingConfig: trainingConfig({ module: 'os', class_name: 'function', config: 'system' }) }));
    expect(os.findings.find((f) => f.kind === 'dangerous-import'), show(os)).toMatchObject({ severity: 'critical', path: 'training_config' });
  });

  it('a config that is not JSON, or not a string at all: never clean', async () => {
    const notJson = await inspectBytes(await kerasH5({ modelConfig: '{"class_name": "Sequential", "config": ' }));
    expect(notJson.findings, show(notJson)).toEqual([expect.objectContaining({ kind: 'malformed', severity: 'high', path: 'model_config' })]);
    const numbers = await inspectBytes(await buildH5((f) => f.create_attribute('model_config', [1, 2, 3])));
    expect(numbers.findings, show(numbers)).toEqual([expect.objectContaining({ kind: 'not-inspected', severity: 'high', path: 'model_config', detail: expect.stringContaining('not a string') })]);
  });

  it('reads only the metadata: a config after 4 MB of weights costs a page more than the first MiB; hdf5Bytes bounds it', async () => {
    const f = await kerasH5({ modelConfig: sequentialLambda(), weights: 1_000_000, configAfterWeights: true });
    expect(f.length).toBeGreaterThan(4_000_000);
    const r = await inspectBytes(f);
    expect(r.findings.map((x) => x.kind), show(r)).toEqual(['embedded-code']);
    expect((r.meta as { bytesRead: number }).bytesRead).toBeLessThan(1.25 * 1024 * 1024);
    const small = await inspectBytes(f, { hdf5Bytes: 64 * 1024 });
    expect(small.findings, show(small)).toEqual([expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringContaining('hdf5Bytes') })]);
  });

  it('a global heap the HDF5 library loops on forever: stopped by the time bound, what was read still walked', async () => {
    const f = lyingGlobalHeap(await kerasH5({ modelConfig: sequentialLambda() }));
    // That it returns at all is the point (the library alone never would); no clock is asserted.
    const r = await inspectBytes(f, { hdf5TimeMs: 1500 } as Partial<InspectLimits>);
    expect(r.findings.find((x) => x.kind === 'embedded-code'), show(r)).toMatchObject({ path: 'model_config' });
    for (const x of r.findings.filter((y) => y.kind === 'limit')) expect(x.severity).toBe('high');
    // The reader is started anew after being stopped: the next file is read.
    const next = await inspectBytes(await kerasH5({ modelConfig: sequentialDense() }));
    expect(next.findings.filter(aboveInfo), show(next)).toEqual([]);
    expect(next.meta).toMatchObject({ keras: true });
  });

  it('files inspected at once are read one at a time, each to its own answer; bytes in memory work as files do', async () => {
    const lambda = await kerasH5({ modelConfig: sequentialLambda() });
    const dense = await kerasH5({ modelConfig: sequentialDense() });
    const weights = await kerasWeightsH5();
    const rs = await Promise.all([lambda, dense, weights, lambda, garbageAfterSignature()].map((b) => inspectSource(bufferSource(b))));
    expect(rs.map((r) => r.findings.map((f) => f.kind))).toEqual([['embedded-code'], [], [], ['embedded-code'], ['not-inspected']]);
  });
});
