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
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of parts) if (p !== '*' && !(SCOPES as readonly string[]).includes(p)) throw new InvalidArgumentError(`"${p}" is not a kind: use ${SCOPES.join(', ')} or *`);
  if (parts.length === 0) throw new InvalidArgumentError('name at least one kind');
  return parts as (Scope | '*')[];
}

function parseWeight(text: string): number {
  const w = Number(text);
  if (!(w > 0 && w <= 1)) throw new InvalidArgumentError('a weight is a number above 0, at most 1');
  return w;
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
        const r = await client.editTrust({ op: 'trust', issuer: did, scope: opts.scope, weight: opts.weight, note: opts.note });
        const root = r.policy.roots.find((x) => x.issuer === did);
        cli.out(r.changed ? `trusted ${did} on ${root?.scope.join(',')} at weight ${root?.weight}` : `${did} was already trusted so`);
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
        const r = await client.editTrust({ op: 'block', issuer: did, note: opts.note });
        cli.out(r.changed ? `blocked ${did}` : `${did} was already blocked`);
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
        const r = await client.editTrust({ op: 'subscribe', issuer: did, weight: opts.weight, note: opts.note });
        cli.out(r.changed ? `subscribed to ${did}'s endorsements` : `already subscribed to ${did}`);
      });
    }));
  trust
    .command('remove')
    .description('take an issuer off your policy (trust, block or subscription)')
    .argument('<did>', "the issuer's did:key")
    .action(action(async (did: string) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const r = await client.editTrust({ op: 'remove', issuer: did });
        if (!r.changed) {
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
        const t = await client.trust();
        if (opts.json) return void cli.json(t);
        const { roots, subscriptions, blocks } = t.policy;
        if (t.self && ![...roots, ...subscriptions, ...blocks].some((e) => e.issuer === t.self)) cli.out(`self       ${t.self}  *  1  (this node's own key)`);
        for (const r of roots) cli.out(`trust      ${r.issuer}  ${r.scope.join(',')}  ${r.weight}${r.note ? `  ${r.note}` : ''}`);
        for (const s of subscriptions) cli.out(`subscribe  ${s.issuer}  ${s.weight}${s.note ? `  ${s.note}` : ''}`);
        for (const b of blocks) cli.out(`block      ${b.issuer}${b.note ? `  ${b.note}` : ''}`);
        if (!t.self && roots.length === 0 && subscriptions.length === 0) cli.out('you trust no issuer: nothing will count (chorus trust add DID)');
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
        const i = await client.issuer(did);
        if (opts.json) return void cli.json(i);
        cli.out(`${did}${i.note ? `  (${i.note})` : ''}`);
        cli.out(`role: ${i.role}; ${i.counts ? 'counts' : 'does not count'} in your view`);
        const kinds = Object.values(i.trust);
        if (kinds.length === 0) cli.out('no trust in any kind: no path from your roots reaches it');
        for (const t of kinds) {
          const path = t.path.length === 0 ? t.via : t.path.map((h, i) => `${i === 0 ? `${h.fromNote ?? shortDid(h.from)} ` : ''}-(${h.weight})-> ${shortDid(h.to)}`).join(' ');
          cli.out(`  ${t.scope.padEnd(12)} ${String(t.trust).padEnd(7)} ${path}`);
        }
        if (i.endorsedBy.length > 0) cli.out(`endorsed by: ${i.endorsedBy.map((e) => `${shortDid(e.issuer)} (${e.scope.join(',')} ${e.weight})`).join(', ')}`);
        if (i.endorses.length > 0) cli.out(`endorses: ${i.endorses.map((e) => `${shortDid(e.endorsed)} (${e.scope.join(',')} ${e.weight})`).join(', ')}`);
        cli.out(`published here: ${i.published.attestations} attestation(s), ${i.published.bytes} bytes`);
        if (i.log) cli.out(formatLog(i.log.completeness));
        if (i.log?.equivocation) {
          const [a, b] = [i.log.equivocation.a, i.log.equivocation.b].map((n) => n.split('\n').slice(1, 3).join(' '));
          cli.out(`EQUIVOCATION: this issuer signed two histories that cannot both be true (proof held; chorus log checkpoint ${shortDid(did)} --json shows it):\n  size/root ${a}\n  size/root ${b}`);
        }
      });
    }));
  trust
    .command('graph')
    .description('your trust graph in numbers: roots, endorsements, issuers reached per kind, the most trusted')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const g = await client.trustGraph();
        if (opts.json) return void cli.json(g);
        cli.out(`roots ${g.roots}, subscriptions ${g.subscriptions}, blocks ${g.blocks}; ${g.endorsements} live endorsement(s) in the graph`);
        cli.out(`issuers that count: ${g.reached}${Object.keys(g.byScope).length > 0 ? ` (${Object.entries(g.byScope).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`);
        cli.out(`parameters: depth ${g.params.maxDepth}, spread ${g.params.spread}, min weight ${g.params.minWeight}, decide at ${g.params.decideWeight}, dispute ratio ${g.params.disputeRatio}`);
        for (const i of g.issuers.slice(0, 20)) cli.out(`  ${(i.note ?? shortDid(i.issuer)).padEnd(24)} ${Object.entries(i.trust).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      });
    }));
  return trust;
}
