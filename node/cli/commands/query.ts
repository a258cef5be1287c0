import { Command } from 'commander';
import { baselineView, type ReputationView } from '../../../src/reputation/baseline-view.js';
import type { LocalNode } from '../../local/local-node.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatView } from '../format.js';
import { resolveSubject } from '../subjects.js';

/** The node's reputation view of one digest (the store read + the pure view). */
export async function viewOf(node: LocalNode, digest: string, now = Date.now()): Promise<ReputationView> {
  const page = await node.store.bySubject(digest);
  return baselineView(digest, page.items, await node.trustPolicy(), now);
}

export function queryCommand(cli: Cli): Command {
  return new Command('query')
    .description("show this node's reputation view of a model: every attestation, whether it counts, and a verdict")
    .argument('<digest|path>', 'model digest (sha256:<hex> or hex) or a model file/directory to hash')
    .option('--json', 'print the view with its evidence as JSON')
    .option('--allow-symlinks', 'follow symbolic links when hashing a directory')
    .addHelpText('after', '\nExit status: 0 when the view is ok, caution or unknown; 3 when it is flagged.')
    .action(action(async (target: string, opts: { json?: boolean; allowSymlinks?: boolean }) => {
      const subject = await resolveSubject(target, { allowSymlinks: opts.allowSymlinks ?? false });
      return cli.withNode(async (node) => {
        const view = await viewOf(node, subject.digest.sha256);
        if (opts.json) cli.json(view);
        else cli.out(formatView(view, node.identity.did));
        return view.status === 'flagged' ? EXIT.flagged : EXIT.ok;
      });
    }));
}
