import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { publicKeyFromDidKey } from '../../../src/identity/did-key.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

function checkDid(did: string): void {
  if (publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}" (expected did:key:z6Mk…)`);
}

export function trustCommand(cli: Cli): Command {
  const trust = new Command('trust').description("manage whose attestations count in this node's view");
  trust
    .command('add')
    .description('trust an issuer')
    .argument('<did>', "the issuer's did:key")
    .option('--note <text>', 'why you trust them (shown in listings)')
    .action(action(async (did: string, opts: { note?: string }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const t = await client.trust();
        const existing = t.issuers.find((e) => e.issuer === did);
        const issuers = t.issuers.map((e) => ({ issuer: e.issuer, ...(e.note === undefined ? {} : { note: e.note }) }));
        if (existing) {
          if (opts.note !== undefined) {
            await client.setTrust(issuers.map((e) => (e.issuer === did ? { issuer: did, note: opts.note as string } : e)));
          }
          cli.out(`${did} was already trusted`);
        } else {
          await client.setTrust([...issuers, { issuer: did, ...(opts.note === undefined ? {} : { note: opts.note }) }]);
          cli.out(`trusted ${did}`);
        }
      });
    }));
  trust
    .command('remove')
    .description('stop trusting an issuer')
    .argument('<did>', "the issuer's did:key")
    .action(action(async (did: string) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const t = await client.trust();
        if (!t.issuers.some((e) => e.issuer === did)) {
          cli.err(`chorus: ${did} is not on the trust list`);
          return EXIT.notFound;
        }
        await client.setTrust(t.issuers.filter((e) => e.issuer !== did).map((e) => ({ issuer: e.issuer, ...(e.note === undefined ? {} : { note: e.note }) })));
        cli.out(`no longer trusting ${did}`);
      });
    }));
  trust
    .command('list')
    .description('list trusted issuers')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const t = await client.trust();
        if (opts.json) return void cli.json(t);
        if (t.self) cli.out(`${t.self}  (this node's own key)`);
        for (const e of t.issuers) cli.out(`${e.issuer}  ${e.addedAt}${e.note ? `  ${e.note}` : ''}`);
        if (!t.self && t.issuers.length === 0) cli.out('no trusted issuers: nothing will count');
      });
    }));
  return trust;
}
