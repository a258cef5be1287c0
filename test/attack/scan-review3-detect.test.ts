/**
 * Security review, round 3: detect.ts ordering. The HDF5 signature is now looked for first,
 * at 0 and at every 512·2^n offset up to the end of the file, and wins over every other
 * format's magic at offset 0.
 */
import { describe, expect, test } from 'vitest';
import { PickleWriter, writeGguf } from '../fixtures/scan/builders.js';
import { CVE_2024_34359_POC } from '../fixtures/scan/chat-templates.js';
import { dataH5 } from '../fixtures/scan/hdf5-builders.js';
import { judge, seen } from './scan-review-support.js';

describe('scan review 3: detect ordering', () => {
  /**
   * D1. A GGUF whose chat template is the CVE-2024-34359 payload, and whose tensor data holds
   * (at byte 4096 = 512·2^3) a benign HDF5 file. detectFormat() now checks for the HDF5
   * signature first at every 512·2^n offset, so the file is `hdf5`: inspectHdf5 reads the
   * benign data file behind the "user block", and the GGUF metadata — the chat template —
   * is never read. Signed clean, allowed.
   *
   * Real loader: llama.cpp / llama-cpp-python open a .gguf by its magic at byte 0 and never
   * look for HDF5; tensor data is opaque bytes. llama-cpp-python renders
   * tokenizer.chat_template with jinja2 (CVE-2024-34359: code execution). h5py would also
   * open this file (as the benign data file), which is what the HDF5-first rule is for — but
   * a file can be two formats at once, and each must be inspected as every loader that
   * will open it sees it.
   * Suggested fix: when magic at 0 claims another format (GGUF, safetensors, zip, npy,
   * pickle…) and an HDF5 signature sits at a user-block offset, inspect it as both and
   * merge the findings (or deny such polyglots outright: a benign export never makes one).
   */
  test('D1 a GGUF with a hostile chat template and an HDF5 file in its tensor data is not signed clean', async () => {
    const h5 = await dataH5();
    const kv: Parameters<typeof writeGguf>[0]['kv'] = [
      ['general.architecture', { t: 'str', v: 'llama' }],
      ['tokenizer.chat_template', { t: 'str', v: CVE_2024_34359_POC }],
    ];
    const probe = writeGguf({ kv, tensors: [{ name: 'token_embd.weight', dims: [1], type: 0, offset: 0 }] });
    if (probe.length > 4096) throw new Error('header too long for the 4096 user block');
    const dataLen = 4096 - probe.length + h5.length + ((4 - (h5.length % 4)) % 4);
    const head = writeGguf({ kv, tensors: [{ name: 'token_embd.weight', dims: [dataLen / 4], type: 0, offset: 0 }] });
    const file = Buffer.concat([head, Buffer.alloc(4096 - head.length), h5, Buffer.alloc((4 - (h5.length % 4)) % 4)]);
    expect(file.length - head.length).toBe(dataLen);
    const v = await judge('d1', { 'model.gguf': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('D1 control: the same GGUF without the HDF5 file is denied', async () => {
    const file = writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }], ['tokenizer.chat_template', { t: 'str', v: CVE_2024_34359_POC }]], dataBytes: 64 });
    const v = await judge('d1c', { 'model.gguf': file });
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  /**
   * D2. The same hole with a pickle: pickle.load reads from byte 0 and stops at STOP, so
   * whatever follows is never read by Python — here, a benign HDF5 data file at byte 512
   * (the first user-block offset). The scanner sees only `hdf5` and signs it clean.
   * Real loader: pickle.load(open('model.pkl','rb')) / torch.load(weights_only=False) on a
   * legacy file / joblib.load: runs os.system('id'). Severity: critical (plain pickle RCE).
   */
  test('D2 an os.system pickle followed by an HDF5 file at byte 512 is denied', async () => {
    const evil = new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes();
    const file = Buffer.concat([evil, Buffer.alloc(512 - evil.length), await dataH5()]);
    const v = await judge('d2', { 'model.pkl': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
