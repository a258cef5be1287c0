/**
 * Security review of the container readers (zip.ts, tar.ts, gguf.ts): archives whose
 * loader reads other bytes than the scanner does (a security review; each test failed before its fix). Each was a
 * finding: the file was signed clean by `chorus scan --attest` and allowed by `chorus check`.
 */
import { describe, expect, test } from 'vitest';
import { CVE_2024_34359_POC } from '../fixtures/scan/chat-templates.js';
import { torchStateDictPickle, torchZip } from '../fixtures/scan/corpus.js';
import { PickleWriter, writeGguf, writeNpy, writeTar, writeZip } from '../fixtures/scan/builders.js';
import { judge, seen } from './scan-review-support.js';

const evilPickle = (cmd = 'id'): Buffer => new PickleWriter().proto(2).global('os', 'system').binUnicode(cmd).tuple1().reduce().stop().bytes();

/** A zip's central-directory and end-record offsets moved by `by` (it is placed after `by` bytes). */
function shiftZip(zip: Buffer, by: number): Buffer {
  const out = Buffer.from(zip);
  for (let i = 0; i + 4 <= out.length; i++) {
    const sig = out.readUInt32LE(i);
    if (sig === 0x02014b50) out.writeUInt32LE(out.readUInt32LE(i + 42) + by, i + 42);
    else if (sig === 0x06054b50 && i + 22 <= out.length) out.writeUInt32LE(out.readUInt32LE(i + 16) + by, i + 16);
  }
  return out;
}

/**
 * A benign archive, then a hostile one whose end record claims a 1-byte comment the file does
 * not have. readZipDirectory skips an end record whose comment would run past the file and
 * keeps searching backwards, so it reads the benign archive's directory. Real readers take the
 * LAST end-record signature with 22 bytes after it and ignore the comment length:
 * - miniz (torch.load's PyTorchStreamReader): mz_zip_reader_locate_header_sig scans from the
 *   end for the signature, checking only `archive_size - ofs >= 22` (richgel999/miniz
 *   miniz_zip.c), and mz_zip_reader_read_central_dir never checks the comment length;
 * - Python's zipfile._EndRecData: `data.rfind(stringEndArchive)`, comment sliced, not checked
 *   (np.load of .npz, keras .keras). Verified by running CPython 3.11 zipfile and numpy 2.4
 *   on the .npz below: `np.load(f, allow_pickle=True)['x']` runs the payload.
 */
function lyingEndRecord(benign: Buffer, hostile: Buffer): Buffer {
  const evil = shiftZip(hostile, benign.length);
  evil.writeUInt16LE(1, evil.length - 2); // comment length 1, no comment bytes
  return Buffer.concat([benign, evil]);
}

const npy = (descr: string, data: Buffer): Buffer => writeNpy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (${descr === '|O' ? 1 : 4},), }`, data);

/** Python's tarfile pax record `"<len> key=value\n"`. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = body.length + 1;
  while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
  return `${n}${body}`;
}

describe('scan review: zip end record', () => {
  test('Z1 torch zip: a second archive behind a lying end record is what torch reads', async () => {
    const file = lyingEndRecord(torchZip(torchStateDictPickle()), torchZip(evilPickle()));
    const v = await judge('z1', { 'pytorch_model.bin': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('Z1 npz: numpy reads the hidden object array', async () => {
    const benign = writeZip([{ name: 'x.npy', data: npy('<f4', Buffer.alloc(16)) }]);
    const hostile = writeZip([{ name: 'x.npy', data: npy('|O', evilPickle()) }]);
    const v = await judge('z1-npz', { 'arrays.npz': lyingEndRecord(benign, hostile) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review: tar member names (torch.load legacy tar format)', () => {
  /**
   * FINDING T1. A pax GLOBAL header (type 'g') applies its `path` to every member after it:
   * CPython tarfile TarInfo._proc_builtin calls `self._apply_pax_info(tarfile.pax_headers, …)`
   * for each member. inspectTar reads 'g' bodies but never applies them, so the member below
   * is 'weights' to the scanner and 'storages' to torch's legacy_load, which does
   * `tar.extract('storages')` and then `pickle_module.load` on it (torch/serialization.py).
   * Verified with CPython 3.11: tarfile names it 'storages' and pickle.load of it runs the payload.
   */
  test('T1 a pax global header renames a member to storages', async () => {
    const file = writeTar([
      { name: 'pax_global_header', type: 'g', data: Buffer.from(paxRecord('path', 'storages')) },
      { name: 'weights', data: evilPickle() },
    ]);
    const v = await judge('t1', { 'model.pt': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  /**
   * FINDING T2. pax records are length-prefixed and a value may hold newlines; tarfile reads
   * record by record and the last `path` wins. inspectTar takes the FIRST regex match of
   * `\n<digits> path=…\n` anywhere in the body, so a decoy `path=` line inside a comment's
   * value names the member for the scanner ('decoy') while tarfile names it 'storages'.
   * Verified with CPython 3.11 tarfile (newer CPython releases tightened pax parsing; the
   * global-header variant T1 does not depend on it).
   */
  test('T2 a decoy path line inside a pax comment value', async () => {
    const decoy = paxRecord('path', 'decoy').slice(0, -1); // its newline is the comment record's own
    const body = paxRecord('comment', `a\n${decoy}`) + paxRecord('path', 'storages');
    const file = writeTar([
      { name: 'PaxHeader', type: 'x', data: Buffer.from(body) },
      { name: 'weights', data: evilPickle() },
    ]);
    const v = await judge('t2', { 'model.pt': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review: GGUF chat template keys', () => {
  /**
   * FINDING G1. GGUF keys are length-prefixed and may contain NUL. llama.cpp keeps them whole
   * in the gguf_context (the duplicate check is std::string ==, so 'tokenizer.chat_template\0x'
   * and 'tokenizer.chat_template' are different keys), but everything that looks a key up
   * goes through C strings: llama_model::load_hparams does
   * `const char * name = gguf_get_key(ctx, i); gguf_kv.emplace(name, value);` (the name cut
   * at the NUL; emplace keeps the FIRST), gguf_find_key uses strcmp (first match), and
   * llama-cpp-python's Llama.metadata() reads keys through llama_model_meta_key_by_index
   * (snprintf "%s") and `buffer.value`. So the first key below IS tokenizer.chat_template to
   * llama.cpp and llama-cpp-python (which renders it with jinja2), while the scanner, which
   * matches the key exactly, never parses it and passes the benign one after it.
   */
  test('G1 a chat template under "tokenizer.chat_template\\0…" is inspected', async () => {
    const file = writeGguf({
      kv: [
        ['general.architecture', { t: 'str', v: 'llama' }],
        ['tokenizer.chat_template\u0000', { t: 'str', v: CVE_2024_34359_POC }],
        ['tokenizer.chat_template', { t: 'str', v: "{% for m in messages %}{{ m['content'] }}{% endfor %}" }],
      ],
    });
    const v = await judge('g1', { 'model.gguf': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
