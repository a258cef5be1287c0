import { Command } from 'commander';
import { isChorusError } from '../../../src/errors.js';
import { initHome } from '../../home/home.js';
import { loadIdentity } from '../../home/identity.js';
import { action, type Cli } from '../context.js';

export function initCommand(cli: Cli): Command {
  return new Command('init')
    .description('create the data dir: an Ed25519 identity (key file mode 0600), an API token, config and trust list; on a data dir that has them, a no-op that says so')
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const home = cli.home();
      try {
        const id = await initHome(home);
        if (opts.json) cli.json({ did: id.did, home: home.root, created: true });
        else cli.out(`initialised ${home.root}\nyour issuer id: ${id.did}`);
      } catch (e) {
        // Already initialised (`npm start` does it first): nothing to do, and nothing changed.
        if (!isChorusError(e, 'already_initialized')) throw e;
        const id = await loadIdentity(home.key);
        if (opts.json) cli.json({ did: id.did, home: home.root, created: false });
        else cli.out(`already initialised: ${home.root} holds the identity ${id.did}; nothing was changed`);
      }
    }));
}
