import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { action, type Cli } from '../context.js';

export function showCommand(cli: Cli): Command {
  return new Command('show')
    .description('show one stored attestation')
    .argument('<id>', 'attestation id (64 hex)')
    .option('--envelope', 'print only the signed DSSE envelope')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { envelope?: boolean; json?: boolean }) => {
      const want = id.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(want)) throw new ChorusError('bad_input', `not an attestation id: "${id.slice(0, 80)}" (expected 64 hex characters)`);
      return cli.withNode(async (node) => {
        const a = await node.store.get(want);
        if (!a) throw new ChorusError('not_found', `no attestation ${want} in this node's store`);
        if (opts.envelope) return void cli.json(a.envelope);
        const retractedBy = await node.store.retractionsOf(a.id);
        const info = {
          id: a.id,
          kind: a.kind ?? null,
          issuer: a.issuer,
          seq: a.seq,
          receivedAt: new Date(a.receivedAt).toISOString(),
          retractedBy,
          statement: a.statement,
        };
        if (opts.json) cli.json(info);
        else {
          cli.out(`id:          ${a.id}\nkind:        ${a.kind ?? `(not scored) ${a.statement.predicateType}`}\nissuer:      ${a.issuer}`);
          cli.out(`received:    ${info.receivedAt} (arrival #${a.seq})${retractedBy.length ? `\nretracted by: ${retractedBy.join(', ')}` : ''}`);
          cli.out(`subjects:    ${a.statement.subject.map((s) => `sha256:${s.digest.sha256}${s.name ? ` (${s.name})` : ''}`).join('\n             ')}`);
          cli.out(`predicate:   ${JSON.stringify(a.statement.predicate, null, 2).replaceAll('\n', '\n             ')}`);
        }
      });
    }));
}
