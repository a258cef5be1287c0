import { Command } from 'commander';
import { loadTrust, trustAdd, trustRemove } from '../../home/trust-list.js';
import { loadIdentity } from '../../home/identity.js';
import { loadConfig } from '../../home/config.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function trustCommand(cli: Cli): Command {
  const trust = new Command('trust').description("manage whose attestations count in this node's view");
  trust
    .command('add')
    .description('trust an issuer')
    .argument('<did>', "the issuer's did:key")
    .option('--note <text>', 'why you trust them (shown in listings)')
    .action(action(async (did: string, opts: { note?: string }) => {
      const added = await trustAdd(cli.home().trust, did, opts.note, new Date());
      cli.out(added ? `trusted ${did}` : `${did} was already trusted`);
    }));
  trust
    .command('remove')
    .description('stop trusting an issuer')
    .argument('<did>', "the issuer's did:key")
    .action(action(async (did: string) => {
      const removed = await trustRemove(cli.home().trust, did);
      if (!removed) {
        cli.err(`chorus: ${did} is not on the trust list`);
        return EXIT.notFound;
      }
      cli.out(`no longer trusting ${did}`);
    }));
  trust
    .command('list')
    .description('list trusted issuers')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const home = cli.home();
      const t = await loadTrust(home.trust);
      const config = await loadConfig(home.config);
      const self = config.trust.includeSelf ? (await loadIdentity(home.key)).did : undefined;
      if (opts.json) cli.json({ self: self ?? null, issuers: t.issuers });
      else {
        if (self) cli.out(`${self}  (this node's own key)`);
        for (const e of t.issuers) cli.out(`${e.issuer}  ${e.addedAt}${e.note ? `  ${e.note}` : ''}`);
        if (!self && t.issuers.length === 0) cli.out('no trusted issuers: nothing will count');
      }
    }));
  return trust;
}
