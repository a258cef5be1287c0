import { Command } from 'commander';
import { loadIdentity } from '../../home/identity.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatView } from '../format.js';
import { resolveSubject } from '../subjects.js';

export function queryCommand(cli: Cli): Command {
  return new Command('query')
    .description("show this node's reputation view of a model: every attestation, whether it counts, and a verdict")
    .argument('<digest|path>', 'model digest (sha256:<hex> or hex) or a model file/directory to hash')
    .option('--json', 'print the view with its evidence as JSON')
    .option('--allow-symlinks', 'follow symbolic links when hashing a directory')
    .option('--no-lookup', 'do not ask the network when the node holds nothing about the digest')
    .addHelpText('after', '\nExit status: 0 when the view is ok, caution or unknown; 3 when it is flagged.')
    .action(action(async (target: string, opts: { json?: boolean; allowSymlinks?: boolean; lookup: boolean }) => {
      const subject = await resolveSubject(target, { allowSymlinks: opts.allowSymlinks ?? false });
      return cli.withClient(async (client) => {
        const view = await client.view(subject.digest.sha256, { lookup: opts.lookup });
        if (opts.json) cli.json(view);
        else cli.out(formatView(view, (await loadIdentity(cli.home().key).catch(() => undefined))?.did));
        return view.status === 'flagged' ? EXIT.flagged : EXIT.ok;
      });
    }));
}
