import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';
import { classifyImport } from './pickle-imports.js';
import { decodeQuotedString, decodeRawUnicodeEscape } from './pickle-strings.js';
import type { Finding, PickleImport, PickleMeta } from './types.js';

/** Options for {@link walkPickle}. */
export interface PickleWalkOptions {
  /** False when `bytes` is only the start of a longer stream: running out is a limit, not a break. */
  readonly complete?: boolean;
  /** The member path to put on findings (inside an archive). */
  readonly path?: string;
  readonly limits?: Partial<InspectLimits>;
  /** Pickles inside pickles (bytes handed to torch's _load_from_bytes) walked so far. */
  readonly depth?: number;
}

/** Bytes constants kept to walk when the pickle hands bytes to a loader, at most. */
const MAX_BLOBS = 64;
/** Loaders a pickle can call on bytes it carries: torch.load(BytesIO(b), weights_only=False). */
const BYTES_LOADERS = new Set(['torch.storage._load_from_bytes']);
/** Pickles inside pickles followed this deep. */
const MAX_NESTED = 2;

/** What a static walk of a pickle stream found. */
export interface PickleWalk {
  readonly meta: PickleMeta;
  readonly findings: Finding[];
  /** The walk ran out of bytes in a stream marked incomplete: more bytes would let it go on. */
  readonly needsMore: boolean;
  /** Where the walk stopped: just past the last STOP it read, on a clean walk. */
  readonly end: number;
}

/** A value on the simulated stack: a string, an import (its index), or anything else. */
type Val = string | number;
const OTHER = -1;

