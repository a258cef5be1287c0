import { Command } from 'commander';
import { initHome } from '../../home/home.js';
import { action, type Cli } from '../context.js';

export function initCommand(cli: Cli): Command {
  return new Command('init')
    .description('create the data dir: an Ed25519 identity (key file mode 0600), an API token, config and trust list')
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const home = cli.home();
      const id = await initHome(home);
      if (opts.json) cli.json({ did: id.did, home: home.root });
      else cli.out(`initialised ${home.root}\nyour issuer id: ${id.did}`);
    }));
}
