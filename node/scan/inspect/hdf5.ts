import type { InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';
import type { Finding } from './types.js';

/** What inspecting an HDF5 file found. `meta` holds format facts (the Keras version, layer count…). */
export interface Hdf5Inspection {
  readonly findings: Finding[];
  readonly meta: Record<string, unknown>;
}

/**
 * Inspects an HDF5 file (legacy Keras `.h5`): placeholder until the reader lands — nothing
 * is read, so the file is `not-inspected` (Keras runs a Lambda layer's code from it).
 */
export async function inspectHdf5(source: ByteSource, lim: InspectLimits): Promise<Hdf5Inspection> {
  void source;
  void lim;
  return { findings: [{ kind: 'not-inspected', severity: 'high', detail: 'HDF5 is not read by this scanner: a legacy Keras .h5 model can carry a Lambda layer\'s code' }], meta: {} };
}
