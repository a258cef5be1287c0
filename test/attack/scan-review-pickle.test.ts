/**
 * Security review of the pickle walker (node/scan/inspect/pickle.ts): pickles that Python's
 * unpickler runs attacker code from, but that `chorus check` allows (and some that
 * `chorus scan --attest` signed clean). Each test failed before its fix; each was a finding.
 *
 * Payloads were checked against CPython 3.11's C unpickler (`pickle.loads` on the same bytes,
 * with a harmless `os.system('echo …')`): the underscore memo keys resolve as described.
 */
import { describe, expect, test } from 'vitest';
import { PickleWriter, writeZip } from '../fixtures/scan/builders.js';
import { judge, seen } from './scan-review-support.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** torch.save's zip layout around a data.pkl (torch.load reads `<first dir>/data.pkl`). */
function torchZip(pkl: Buffer): Buffer {
  return writeZip([
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/byteorder', data: b('little') },
    { name: 'archive/version', data: b('3\n') },
  ]);
}

/**
 * FINDING P1 (critical: signed clean, allowed). GET/PUT take their key as a text line, which
 * CPython parses with int() semantics (`PyLong_FromString(s, NULL, 10)` in _pickle.c
 * load_get/load_put; `int(self.readline()[:-1])` in pickle.py), and int() accepts PEP 515
 * underscores: `1_0` is 10. The walker uses `Number.parseInt`, which stops at `_`: key 1.
 * So the walker's memo and Python's disagree, and STACK_GLOBAL is fed different strings:
 * the walker sees `collections.OrderedDict` (allowed), Python imports `os.system`.
 * Checked: `pickle.loads(<these bytes>)` runs os.system on CPython 3.11.
 */
export function underscoreMemoPickle(cmd = 'id'): Buffer {
  return b(
    '\x80\x02'
    + 'Vcollections\np1\n0' // memo[1] = 'collections'
    + 'Vos\np10\n0' // memo[10] = 'os'
    + 'VOrderedDict\np2\n0' // memo[2] = 'OrderedDict'
    + 'Vsystem\np20\n0' // memo[20] = 'system'
    + 'g1_0\ng2_0\n' // Python: memo[10], memo[20]; the walker: memo[1], memo[2]
    + `\x93V${cmd}\n\x85R.`,
  );
}

/**
 * FINDING P2 (high: allowed). A pickle the walker cannot follow ends its walk with a
 * `malformed` finding of severity medium, the file stays `inspected`, and the gate only
 * refuses critical/high findings and unresolved/suspicious imports: what follows the break
 * is never read, and the file is allowed. Here the break is the same underscore key: PUT
 * `1_0` stores at 10 in Python and at 1 in the walker, so `GET 10` is "never stored" to the
 * walker (break) while Python reads 'os' and goes on to import and call os.system.
 */
export function walkerBreakPickle(cmd = 'id'): Buffer {
  return b(`\x80\x02Vos\np1_0\n0g10\nVsystem\n\x93V${cmd}\n\x85R.`);
}

/**
 * FINDING P3 (critical: signed clean, allowed). torch.load's legacy (pre-zip) reader calls
 * pickle.load five times in a row (magic number, protocol version, sys info, the object,
 * storage keys: torch/serialization.py _legacy_load) and checks only the *values* of the
 * first two. The walker treats the file as legacy only when it starts with the exact bytes
 * torch.save writes (`80 02 8a 0a …`); otherwise it walks a later pickle only when its first
 * byte is PROTO or a protocol 0/1 opcode. Python's unpickler needs neither: a pickle may
 * start with SHORT_BINUNICODE (0x8c), FRAME (0x95), etc. So: the magic number written with
 * PROTO 4 instead of 2 (same value, torch accepts it), then the object pickle starting with
 * 0x8c: the walker stops after three harmless pickles ("trailing data"), torch runs the
 * fourth.
 */
export function legacyTorchHiddenFourth(cmd = 'id'): Buffer {
  const magic = Buffer.from('80048a0a6cfc9c46f9206aa850192e', 'hex'); // 0x1950a86a20f9469cfc6c, PROTO 4
  const protocolVersion = b('\x80\x02M\xe9\x03.'); // 1001
  const sysInfo = b('\x80\x02}.');
  const main = new PickleWriter().shortUnicode('os').shortUnicode('system').stackGlobal().shortUnicode(cmd).tuple1().reduce().stop().bytes();
  const keys = b('\x80\x02]X\x01\x00\x00\x000a.');
  return Buffer.concat([magic, protocolVersion, sysInfo, main, keys]);
}

describe('scan review: pickle walker vs CPython', () => {
  test('P1 underscore memo keys: raw pickle is not signed clean and is denied', async () => {
    const v = await judge('p1-raw', { 'model.pkl': underscoreMemoPickle() });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('P1 underscore memo keys: torch zip data.pkl is not signed clean and is denied', async () => {
    const v = await judge('p1-zip', { 'pytorch_model.bin': torchZip(underscoreMemoPickle()) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('P2 a walk that breaks where Python does not is denied, not allowed', async () => {
    const v = await judge('p2', { 'pytorch_model.bin': torchZip(walkerBreakPickle()) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('P3 legacy torch file with a re-encoded magic and a 4th pickle starting 0x8c is denied', async () => {
    const v = await judge('p3', { 'model.pt': legacyTorchHiddenFourth() });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