class Stop extends Error {
  constructor(
    readonly why: 'malformed' | 'truncated' | 'limit',
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

/** Opcodes a protocol 0 or 1 pickle starts with (it has no PROTO to announce it). */
export const PROTO0_START = new Set('(ci]})NILFSVUTXJKMGPBC'.split('').map((char) => char.charCodeAt(0)));

/** Whether the byte at `pos` can start a pickle: PROTO 0–5, or an opcode protocol 0/1 starts with. */
function startsPickle(bytes: Buffer, pos: number): boolean {
  const byte = bytes[pos];
  if (byte === undefined) return false;
  return byte === 0x80 ? (bytes[pos + 1] ?? 0xff) <= 5 : PROTO0_START.has(byte);
}

/** The magic number torch.save's legacy format pickles first: 0x1950a86a20f9469cfc6c. */
const TORCH_LEGACY_MAGIC_VALUE = 0x1950a86a20f9469cfc6cn;
/** Python's isspace() for bytes. */
// eslint-disable-next-line no-control-regex -- vertical tab and form feed are what Python strips
const PY_SPACE = /^[ \t\n\r\x0b\x0c]*|[ \t\n\r\x0b\x0c]*$/g;

/**
 * A memo key as CPython reads one (PyLong_FromString, base 10): surrounding whitespace, a sign,
 * single underscores between digits. Undefined when Python would raise, or past 2^53.
 */
export function pythonInt(line: Buffer): number | undefined {
  const text = line.toString('latin1').replace(PY_SPACE, '');
  if (!/^[+-]?\d+(?:_\d+)*$/.test(text)) return undefined;
  const value = Number(text.replace(/_/g, ''));
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A whole number pushed by one opcode (INT, LONG, BININT*, LONG1/4), or undefined. */
function intValue(data: Buffer): { value: bigint; end: number } | undefined {
  const op = data[0];
  const le = (raw: Buffer): bigint => {
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i] as number);
    return raw.length > 0 && ((raw[raw.length - 1] as number) & 0x80) !== 0 ? value - (1n << BigInt(8 * raw.length)) : value;
  };
  if (op === 0x49 || op === 0x4c) { // INT, LONG: decimal text, LONG with a trailing L
    const nl = data.indexOf(0x0a, 1);
    if (nl < 0) return undefined;
    const text = data.toString('latin1', 1, nl).replace(PY_SPACE, '').replace(/L$/, '');
    return /^[+-]?\d+(?:_\d+)*$/.test(text) ? { value: BigInt(text.replace(/_/g, '')), end: nl + 1 } : undefined;
  }
  if (op === 0x4a && data.length >= 5) return { value: BigInt(data.readInt32LE(1)), end: 5 }; // BININT
  if (op === 0x4b && data.length >= 2) return { value: BigInt(data[1] as number), end: 2 }; // BININT1
  if (op === 0x4d && data.length >= 3) return { value: BigInt(data.readUInt16LE(1)), end: 3 }; // BININT2
  if (op === 0x8a && data.length >= 2) { const n = data[1] as number; return data.length >= 2 + n ? { value: le(data.subarray(2, 2 + n)), end: 2 + n } : undefined; } // LONG1
  if (op === 0x8b && data.length >= 5) { const n = data.readInt32LE(1); return n >= 0 && data.length >= 5 + n && n <= 64 ? { value: le(data.subarray(5, 5 + n)), end: 5 + n } : undefined; } // LONG4
  return undefined;
}

/**
 * Whether one pickle (its bytes, STOP included) is the legacy torch.save magic number in any
 * encoding: PROTO, FRAME and memo opcodes around exactly one whole number that equals it.
 */
function isTorchLegacyMagic(data: Buffer): boolean {
  let i = 0;
  let value: bigint | undefined;
  while (i < data.length) {
    const op = data[i] as number;
    if (op === 0x2e) return value === TORCH_LEGACY_MAGIC_VALUE && i === data.length - 1;
    if (op === 0x80) i += 2; // PROTO
    else if (op === 0x95) i += 9; // FRAME
    else if (op === 0x94) i += 1; // MEMOIZE
    else if (op === 0x71) i += 2; // BINPUT
    else if (op === 0x72) i += 5; // LONG_BINPUT
    else if (op === 0x70) { const nl = data.indexOf(0x0a, i); if (nl < 0) return false; i = nl + 1; } // PUT
    else {
      if (value !== undefined) return false;
      const parsed = intValue(data.subarray(i));
      if (parsed === undefined) return false;
      value = parsed.value;
      i += parsed.end;
    }
  }
  return false;
}

/** torch.save's legacy (pre-zip) files start with a pickle of this magic number, then four more pickles and raw storage bytes. */
const TORCH_LEGACY_MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
const TORCH_LEGACY_PICKLES = 5;

/**
 * Walks the opcodes of a pickle stream (protocols 0 to 5) without executing anything, and
 * resolves every import: GLOBAL and INST by their text arguments, STACK_GLOBAL by simulating
 * the stack and memo that feed it. Each import is judged dangerous, allowed or suspicious
 * ({@link classifyImport}). What was found before a break or a limit is kept and reported, with
 * a `malformed` or `limit` finding for the break. Iterative and bounded by `limits`: never
 * throws, never recurses.
 */
export function walkPickle(bytes: Buffer, opts: PickleWalkOptions = {}): PickleWalk {
  const lim = { ...INSPECT_LIMITS, ...opts.limits };
  const complete = opts.complete ?? true;
  const at = opts.path === undefined ? {} : { path: opts.path };
  const findings: Finding[] = [];
  const imports: PickleImport[] = [];
  const importIndex = new Map<string, number>();
  const memo = new Map<number, Val>();
  const stack: Val[] = [];
  const marks: number[] = [];
  let memoFull = false;
  let importsFull = false;
  let unresolved = 0;
  let protocol = 0;
  let opcodes = 0;
  let pickles = 0;
  let persistentIds = 0;
  let pos = 0;
  let needsMore = false;
  const blobs: { at: number; bytes: Buffer }[] = [];
  const blob = (raw: Buffer, at: number): Buffer => {
    if (raw.length >= 2 && blobs.length < MAX_BLOBS) blobs.push({ at, bytes: raw });
    return raw;
  };
  const end = bytes.length;
  let legacy = bytes.subarray(0, TORCH_LEGACY_MAGIC.length).equals(TORCH_LEGACY_MAGIC);
  let maxPickles = legacy ? TORCH_LEGACY_PICKLES : lim.picklesPerStream;

  const need = (n: number, op: number): void => {
    if (pos + n > end) throw new Stop('truncated', `opcode 0x${op.toString(16)} needs ${n} bytes past the end`, pos);
  };
  const u8 = (op: number): number => (need(1, op), bytes[pos++] as number);
  const u16 = (op: number): number => (need(2, op), (pos += 2), bytes.readUInt16LE(pos - 2));
  const u32 = (op: number): number => (need(4, op), (pos += 4), bytes.readUInt32LE(pos - 4));
  const i32 = (op: number): number => (need(4, op), (pos += 4), bytes.readInt32LE(pos - 4));
  const u64 = (op: number): number => {
    need(8, op);
    const len = bytes.readBigUInt64LE(pos);
    pos += 8;
    if (len > BigInt(Number.MAX_SAFE_INTEGER)) throw new Stop('malformed', `length ${len} is impossible`, pos - 8);
    return Number(len);
  };
  const line = (op: number): Buffer => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw new Stop('truncated', `opcode 0x${op.toString(16)} has no end of line`, pos);
    const raw = bytes.subarray(pos, nl);
    pos = nl + 1;
    return raw;
  };
  const take = (n: number, op: number): Buffer => {
    need(n, op);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  /** Protocol 2 writes bytes as `_codecs.encode(text, 'latin1')`: the text's code points are the bytes. */
  const latin1Blob = (raw: Buffer, at: number): Buffer => {
    if (blobs.length < MAX_BLOBS && raw.length >= 2) {
      const decoded = raw.toString('utf8');
      // eslint-disable-next-line no-control-regex -- any code point up to U+00FF is one byte
      if (/^[\u0000-\u00ff]*$/.test(decoded)) blob(Buffer.from(decoded, 'latin1'), at);
    }
    return raw;
  };
  const text = (raw: Buffer, encoding: 'utf8' | 'latin1'): Val => (raw.length <= lim.pickleString ? raw.toString(encoding) : OTHER);

  const push = (value: Val): void => {
    if (stack.length + marks.length >= lim.pickleStack) throw new Stop('limit', `stack deeper than ${lim.pickleStack}`, pos);
    stack.push(value);
  };
  const base = (): number => marks[marks.length - 1] ?? 0;
  const pop = (op: number): Val => {
    if (stack.length <= base()) throw new Stop('malformed', `opcode 0x${op.toString(16)} pops an empty stack`, pos - 1);
    return stack.pop() as Val;
  };
  const top = (op: number): Val => {
    if (stack.length <= base()) throw new Stop('malformed', `opcode 0x${op.toString(16)} reads an empty stack`, pos - 1);
    return stack[stack.length - 1] as Val;
  };
  /** Pops back to the last MARK and returns the first value above it. */
  const popMark = (op: number): Val | undefined => {
    const mark = marks.pop();
    if (mark === undefined) throw new Stop('malformed', `opcode 0x${op.toString(16)} without a MARK`, pos - 1);
    const first = stack[mark];
    stack.length = mark;
    return first;
  };
  const memoGet = (key: number): void => {
    const value = memo.get(key);
    if (value === undefined && !memoFull) throw new Stop('malformed', `memo key ${key} was never stored`, pos);
    push(value ?? OTHER);
  };
  const memoPut = (key: number, op: number): void => {
    const value = top(op);
    if (!memo.has(key) && memo.size >= lim.pickleMemo) {
      if (!memoFull) findings.push({ kind: 'limit', severity: 'medium', ...at, offset: pos, detail: `pickle memo larger than ${lim.pickleMemo} entries: later memo values are unknown` });
      memoFull = true;
      return;
    }
    memo.set(key, value);
  };
  const addImport = (module: string, name: string, opcode: string, offset: number): number => {
    const key = `${module}\n${name}`;
    const known = importIndex.get(key);
    if (known !== undefined) {
      (imports[known] as { count: number }).count++;
      return known;
    }
    const cls = classifyImport(module, name);
    if (imports.length >= lim.pickleImports && cls !== 'dangerous') {
      if (!importsFull) findings.push({ kind: 'limit', severity: 'medium', ...at, offset, detail: `more than ${lim.pickleImports} distinct imports: only dangerous ones are listed after that` });
      importsFull = true;
      return OTHER;
    }
    imports.push({ module, name, class: cls, opcode, offset, count: 1, calledBy: [] });
    importIndex.set(key, imports.length - 1);
    return imports.length - 1;
  };
  const unresolvedImport = (opcode: string, offset: number, detail: string): void => {
    if (++unresolved <= 100) findings.push({ kind: 'unresolved-import', severity: 'high', ...at, offset, detail: `${opcode}: ${detail}` });
  };
  const called = (value: Val | undefined, opcode: string): void => {
    if (typeof value !== 'number' || value < 0) return;
    const imp = imports[value];
    if (imp && !imp.calledBy.includes(opcode)) imp.calledBy.push(opcode);
  };
  const globalFromLines = (opcode: string, op: number): number => {
    const offset = pos - 1;
    const module = line(op).toString('utf8');
    const name = line(op).toString('utf8');
    if (module.length === 0 || name.length === 0) throw new Stop('malformed', `${opcode} with an empty module or name`, offset);
    return addImport(module, name, opcode, offset);
  };

  try {
    while (pos < end && pickles < maxPickles) {
      // Legacy torch.save files hold exactly five pickles, each read by torch.load whatever its
      // first opcode (a protocol 0 pickle has no PROTO); elsewhere a later pickle is walked when its
      // first byte can start one, since a loader that reads again runs it just the same.
      if (pickles > 0 && !legacy && !startsPickle(bytes, pos)) break; // trailing data, not another pickle
      const pickleStart = pos;
      pickles++;
      stack.length = 0;
      marks.length = 0;
      memo.clear();
      memoFull = false;
      for (;;) {
        if (pos >= end) throw new Stop('truncated', 'pickle ends without STOP', pos);
        if (++opcodes > lim.pickleOpcodes) throw new Stop('limit', `more than ${lim.pickleOpcodes} opcodes`, pos);
        const opAt = pos;
        const op = bytes[pos++] as number;
        if (op === 0x2e) {
          // torch.load's legacy reader checks the first pickle's value, not its bytes: a magic
          // number in any encoding makes it read four more pickles, whatever they start with.
          if (pickles === 1 && !legacy && isTorchLegacyMagic(bytes.subarray(pickleStart, pos))) {
            legacy = true;
            maxPickles = TORCH_LEGACY_PICKLES;
          }
          break; // STOP
        }
        switch (op) {
          case 0x80: protocol = Math.max(protocol, u8(op)); if (protocol > 5) throw new Stop('malformed', `unsupported protocol ${protocol}`, opAt); break; // PROTO
          case 0x95: u64(op); break; // FRAME
          case 0x28: if (stack.length + marks.length >= lim.pickleStack) throw new Stop('limit', `stack deeper than ${lim.pickleStack}`, opAt); marks.push(stack.length); break; // MARK
          case 0x30: if (stack.length > base()) stack.pop(); else popMark(op); break; // POP
          case 0x31: popMark(op); break; // POP_MARK
          case 0x32: push(top(op)); break; // DUP
          case 0x46: case 0x49: case 0x4c: line(op); push(OTHER); break; // FLOAT INT LONG
          case 0x4a: i32(op); push(OTHER); break; // BININT
          case 0x4b: u8(op); push(OTHER); break; // BININT1
          case 0x4d: u16(op); push(OTHER); break; // BININT2
          case 0x47: take(8, op); push(OTHER); break; // BINFLOAT
          case 0x8a: take(u8(op), op); push(OTHER); break; // LONG1
          case 0x8b: { const n = i32(op); if (n < 0) throw new Stop('malformed', 'LONG4 with a negative length', opAt); take(n, op); push(OTHER); break; }
          case 0x4e: case 0x88: case 0x89: push(OTHER); break; // NONE NEWTRUE NEWFALSE
          case 0x53: { const quoted = decodeQuotedString(line(op)); if (quoted === undefined) throw new Stop('malformed', 'STRING argument is not quoted', opAt); push(quoted.length <= lim.pickleString ? quoted : OTHER); break; }
          case 0x54: { const n = i32(op); if (n < 0) throw new Stop('malformed', 'BINSTRING with a negative length', opAt); push(text(blob(take(n, op), opAt), 'latin1')); break; }
          case 0x55: push(text(blob(take(u8(op), op), opAt), 'latin1')); break; // SHORT_BINSTRING
          case 0x56: { const raw = line(op); push(raw.length <= lim.pickleString ? decodeRawUnicodeEscape(raw) : OTHER); break; } // UNICODE
          case 0x58: push(text(latin1Blob(take(u32(op), op), opAt), 'utf8')); break; // BINUNICODE
          case 0x8c: push(text(take(u8(op), op), 'utf8')); break; // SHORT_BINUNICODE
          case 0x8d: push(text(latin1Blob(take(u64(op), op), opAt), 'utf8')); break; // BINUNICODE8
          case 0x42: blob(take(u32(op), op), opAt); push(OTHER); break; // BINBYTES
          case 0x43: blob(take(u8(op), op), opAt); push(OTHER); break; // SHORT_BINBYTES
          case 0x8e: case 0x96: blob(take(u64(op), op), opAt); push(OTHER); break; // BINBYTES8 BYTEARRAY8
          case 0x97: push(OTHER); break; // NEXT_BUFFER
          case 0x98: top(op); break; // READONLY_BUFFER
          case 0x50: line(op); persistentIds++; push(OTHER); break; // PERSID
          case 0x51: pop(op); persistentIds++; push(OTHER); break; // BINPERSID
          case 0x29: case 0x5d: case 0x7d: case 0x8f: push(OTHER); break; // EMPTY_TUPLE EMPTY_LIST EMPTY_DICT EMPTY_SET
          case 0x74: case 0x6c: case 0x64: case 0x91: popMark(op); push(OTHER); break; // TUPLE LIST DICT FROZENSET
          case 0x85: pop(op); push(OTHER); break; // TUPLE1
          case 0x86: pop(op); pop(op); push(OTHER); break; // TUPLE2
          case 0x87: pop(op); pop(op); pop(op); push(OTHER); break; // TUPLE3
          case 0x61: pop(op); top(op); break; // APPEND
          case 0x73: pop(op); pop(op); top(op); break; // SETITEM
          case 0x65: case 0x75: case 0x90: popMark(op); top(op); break; // APPENDS SETITEMS ADDITEMS
          case 0x62: pop(op); top(op); break; // BUILD
          case 0x63: push(globalFromLines('GLOBAL', op)); break;
          case 0x69: { const callable = globalFromLines('INST', op); popMark(op); called(callable, 'INST'); push(OTHER); break; }
          case 0x93: { // STACK_GLOBAL
            const name = pop(op);
            const module = pop(op);
            if (typeof module === 'string' && typeof name === 'string') push(addImport(module, name, 'STACK_GLOBAL', opAt));
            else {
              unresolvedImport('STACK_GLOBAL', opAt, 'module or name is not a constant string (computed, bytes, or lost from the memo)');
              push(OTHER);
            }
            break;
          }
          case 0x82: case 0x83: case 0x84: { // EXT1 EXT2 EXT4
            const code = op === 0x82 ? u8(op) : op === 0x83 ? u16(op) : i32(op);
            unresolvedImport('EXT', opAt, `extension code ${code} names an import registered at load time`);
            push(OTHER);
            break;
          }
          case 0x52: { pop(op); called(pop(op), 'REDUCE'); push(OTHER); break; } // REDUCE
          case 0x81: { pop(op); called(pop(op), 'NEWOBJ'); push(OTHER); break; } // NEWOBJ
          case 0x92: { pop(op); pop(op); called(pop(op), 'NEWOBJ_EX'); push(OTHER); break; } // NEWOBJ_EX
          case 0x6f: { called(popMark(op), 'OBJ'); push(OTHER); break; } // OBJ
          case 0x67: { const key = pythonInt(line(op)); if (key === undefined) throw new Stop('malformed', 'GET with a key Python would not read', opAt); memoGet(key); break; }
          case 0x68: memoGet(u8(op)); break; // BINGET
          case 0x6a: memoGet(u32(op)); break; // LONG_BINGET
          case 0x70: { const key = pythonInt(line(op)); if (key === undefined || key < 0) throw new Stop('malformed', 'PUT with a key Python would not read', opAt); memoPut(key, op); break; }
          case 0x71: memoPut(u8(op), op); break; // BINPUT
          case 0x72: memoPut(u32(op), op); break; // LONG_BINPUT
          case 0x94: memoPut(memo.size, op); break; // MEMOIZE
          default: throw new Stop('malformed', `unknown opcode 0x${op.toString(16)}`, opAt);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    if (e.why === 'truncated' && !complete) {
      needsMore = true;
      findings.push({ kind: 'limit', severity: 'medium', ...at, offset: e.at, detail: `pickle is longer than the ${end} bytes inspected: the rest was not walked` });
    } else if (e.why === 'limit') {
      findings.push({ kind: 'limit', severity: 'medium', ...at, offset: e.at, detail: `pickle walk stopped: ${e.message}` });
    } else {
      // Where the walk breaks, Python may not (or may run what it read first): what follows is
      // unread, so a break fails closed — high, which the gate denies.
      findings.push({ kind: 'malformed', severity: 'high', ...at, offset: e.at, detail: `pickle breaks at byte ${e.at}: ${e.message}; imports before the break are reported, nothing after it was read` });
    }
  }
  if (unresolved > 100) findings.push({ kind: 'unresolved-import', severity: 'high', ...at, detail: `${unresolved - 100} more unresolved imports` });
  findings.push(...nestedPickles(imports, blobs, opts, lim));
  findings.unshift(...importFindings(imports, at));
  return { findings, needsMore, end: pos, meta: { protocol, pickles, opcodes, bytes: end, imports, persistentIds } };
}

/**
 * A pickle that hands bytes it carries to a loader (torch.storage._load_from_bytes runs
 * torch.load on them, weights_only=False) runs whatever pickle those bytes hold: each bytes
 * constant that starts like a pickle is walked too, to {@link MAX_NESTED} levels. The loader
 * itself stays off the allow-list, so the gate denies it whatever the bytes are.
 */
function nestedPickles(imports: readonly PickleImport[], blobs: readonly { at: number; bytes: Buffer }[], opts: PickleWalkOptions, lim: InspectLimits): Finding[] {
  if (!imports.some((imp) => BYTES_LOADERS.has(`${imp.module}.${imp.name}`))) return [];
  const depth = opts.depth ?? 0;
  const out: Finding[] = [];
  for (const blob of blobs) {
    if (!startsPickle(blob.bytes, 0)) continue;
    const path = `${opts.path ?? ''}!bytes@${blob.at}`;
    if (depth + 1 > MAX_NESTED) {
      out.push({ kind: 'limit', severity: 'high', path, detail: `pickle inside a pickle nested deeper than ${MAX_NESTED}: not walked` });
      continue;
    }
    const inner = walkPickle(blob.bytes, { path, limits: lim, depth: depth + 1 });
    out.push(...inner.findings.map((finding) => (finding.kind === 'malformed' ? { ...finding, severity: 'low' as const } : finding)));
  }
  return out;
}

function importFindings(imports: readonly PickleImport[], at: { path?: string }): Finding[] {
  const out: Finding[] = [];
  for (const imp of imports) {
    if (imp.class === 'allowed') continue;
    const calls = imp.calledBy.length > 0 ? `, called by ${imp.calledBy.join(', ')}` : '';
    const detail = `${imp.module}.${imp.name} imported by ${imp.opcode} at byte ${imp.offset}${calls}`;
    out.push(imp.class === 'dangerous'
      ? { kind: 'dangerous-import', severity: 'critical', ...at, offset: imp.offset, detail }
      : { kind: 'suspicious-import', severity: 'medium', ...at, offset: imp.offset, detail });
  }
  return out.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'dangerous-import' ? -1 : 1));
}

const FIRST_PICKLE_READ = 1024 * 1024;

/**
 * Walks the pickle stream that starts at `offset` of a source, read as a growing prefix (1 MiB,
 * doubled up to `pickleBytes`): a legacy torch.save file of gigabytes, or a NumPy object
 * array, has its pickle in the first bytes. Offsets in findings are the walk's own.
 */
export async function walkPickleSource(source: ByteSource, lim: InspectLimits, offset = 0, path?: string): Promise<PickleWalk> {
  const size = Math.max(0, source.size - offset);
  const cap = Math.min(lim.pickleBytes, size);
  for (let want = Math.min(FIRST_PICKLE_READ, cap); ; want = Math.min(want * 2, cap)) {
    const bytes = await source.read(offset, want);
    const walk = walkPickle(bytes, { complete: bytes.length === size, limits: lim, ...(path === undefined ? {} : { path }) });
    if (!walk.needsMore || want >= cap) return walk;
  }
}
