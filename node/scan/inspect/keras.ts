import type { InspectLimits } from './constants.js';
import { classifyImport } from './pickle-imports.js';
import type { Finding } from './types.js';

/** Names a Keras v3 archive (`.keras`) holds beside its config. */
export const KERAS_MARKERS = ['metadata.json', 'model.weights.h5', 'model.weights.npz'];

/** Modules a Keras config names for its own layers, losses and the like. */
const KERAS_MODULE = /^(?:keras|tf_keras|tensorflow\.keras|keras_hub|keras_nlp|keras_cv)(?:\.|$)/;

/** TensorFlow symbols a TFOpLambda may name: operators, math, nn, linalg and array ops. */
const TF_OP_ALLOWED = /^(?:__operators__\.\w+|(?:math|nn|linalg|signal|bitwise|sparse|ragged|strings)\.\w+|compat\.v1\.(?:math|nn)\.\w+|(?:reshape|concat|stack|unstack|expand_dims|squeeze|transpose|split|gather|gather_nd|tile|shape|cast|where|zeros_like|ones_like|zeros|ones|fill|slice|strided_slice|broadcast_to|clip_by_value|identity|range|one_hot|pad|einsum|argmax|argmin|boolean_mask|repeat|reverse|roll|sort|argsort|matmul|size|rank|norm|meshgrid|sequence_mask|stop_gradient|convert_to_tensor|abs|add|add_n|multiply|subtract|divide|maximum|minimum|pow|sqrt|exp|square|tanh|sigmoid|reduce_sum|reduce_mean|reduce_max|reduce_min|reduce_prod|reduce_any|reduce_all|cumsum|linspace|eye|scatter_nd|tensor_scatter_nd_update|unique|searchsorted|histogram_fixed_width|cond|while_loop|map_fn|vectorized_map)$)/;

/** Keras's own callables that a config can reach and that touch files or turn safety off. */
const KERAS_DENIED = /(?:^|\.)(?:get_file|enable_unsafe_deserialization|load_model|load_weights)$|^keras(?:\.src)?\.utils\.file_utils\./;

/** config.json as Python's json.loads reads it (NaN and Infinity become numbers); throws if it is not JSON. */
function parseConfigOrThrow(bytes: Buffer): unknown {
  // NaN, Infinity and -Infinity outside strings are Python's; numbers stand in for them.
  return JSON.parse(decodeJsonBytes(bytes).replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) => (m.startsWith('"') ? m : '0')));
}

/**
 * JSON bytes as Python's json.loads reads them (json.detect_encoding): a BOM names UTF-32,
 * UTF-16 or UTF-8; without one, where the NUL bytes fall among the first four says UTF-32 or
 * UTF-16, big- or little-endian.
 */
