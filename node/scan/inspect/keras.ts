import type { InspectLimits } from './constants.js';
import { classifyImport } from './pickle-imports.js';
import type { Finding } from './types.js';

/** Names a Keras v3 archive (`.keras`) holds beside its config. */
export const KERAS_MARKERS = ['metadata.json', 'model.weights.h5', 'model.weights.npz'];

/** Modules a Keras config names for its own layers, losses and the like. */
const KERAS_MODULE = /^(?:keras|tf_keras|tensorflow\.keras|keras_hub|keras_nlp|keras_cv)(?:\.|$)/;

/**
 * Inspects the `config.json` of a Keras archive statically (parsed as JSON, nothing
 * deserialized). Reports what Keras would run on load:
 * - a `Lambda` layer: its `function` is marshalled Python bytecode (or a named function),
 *   run when the model is loaded with `safe_mode=False` (and by Keras before 3.0 always);
 * - an object whose `module` is not Keras's own: Keras versions before 3.9 import it and call
 *   what the config names even in safe mode (CVE-2025-1550). Judged like a pickle import.
 * Iterative and bounded by `kerasConfigDepth`; never throws.
 */
export function inspectKerasConfig(bytes: Buffer, lim: InspectLimits, path: string): Finding[] {
  const findings: Finding[] = [];
  let config: unknown;
  try {
    config = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return [{ kind: 'malformed', severity: 'high', path, detail: `Keras config is not JSON: ${(e as Error).message.slice(0, 200)}` }];
  }
  let lambdas = 0;
  const seen = new Set<string>();
  const stack: { v: unknown; depth: number }[] = [{ v: config, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (v === null || typeof v !== 'object') continue;
    if (depth > lim.kerasConfigDepth) {
      findings.push({ kind: 'limit', severity: 'medium', path, detail: `Keras config nested deeper than ${lim.kerasConfigDepth}: the rest was not inspected` });
      break;
    }
    if (Array.isArray(v)) {
      for (const x of v) stack.push({ v: x, depth: depth + 1 });
      continue;
    }
    const o = v as Record<string, unknown>;
    if (o['class_name'] === 'Lambda') {
      lambdas++;
      if (lambdas <= 20) {
        const layer = (o['config'] as { name?: unknown } | undefined)?.name;
        findings.push({ kind: 'embedded-code', severity: 'high', path, detail: `Lambda layer${typeof layer === 'string' ? ` ${JSON.stringify(layer.slice(0, 100))}` : ''}: its function is Python code that Keras runs when the model is loaded with safe_mode off` });
      }
    }
    const module = o['module'];
    const name = typeof o['class_name'] === 'string' ? o['class_name'] : typeof o['registered_name'] === 'string' ? o['registered_name'] : undefined;
    if (typeof module === 'string' && name !== undefined && !KERAS_MODULE.test(module)) {
      const key = `${module}\u0000${name}`;
      if (!seen.has(key) && seen.size < lim.pickleImports) {
        seen.add(key);
        const cls = classifyImport(module, name);
        const what = `Keras config names ${module.slice(0, 200)}.${name.slice(0, 200)}, outside Keras: Keras before 3.9 imports and calls it on load, even in safe mode`;
        if (cls === 'dangerous') findings.push({ kind: 'dangerous-import', severity: 'critical', path, detail: what });
        else if (cls === 'suspicious') findings.push({ kind: 'suspicious-import', severity: 'medium', path, detail: what });
      }
    }
    for (const x of Object.values(o)) if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1 });
  }
  if (lambdas > 20) findings.push({ kind: 'embedded-code', severity: 'high', path, detail: `and ${lambdas - 20} more Lambda layers` });
  return findings;
}
