import { Command, InvalidArgumentError } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { publicKeyFromDidKey } from '../../../src/identity/did-key.js';
import { SCOPES, type Scope } from '../../../src/reputation/policy.js';
import { action, type Cli } from '../context.js';
import { formatLog } from '../format.js';
import { EXIT } from '../exit-codes.js';
import { shortDid } from '../format.js';

function checkDid(did: string): void {
  if (publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}" (expected did:key:z6Mk…)`);
}

function parseScope(text: string): (Scope | '*')[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  for (const part of parts) if (part !== '*' && !(SCOPES as readonly string[]).includes(part)) throw new InvalidArgumentError(`"${part}" is not a kind: use ${SCOPES.join(', ')} or *`);
  if (parts.length === 0) throw new InvalidArgumentError('name at least one kind');
  return parts as (Scope | '*')[];
}

function parseWeight(text: string): number {
  const weight = Number(text);
  if (!(weight > 0 && weight <= 1)) throw new InvalidArgumentError('a weight is a number above 0, at most 1');
  return weight;
}

export function trustCommand(cli: Cli): Command {
  const trust = new Command('trust').description("manage whose attestations count in this node's view: roots, blocks, subscriptions (SPEC §10)");
  trust
    .command('add')
    .description('trust an issuer directly (a root), on some kinds of findings, with a weight')
    .argument('<did>', "the issuer's did:key")
    .option('--scope <kinds>', `kinds it counts on, comma-separated: ${SCOPES.join(', ')} or *`, parseScope)
    .option('--weight <w>', 'how much its word weighs, above 0 up to 1 (default 1)', parseWeight)
    .option('--note <text>', 'your name for it (shown in views and listings)')
    .action(action(async (did: string, opts: { scope?: (Scope | '*')[]; weight?: number; note?: string }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const reply = await client.editTrust({ op: 'trust', issuer: did, scope: opts.scope, weight: opts.weight, note: opts.note });
        const root = reply.policy.roots.find((entry) => entry.issuer === did);
        cli.out(reply.changed ? `trusted ${did} on ${root?.scope.join(',')} at weight ${root?.weight}` : `${did} was already trusted so`);
      });
    }));
  trust
    .command('block')
    .description('never count an issuer, whatever endorses it')
    .argument('<did>', "the issuer's did:key")
    .option('--note <text>', 'why')
    .action(action(async (did: string, opts: { note?: string }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const reply = await client.editTrust({ op: 'block', issuer: did, note: opts.note });
        cli.out(reply.changed ? `blocked ${did}` : `${did} was already blocked`);
      });
    }));
  trust
    .command('subscribe')
    .description("follow an issuer's endorsements as a curated trust list (its own attestations count only if you also trust it)")
    .argument('<did>', "the curator's did:key")
    .option('--weight <w>', 'how much its list weighs, above 0 up to 1 (default 0.5)', parseWeight)
    .option('--note <text>', 'your name for it')
    .action(action(async (did: string, opts: { weight?: number; note?: string }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const reply = await client.editTrust({ op: 'subscribe', issuer: did, weight: opts.weight, note: opts.note });
        cli.out(reply.changed ? `subscribed to ${did}'s endorsements` : `already subscribed to ${did}`);
      });
    }));
  trust
    .command('remove')
    .description('take an issuer off your policy (trust, block or subscription)')
    .argument('<did>', "the issuer's did:key")
    .action(action(async (did: string) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const reply = await client.editTrust({ op: 'remove', issuer: did });
        if (!reply.changed) {
          cli.err(`chorus: ${did} is not on your trust policy`);
          return EXIT.notFound;
        }
        cli.out(`removed ${did} from your trust policy`);
      });
    }));
  trust
    .command('list')
    .description('your policy: roots, subscriptions, blocks')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const listing = await client.trust();
        if (opts.json) return void cli.json(listing);
        const { roots, subscriptions, blocks } = listing.policy;
        if (listing.self && ![...roots, ...subscriptions, ...blocks].some((entry) => entry.issuer === listing.self)) cli.out(`self       ${listing.self}  *  1  (this node's own key)`);
        for (const root of roots) cli.out(`trust      ${root.issuer}  ${root.scope.join(',')}  ${root.weight}${root.note ? `  ${root.note}` : ''}`);
        for (const subscription of subscriptions) cli.out(`subscribe  ${subscription.issuer}  ${subscription.weight}${subscription.note ? `  ${subscription.note}` : ''}`);
        for (const block of blocks) cli.out(`block      ${block.issuer}${block.note ? `  ${block.note}` : ''}`);
        if (!listing.self && roots.length === 0 && subscriptions.length === 0) cli.out('you trust no issuer: nothing will count (chorus trust add DID)');
      });
    }));
  trust
    .command('explain')
    .description('why (and how much) you trust an issuer, per kind, with the paths from your roots')
    .argument('<did>', "the issuer's did:key")
    .option('--json', 'print as JSON')
    .action(action(async (did: string, opts: { json?: boolean }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const issuer = await client.issuer(did);
        if (opts.json) return void cli.json(issuer);
        cli.out(`${did}${issuer.note ? `  (${issuer.note})` : ''}`);
        cli.out(`role: ${issuer.role}; ${issuer.counts ? 'counts' : 'does not count'} in your view`);
        const kinds = Object.values(issuer.trust);
        if (kinds.length === 0) cli.out('no trust in any kind: no path from your roots reaches it');
        for (const kind of kinds) {
          const path = kind.path.length === 0 ? kind.via : kind.path.map((hop, i) => `${i === 0 ? `${hop.fromNote ?? shortDid(hop.from)} ` : ''}-(${hop.weight})-> ${shortDid(hop.to)}`).join(' ');
          cli.out(`  ${kind.scope.padEnd(12)} ${String(kind.trust).padEnd(7)} ${path}`);
        }
        if (issuer.endorsedBy.length > 0) cli.out(`endorsed by: ${issuer.endorsedBy.map((endorsement) => `${shortDid(endorsement.issuer)} (${endorsement.scope.join(',')} ${endorsement.weight})`).join(', ')}`);
        if (issuer.endorses.length > 0) cli.out(`endorses: ${issuer.endorses.map((endorsement) => `${shortDid(endorsement.endorsed)} (${endorsement.scope.join(',')} ${endorsement.weight})`).join(', ')}`);
        cli.out(`published here: ${issuer.published.attestations} attestation(s), ${issuer.published.bytes} bytes`);
        if (issuer.log) cli.out(formatLog(issuer.log.completeness));
        if (issuer.log?.equivocation) {
          const [first, second] = [issuer.log.equivocation.a, issuer.log.equivocation.b].map((note) => note.split('\n').slice(1, 3).join(' '));
          cli.out(`EQUIVOCATION: this issuer signed two histories that cannot both be true (proof held; chorus log checkpoint ${shortDid(did)} --json shows it):\n  size/root ${first}\n  size/root ${second}`);
        }
      });
    }));
  trust
    .command('graph')
    .description('your trust graph in numbers: roots, endorsements, issuers reached per kind, the most trusted')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const graph = await client.trustGraph();
        if (opts.json) return void cli.json(graph);
        cli.out(`roots ${graph.roots}, subscriptions ${graph.subscriptions}, blocks ${graph.blocks}; ${graph.endorsements} live endorsement(s) in the graph`);
        cli.out(`issuers that count: ${graph.reached}${Object.keys(graph.byScope).length > 0 ? ` (${Object.entries(graph.byScope).map(([scope, count]) => `${scope} ${count}`).join(', ')})` : ''}`);
        cli.out(`parameters: depth ${graph.params.maxDepth}, spread ${graph.params.spread}, min weight ${graph.params.minWeight}, decide at ${graph.params.decideWeight}, dispute ratio ${graph.params.disputeRatio}`);
        for (const issuer of graph.issuers.slice(0, 20)) cli.out(`  ${(issuer.note ?? shortDid(issuer.issuer)).padEnd(24)} ${Object.entries(issuer.trust).map(([scope, weight]) => `${scope} ${weight}`).join(', ')}`);
      });
    }));
  return trust;
}
