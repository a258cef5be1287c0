import { Command } from 'commander';
import { loadIdentity } from '../../home/identity.js';
import { action, type Cli } from '../context.js';

export function idCommand(cli: Cli): Command {
  return new Command('id')
    .description("print this node's issuer id (did:key)")
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const home = cli.home();
      const id = await loadIdentity(home.key);
      if (opts.json) cli.json({ did: id.did, publicKey: Buffer.from(id.publicKey).toString('hex'), home: home.root });
      else cli.out(id.did);
    }));
}
