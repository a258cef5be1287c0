import { readFileSync, statSync } from 'node:fs';
import { parseWitnessPolicy, type WitnessPolicy } from '../../src/tlog/policy.js';

/**
 * The witness policy file (`witness-policy` in the data dir, c2sp.org/tlog-policy format),
 * re-read when it changes (looked at at most every 5 s). A damaged file after a good one
 * keeps the good one and says why in `problem`; none: undefined (the config's witnesses
 * and quorum apply).
 */
export class WitnessPolicyFile {
  private loaded: { mtimeMs: number; policy: WitnessPolicy } | undefined;
  private checkedAt = 0;
  problem: string | undefined;

  constructor(private readonly path: string) {}

  current(): WitnessPolicy | undefined {
    const now = Date.now();
    if (now - this.checkedAt < 5_000 && this.checkedAt !== 0) return this.loaded?.policy;
    this.checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      this.loaded = undefined;
      this.problem = undefined;
      return undefined;
    }
    if (this.loaded?.mtimeMs === mtimeMs) return this.loaded.policy;
    try {
      this.loaded = { mtimeMs, policy: parseWitnessPolicy(readFileSync(this.path, 'utf8')) };
      this.problem = undefined;
    } catch (e) {
      this.problem = (e as Error).message;
    }
    return this.loaded?.policy;
  }
}
