import { describe, expect, it } from 'vitest';
import { classifyImport, walkPickle } from '../../node/scan/inspect/index.js';
import { PickleWriter } from '../fixtures/scan/builders.js';

/** Pickles written by CPython 3 (`pickle.dumps`), kept as hex so the test needs no Python. */
const CPYTHON = {
  /** `__reduce__` returning (os.system, ('echo pwned',)), protocols 0, 2, 4, 5. */
  osSystem: {
    0: '63706f7369780a73797374656d0a70300a28566563686f2070776e65640a70310a7470320a5270330a2e',
    2: '800263706f7369780a73797374656d0a7100580a0000006563686f2070776e656471018571025271032e',
    4: '80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e',
    5: '80059525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e',
  },
  /** OrderedDict([('w', 1.5), ('b', [1, 2])]), protocol 4. */
  orderedDict4: '8004953d000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c017794473ff80000000000008c0162945d94284b014b0265752e',
  /** [builtins.getattr, builtins.eval]: the second STACK_GLOBAL fetches 'builtins' back with BINGET 1. */
  memo4: '80049527000000000000005d94288c086275696c74696e73948c076765746174747294939468018c046576616c949394652e',
};

const kinds = (w: { findings: { kind: string }[] }): string[] => w.findings.map((f) => f.kind);

describe('pickle walker: imports CPython writes', () => {
  it.each([0, 2, 4, 5] as const)('finds os.system called by REDUCE at protocol %i', (proto) => {
    const w = walkPickle(Buffer.from(CPYTHON.osSystem[proto], 'hex'));
    expect(w.meta.imports).toMatchObject([{ module: 'posix', name: 'system', class: 'dangerous', calledBy: ['REDUCE'] }]);
    expect(w.findings[0]).toMatchObject({ kind: 'dangerous-import', severity: 'critical' });
    expect(w.findings[0]?.detail).toContain('posix.system');
    expect(kinds(w)).not.toContain('malformed');
    expect(w.meta.protocol).toBe(proto);
  });

  it('allows an OrderedDict and reports nothing', () => {
    const w = walkPickle(Buffer.from(CPYTHON.orderedDict4, 'hex'));
    expect(w.meta.imports).toMatchObject([{ module: 'collections', name: 'OrderedDict', class: 'allowed' }]);
    expect(w.findings).toEqual([]);
  });

  it('resolves a STACK_GLOBAL whose module comes back from the memo (BINGET)', () => {
    const w = walkPickle(Buffer.from(CPYTHON.memo4, 'hex'));
    expect(w.meta.imports.map((i) => `${i.module}.${i.name}:${i.class}`)).toEqual(['builtins.getattr:dangerous', 'builtins.eval:dangerous']);
  });
});

