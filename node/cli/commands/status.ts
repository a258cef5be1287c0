import { Command } from 'commander';
import { action, type Cli } from '../context.js';
import { VERSION } from '../../version.js';

export function statusCommand(cli: Cli): Command {
  return new Command('status')
    .description("show this node's identity, store counts and trust list size")
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withNode(async (node) => {
        const policy = await node.trustPolicy();
        const s = {
          version: VERSION,
          did: node.identity.did,
          home: node.home.root,
          attestations: node.store.size,
          lastSeq: node.store.lastSeq,
          storeBytes: await node.store.diskBytes(),
          trustedIssuers: policy.trusted.size,
        };
        if (opts.json) cli.json(s);
        else cli.out(Object.entries(s).map(([k, v]) => `${k.padEnd(15)} ${v}`).join('\n'));
      });
    }));
}