function decodeJsonBytes(bytes: Buffer): string {
  const b = (i: number): number => bytes[i] ?? 0;
  if (bytes.length >= 4 && b(0) === 0 && b(1) === 0 && b(2) === 0xfe && b(3) === 0xff) return utf32(bytes.subarray(4), false);
  if (bytes.length >= 4 && b(0) === 0xff && b(1) === 0xfe && b(2) === 0 && b(3) === 0) return utf32(bytes.subarray(4), true);
  if (b(0) === 0xff && b(1) === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (b(0) === 0xfe && b(1) === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  if (bytes.length >= 4) {
    if (b(0) === 0) return b(1) !== 0 ? new TextDecoder('utf-16be').decode(bytes) : utf32(bytes, false);
    if (b(1) === 0) return b(2) !== 0 || b(3) !== 0 ? new TextDecoder('utf-16le').decode(bytes) : utf32(bytes, true);
  } else if (bytes.length === 2) {
    if (b(0) === 0) return new TextDecoder('utf-16be').decode(bytes);
    if (b(1) === 0) return new TextDecoder('utf-16le').decode(bytes);
  }
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** UTF-32 text (TextDecoder has no UTF-32); a code point past U+10FFFF becomes U+FFFD. */
function utf32(bytes: Buffer, littleEndian: boolean): string {
  const parts: string[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const cp = littleEndian ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i);
    parts.push(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\ufffd');
  }
  return parts.join('');
}

/**
 * Inspects the `config.json` of a Keras archive statically (parsed as JSON, nothing
 * deserialized). Reports what Keras would run on load:
 * - a `Lambda` layer, or any `__lambda__` function (a loss, a metric…): marshalled Python
 *   bytecode, run when the model is loaded with `safe_mode=False` (and by Keras before 3.0);
 * - a `TorchModuleWrapper`: its module is a torch.save pickle that Keras torch.loads;
 * - an object whose `module` is not Keras's own, judged like a pickle import by every name
 *   Keras may take from it (`class_name`, `registered_name`, a function's `config`): Keras
 *   before 3.9 imports it and calls it even in safe mode (CVE-2025-1550);
 * - Keras's own callables that fetch files or turn safety off (`get_file`, CVE-2025-8747).
 * Python's JSON extras (NaN, Infinity, a BOM) are read as Python reads them. Iterative and
 * bounded by `kerasConfigDepth` (a deeper branch is skipped, and said so); never throws.
 */
export function inspectKerasConfig(bytes: Buffer, lim: InspectLimits, path: string): Finding[] {
  const findings: Finding[] = [];
  let config: unknown;
  try {
    config = parseConfigOrThrow(bytes);
  } catch (e) {
    return [{ kind: 'malformed', severity: 'high', path, detail: `Keras config is not JSON: ${(e as Error).message.slice(0, 200)}` }];
  }
  let code = 0;
  let tooDeep = false;
  let tooMany = false;
  const seen = new Set<string>();
  const stack: { v: unknown; depth: number }[] = [{ v: config, depth: 0 }];
  const embedded = (detail: string): void => {
    if (++code <= 20) findings.push({ kind: 'embedded-code', severity: 'high', path, detail });
  };
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (v === null || typeof v !== 'object') continue;
    if (depth > lim.kerasConfigDepth) {
      tooDeep = true;
      continue;
    }
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1 });
      continue;
    }
    const o = v as Record<string, unknown>;
    const cls = typeof o['class_name'] === 'string' ? o['class_name'] : undefined;
    const reg = typeof o['registered_name'] === 'string' ? o['registered_name'] : undefined;
    const layer = (o['config'] as { name?: unknown } | undefined)?.name;
    const named = typeof layer === 'string' ? ` ${JSON.stringify(layer.slice(0, 100))}` : '';
    if (cls === '__lambda__') embedded('a __lambda__ function: marshalled Python bytecode that Keras runs when the model is loaded with safe_mode off');
    else if ((cls !== undefined && /(?:^|\.)Lambda$/.test(cls)) || reg === 'Lambda') embedded(`Lambda layer${named}: its function is Python code that Keras runs when the model is loaded with safe_mode off`);
    // tf.keras rebuilds a TFOpLambda / SlicingOpLambda by looking its `function` up among
    // TensorFlow's public symbols (get_symbol_from_name): any of them, file and network ones
    // included. Allowed: the tensor arithmetic these layers exist for.
    if (cls !== undefined && /(?:^|\.)(?:TFOpLambda|SlicingOpLambda)$/.test(cls)) {
      const fn = (o['config'] as { function?: unknown } | undefined)?.function;
      if (typeof fn !== 'string' || !TF_OP_ALLOWED.test(fn)) {
        findings.push({ kind: 'suspicious-import', severity: 'high', path, detail: `${cls}${named} calls TensorFlow's ${typeof fn === 'string' ? JSON.stringify(fn.slice(0, 200)) : 'unnamed function'}, not tensor arithmetic: tf.keras looks it up among all of TensorFlow's public symbols` });
      }
    }
    if ((cls !== undefined && /(?:^|\.)TorchModuleWrapper$/.test(cls)) || reg === 'TorchModuleWrapper') embedded(`TorchModuleWrapper${named}: its module is a torch.save pickle that Keras torch.loads when the model is loaded with safe_mode off`);
    const module = o['module'];
    if (typeof module === 'string') {
      const names = [cls, reg, cls === 'function' && typeof o['config'] === 'string' ? o['config'] : undefined]
        .filter((n): n is string => n !== undefined && n !== '__lambda__' && n !== '');
      let worst: { kind: 'dangerous-import' | 'suspicious-import'; what: string } | undefined;
      for (const name of new Set(names)) {
        const full = `${module}.${name}`;
        const key = `${module}\u0000${name}`;
        let judged: 'dangerous' | 'suspicious' | 'allowed';
        if (KERAS_MODULE.test(module)) judged = KERAS_DENIED.test(full) ? 'dangerous' : 'allowed';
        else judged = classifyImport(module, name);
        if (judged === 'allowed') continue;
        if (seen.has(key)) continue;
        if (seen.size >= lim.pickleImports) {
          tooMany = true;
          if (judged !== 'dangerous') continue; // past the cap, only what is dangerous is still reported
        } else seen.add(key);
        if (judged === 'dangerous') worst = { kind: 'dangerous-import', what: full };
        else if (worst === undefined) worst = { kind: 'suspicious-import', what: full };
      }
      if (worst !== undefined) {
        const what = `Keras config names ${worst.what.slice(0, 400)}${KERAS_MODULE.test(module) ? ', which fetches files or turns safety off' : ', outside Keras: Keras before 3.9 imports and calls it on load, even in safe mode'}`;
        findings.push({ kind: worst.kind, severity: worst.kind === 'dangerous-import' ? 'critical' : 'medium', path, detail: what });
      }
    }
    for (const x of Object.values(o)) if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1 });
  }
  if (code > 20) findings.push({ kind: 'embedded-code', severity: 'high', path, detail: `and ${code - 20} more Lambda or __lambda__ functions` });
  if (tooDeep) findings.push({ kind: 'limit', severity: 'medium', path, detail: `Keras config nested deeper than ${lim.kerasConfigDepth}: those branches were not inspected` });
  if (tooMany) findings.push({ kind: 'limit', severity: 'medium', path, detail: `more than ${lim.pickleImports} distinct names outside Keras: past that only dangerous ones are reported` });
  return findings;
}
