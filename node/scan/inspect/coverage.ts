import type { Finding, ModelFormat } from './types.js';

/**
 * What inspection established about one file — the three outcomes of SPEC §15:
 * - `inspected`: every part a loader reads was read; its findings (maybe none) are the answer;
 * - `not-inspected`: a format or part this scanner does not read: nothing is known of it;
 * - `limit`: a bound stopped inspection: what follows it was not read.
 * Only `inspected` with no finding may be called (and signed) clean.
 */
export type CoverageState = 'inspected' | 'not-inspected' | 'limit';

export interface Coverage {
  readonly state: CoverageState;
  /** Why it is not `inspected`: the not-inspected and limit findings' details. */
  readonly reasons: readonly string[];
  /** Whether the format can make its loader run code, so an unread part must be denied. */
  readonly codeCapable: boolean;
}

/** Formats whose loaders can run code (pickles, Keras configs, graphs, templates) or that wrap such files. */
const CODE_FORMATS: ReadonlySet<ModelFormat> = new Set(['pickle', 'pytorch-zip', 'zip', 'tar', 'npy', 'hdf5', 'savedmodel', '7z', 'compressed', 'gguf', 'onnx']);

/**
 * Names that a loader which runs code opens: a file of no known content with one of these names
 * (a pickle in disguise, a format this scanner does not read: a text-format SavedModel
 * `.pbtxt`, a `.meta` graph, a `.weights` HDF5) is denied, not passed; so are native
 * libraries a graph loads. (A `.py` is denied when a config's auto_map names it: scan.ts.)
 * Content decides the format; the name only says what will try to load it.
 */
const CODE_NAME = /\.(?:pt|pth|bin|pkl|pickle|ckpt|joblib|jbl|dill|cloudpkl|h5|hdf5|keras|pb|npy|npz|mar|nemo|7z|gz|bz2|xz|lzma|zst|onnx|gguf|ggml|pdparams|llamafile|sav|pbtxt|meta|cpb|weights|so|dylib|dll)$/i;

/** The outcome of one file's inspection; `name` only matters for content no format claims. */
export function coverageOf(format: ModelFormat, findings: readonly Finding[], name: string): Coverage {
  const notRead = findings.filter((f) => f.kind === 'not-inspected' || f.kind === 'unreadable');
  const limits = findings.filter((f) => f.kind === 'limit');
  const codeCapable = format === 'unknown' ? CODE_NAME.test(name) : CODE_FORMATS.has(format);
  if (format === 'unknown' || notRead.length > 0) {
    const reasons = notRead.map((f) => f.detail);
    if (format === 'unknown' && reasons.length === 0) reasons.push('its content is in no format this scanner reads');
    return { state: 'not-inspected', reasons, codeCapable };
  }
  if (limits.length > 0) return { state: 'limit', reasons: limits.map((f) => f.detail), codeCapable };
  return { state: 'inspected', reasons: [], codeCapable };
}
