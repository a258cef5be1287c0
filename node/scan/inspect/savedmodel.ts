import type { InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';
import type { Finding } from './types.js';

/** What inspecting a TensorFlow SavedModel (`saved_model.pb`) found. */
export interface SavedModelInspection {
  readonly findings: Finding[];
  readonly meta: Record<string, unknown>;
}

/** Whether bytes are a TensorFlow SavedModel protobuf: placeholder until the reader lands. */
export async function isSavedModel(source: ByteSource): Promise<boolean> {
  void source;
  return false;
}

/** Inspects a SavedModel's graphs: placeholder until the reader lands (not inspected). */
export async function inspectSavedModel(source: ByteSource, lim: InspectLimits): Promise<SavedModelInspection> {
  void source;
  void lim;
  return { findings: [{ kind: 'not-inspected', severity: 'high', detail: 'TensorFlow SavedModel graphs are not read by this scanner: a graph can run Python (PyFunc) or touch files' }], meta: {} };
}
