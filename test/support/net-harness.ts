import { QUIET, TestNet } from './test-net.js';

export { metricValue } from './test-net.js';

/**
 * The network attack tests' harness: the one test network (test-net.ts) with DHT, AutoNAT
 * and relay off unless a test turns them on.
 */
export class NetHarness extends TestNet {
  constructor(defaults: Record<string, unknown> = {}) {
    super({ ...QUIET, ...defaults });
  }
}