describe('pickle walker: hand-written opcode streams', () => {
  it('resolves STACK_GLOBAL through BINPUT/LONG_BINPUT/PUT and BINGET/LONG_BINGET/GET', () => {
    const p = new PickleWriter().proto(4)
      .shortUnicode('subprocess').binput(7).shortUnicode('Popen').longBinput(70_000).stackGlobal().raw('0') // POP
      .binUnicode('ignored').put(12).raw('0')
      .binget(7).longBinget(70_000).stackGlobal().raw('0')
      .unicode('runpy').put(3).raw('0').get(3).shortUnicode('run_path').stackGlobal()
      .shortUnicode('x').tuple1().reduce().stop();
    const w = walkPickle(p.bytes());
    expect(w.meta.imports.map((i) => `${i.module}.${i.name}`)).toEqual(['subprocess.Popen', 'runpy.run_path']);
    expect(w.meta.imports[0]?.count).toBe(2);
    expect(w.meta.imports[1]?.calledBy).toEqual(['REDUCE']);
    expect(kinds(w).filter((k) => k === 'dangerous-import')).toHaveLength(2);
  });

  it('reads INST (module\\nname\\n with MARKed args) and OBJ/NEWOBJ usage', () => {
    const p = new PickleWriter().mark().string('id').inst('os', 'system')
      .mark().global('nt', 'system').string('dir').obj()
      .global('torch.serialization', 'load').emptyTuple().newobj().stop();
    const w = walkPickle(p.bytes());
    expect(w.meta.imports.map((i) => [`${i.module}.${i.name}`, i.opcode, i.calledBy])).toEqual([
      ['os.system', 'INST', ['INST']], ['nt.system', 'GLOBAL', ['OBJ']], ['torch.serialization.load', 'GLOBAL', ['NEWOBJ']],
    ]);
    expect(w.findings.every((f) => f.kind === 'dangerous-import')).toBe(true);
  });

  it('a payload then broken bytes (nullifAI) still reports the payload, and the break', () => {
    const p = new PickleWriter().proto(2).global('builtins', 'exec').string('import os').tuple1().reduce()
      .raw(0xff, 0x00, 0x13); // no such opcode: CPython stops here, after exec already ran
    const w = walkPickle(p.bytes());
    expect(w.findings[0]).toMatchObject({ kind: 'dangerous-import', severity: 'critical' });
    expect(w.findings.find((f) => f.kind === 'malformed')?.detail).toMatch(/unknown opcode 0xff/);
  });

  it('a payload in a pickle cut short (no STOP) is reported with a malformed finding', () => {
    const w = walkPickle(new PickleWriter().proto(4).shortUnicode('os').shortUnicode('popen').stackGlobal().bytes());
    expect(kinds(w)).toEqual(['dangerous-import', 'malformed']);
  });

  it('names walked through attributes are judged by every step (torch + os.system, dunders)', () => {
    expect(classifyImport('torch', 'os.system')).toBe('dangerous');
    expect(classifyImport('numpy', '__builtins__.eval')).toBe('dangerous');
    expect(classifyImport('__builtin__', 'eval')).toBe('dangerous');
    expect(classifyImport('torch.serialization', 'load')).toBe('dangerous');
    expect(classifyImport('torch._utils', '_rebuild_tensor_v2')).toBe('allowed');
    expect(classifyImport('torch', 'FloatStorage')).toBe('allowed');
    expect(classifyImport('torch', 'Size')).toBe('allowed');
    expect(classifyImport('numpy.core.multiarray', '_reconstruct')).toBe('allowed');
    expect(classifyImport('numpy', 'dtype')).toBe('allowed');
    expect(classifyImport('argparse', 'Namespace')).toBe('suspicious');
    expect(classifyImport('builtins', 'set')).toBe('allowed');
    for (const [m, n] of [['subprocess', 'check_output'], ['posix', 'system'], ['os', 'execv'], ['os', 'spawnlp'], ['pip', 'main'],
      ['socket', 'create_connection'], ['shutil', 'rmtree'], ['sys', 'exit'], ['webbrowser', 'open'], ['ctypes', 'CDLL'],
      ['importlib', 'import_module'], ['pkgutil', 'resolve_name'], ['builtins', 'getattr'], ['builtins', '__import__'],
      ['builtins', 'compile'], ['builtins', 'open'], ['__builtin__', 'apply'], ['runpy', '_run_code']] as const) {
      expect(classifyImport(m, n), `${m}.${n}`).toBe('dangerous');
    }
  });

  it('a STACK_GLOBAL over computed values is unresolved, not silently allowed', () => {
    const p = new PickleWriter().proto(4).global('builtins', 'str').shortUnicode('o').tuple1().reduce()
      .shortUnicode('system').stackGlobal().stop();
    const w = walkPickle(p.bytes());
    expect(w.findings.find((f) => f.kind === 'unresolved-import')).toMatchObject({ severity: 'high' });
  });

  it('EXT1 imports are unresolved; GET of a key never stored is malformed', () => {
    expect(kinds(walkPickle(new PickleWriter().proto(2).raw(0x82, 1).stop().bytes()))).toEqual(['unresolved-import']);
    expect(kinds(walkPickle(new PickleWriter().proto(2).binget(9).stop().bytes()))).toEqual(['malformed']);
  });

  it('walks every pickle of a legacy torch.save stream and stops at the raw storage bytes', () => {
    const magic = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
    const small = new PickleWriter().proto(2).binint1(1).stop().bytes();
    const main = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().stop().bytes();
    const keys = new PickleWriter().proto(2).global('os', 'system').stop().bytes();
    const storage = Buffer.concat([Buffer.from([0x80, 0x02, 0, 0, 0, 0, 0, 0]), Buffer.alloc(64, 0xab)]);
    const w = walkPickle(Buffer.concat([magic, small, small, main, keys, storage]));
    expect(w.meta.pickles).toBe(5);
    expect(kinds(w)).toEqual(['dangerous-import']);
  });

  it('deep nesting (10^6 MARKs, 10^6 EMPTY_LISTs) stops at the stack limit without blowing the JS stack', () => {
    const marks = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(2_000_000, 0x28)]);
    const w = walkPickle(marks);
    expect(w.findings).toMatchObject([{ kind: 'limit' }]);
    expect(w.findings[0]?.detail).toMatch(/stack deeper/);
    const lists = walkPickle(Buffer.alloc(50_000, 0x5d), { limits: { pickleStack: 10_000 } });
    expect(kinds(lists)).toEqual(['limit']);
  });

  it('honours the opcode limit and the memo limit (failing closed)', () => {
    const many = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('N0'.repeat(1000), 'latin1'), Buffer.from('.')]);
    expect(walkPickle(many, { limits: { pickleOpcodes: 100 } }).findings).toMatchObject([{ kind: 'limit' }]);
    const p = new PickleWriter().proto(4).shortUnicode('a').memoize().shortUnicode('os').memoize().raw('0', '0')
      .binget(1).shortUnicode('system').stackGlobal().stop();
    const w = walkPickle(p.bytes(), { limits: { pickleMemo: 1 } });
    expect(kinds(w)).toEqual(['limit', 'unresolved-import']);
  });

  it('a prefix of a longer stream ends in a limit finding, not a malformed one', () => {
    const full = new PickleWriter().proto(2).global('os', 'system').binUnicode('x'.repeat(100)).stop().bytes();
    const w = walkPickle(full.subarray(0, 40), { complete: false });
    expect(kinds(w)).toEqual(['dangerous-import', 'limit']);
  });
});
