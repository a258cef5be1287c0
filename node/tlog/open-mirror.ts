import { join } from 'node:path';
import type { TrustGraph } from '../../src/reputation/trust-graph.js';
import type { HomePaths } from '../home/home.js';
import type { LocalNode } from '../local/local-node.js';
import { Mirror } from './mirror.js';
import { WitnessPolicyFile } from './witness-policy-file.js';
import { ChorusError } from '../../src/errors.js';

/**
 * Opens the mirror of issuer logs in log/mirror and wires it to the node: what commits and
 * collections change, who counts (the trust graph's counting issuers, computed once per
 * graph), and what an equivocation does (by default: the issuer stops counting, SPEC §16.5).
 */
export async function openMirror(home: HomePaths, node: LocalNode): Promise<Mirror> {
  let counted: { graph: TrustGraph; set: ReadonlySet<string> } | undefined;
  const counting = (): ReadonlySet<string> => {
    const g = node.trustState.last;
    if (g === undefined) return new Set();
    if (counted?.graph !== g) counted = { graph: g, set: g.counting() };
    return counted.set;
  };
  // The witness policy (c2sp.org/tlog-policy), when the operator wrote one; a bad one at start is an error.
  const policyFile = new WitnessPolicyFile(join(home.root, 'witness-policy'));
  policyFile.current();
  if (policyFile.problem !== undefined) throw new ChorusError('bad_input', `${join(home.root, 'witness-policy')}: ${policyFile.problem}`);
  const mirror = await Mirror.open(join(home.root, 'log', 'mirror'), { store: node.store, suite: node.suite, identity: node.identity, config: node.config.transparency, counting, refresh: () => node.trust(), policy: () => policyFile.current() });
  node.ingestor.onCommitted((ds) => mirror.committed(ds));
  node.store.onRemoved((rs, reason) => mirror.removed(rs, reason));
  const exclude = (): void => {
    if (node.config.transparency.equivocators !== 'exclude') return;
    node.trustState.exclude(new Map([...mirror.equivocators()].map((did) => [did, 'caught signing two histories (an equivocation proof, SPEC §16.5)'])));
  };
  mirror.onEquivocation(exclude);
  exclude();
  node.attachMirror(mirror);
  return mirror;
}
