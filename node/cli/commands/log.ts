import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { fromHex, toHex } from '../../../src/encoding/bytes.js';
import { leafHash, verifyInclusion } from '../../../src/tlog/merkle.js';
import { parseCheckpoint, parseNote } from '../../../src/tlog/note.js';
import { action, type Cli } from '../context.js';

/** `chorus log`: this node's own issuer log (SPEC §16). */
export function logCommand(cli: Cli): Command {
  const log = new Command('log').description("this node's issuer log: the signed checkpoint over every attestation its key signed, and inclusion proofs (SPEC §16)");
  log.command('checkpoint')
    .description('print the newest signed checkpoint (a C2SP signed note, the text Go\'s sumdb/note and transparency-log witnesses read)')
    .option('--json', 'print origin, size and root as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const note = await client.logCheckpoint();
        if (!opts.json) return void process.stdout.write(note);
        const c = parseCheckpoint(parseNote(note).text);
        cli.json({ origin: c.origin, size: c.size, root: toHex(c.root), note });
      });
    }));
  log.command('proof')
    .description('print the inclusion proof of one of this node\'s attestations against its newest checkpoint, and check it')
    .argument('<id>', 'the attestation id (64 hex)')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      if (!/^[0-9a-f]{64}$/.test(id)) throw new ChorusError('bad_input', 'an attestation id is 64 lowercase hex characters');
      return cli.withClient(async (client) => {
        const p = await client.logProof(id);
        const c = parseCheckpoint(parseNote(p.checkpoint).text);
        const ok = p.size === c.size && verifyInclusion(leafHash(fromHex(id)!), p.index, p.size, p.proof.map((h) => fromHex(h) ?? new Uint8Array(0)), c.root);
        if (!ok) throw new ChorusError('io_error', 'the proof the node gave does not verify against its checkpoint');
        if (opts.json) return void cli.json({ id, index: p.index, size: p.size, proof: p.proof, root: toHex(c.root), verified: true });
        cli.out(`leaf ${p.index} of ${p.size} in ${c.origin}\nroot ${toHex(c.root)}\nproof (${p.proof.length} hashes):\n${p.proof.map((h) => `  ${h}`).join('\n')}\nverified against the checkpoint`);
      });
    }));
  return log;
}
