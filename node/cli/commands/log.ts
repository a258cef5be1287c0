import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { fromHex, toHex } from '../../../src/encoding/bytes.js';
import { leafHash, verifyInclusion } from '../../../src/tlog/merkle.js';
import { parseCheckpoint, parseNote } from '../../../src/tlog/note.js';
import { checkpointTime, verifiedCosignatures } from '../../../src/tlog/witness.js';
import { referenceSuite } from '../../../src/crypto/reference-suite.js';
import { publicKeyFromDidKey } from '../../../src/identity/did-key.js';
import { EXIT } from '../exit-codes.js';
import { formatLog } from '../format.js';
import { action, type Cli } from '../context.js';

const checkDid = (did: string | undefined): void => {
  if (did !== undefined && publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}"`);
};

/** `chorus log`: issuer logs, this node's own and those it mirrors (SPEC §16). */
export function logCommand(cli: Cli): Command {
  const log = new Command('log').description("issuer logs (SPEC §16): this node's own (a signed checkpoint over every attestation its key signed) and the logs it mirrors of the issuers that count; checkpoints, proofs, completeness");
  log.command('checkpoint')
    .description('print the newest signed checkpoint of this node\'s log, or of DID\'s log as this node mirrors it (a C2SP signed note with the cosignatures held: the text Go\'s sumdb/note and transparency-log witnesses read)')
    .argument('[did]', 'an issuer whose log this node mirrors (default: this node\'s own)')
    .option('--json', 'print origin, size, root, time and the cosigning witnesses as JSON')
    .action(action(async (did: string | undefined, opts: { json?: boolean }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const note = await client.logCheckpoint(did);
        if (!opts.json) return void process.stdout.write(note);
        const parsed = parseNote(note);
        const checkpoint = parseCheckpoint(parsed.text);
        const at = checkpointTime(checkpoint);
        const witnesses = verifiedCosignatures(parsed.text, parsed.signatures, referenceSuite, Math.floor(Date.now() / 1000)).map((cosignature) => ({ witness: cosignature.witness, time: new Date(cosignature.timestamp * 1000).toISOString() }));
        cli.json({ origin: checkpoint.origin, size: checkpoint.size, root: toHex(checkpoint.root), time: at === undefined ? null : new Date(at).toISOString(), witnesses, note });
      });
    }));
  log.command('verify')
    .description('how complete this node\'s copy of an issuer\'s log is: fetches what is missing from peers now (leaves checked against the signed root, then the statements), then says what it fetched and what is still missing')
    .argument('<did>', 'the issuer')
    .option('--no-fetch', 'only say what is held, fetch nothing')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExit status: 0 when the copy is complete, 3 when statements are missing, the log is stale, unknown here, or the issuer equivocated.')
    .action(action(async (did: string, opts: { fetch: boolean; json?: boolean }) => {
      checkDid(did);
      return cli.withClient(async (client) => {
        const result = await client.logVerify(did, opts.fetch);
        const completeness = result.completeness;
        if (opts.json) cli.json(result);
        else {
          cli.out(`${did}\n${formatLog(completeness)}`);
          if (opts.fetch) cli.out(`fetched now: ${result.fetched.leaves} leaf id(s), ${result.fetched.envelopes} statement(s)`);
          if (result.missingIds.length > 0) cli.out(`still missing (${completeness.missing}${completeness.missing > result.missingIds.length ? `, first ${result.missingIds.length}` : ''}):\n${result.missingIds.map((id) => `  ${id}`).join('\n')}`);
          if (completeness.known > completeness.verified) cli.out(`leaves ${completeness.verified}..${completeness.known} not yet fetched: no connected peer served them`);
          if (result.equivocation) cli.out('EQUIVOCATION: two checkpoints of this issuer that cannot both be true are held (chorus trust explain shows them)');
        }
        return completeness.state === 'complete' || completeness.state === 'own' ? EXIT.ok : EXIT.flagged;
      });
    }));
  log.command('proof')
    .description('print the inclusion proof of an attestation in this node\'s log (or, with --issuer, in a log it mirrors) against the newest checkpoint, and check it')
    .argument('<id>', 'the attestation id (64 hex)')
    .option('--issuer <did>', 'the issuer whose mirrored log to prove it in (default: this node\'s own)')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { json?: boolean; issuer?: string }) => {
      if (!/^[0-9a-f]{64}$/.test(id)) throw new ChorusError('bad_input', 'an attestation id is 64 lowercase hex characters');
      checkDid(opts.issuer);
      return cli.withClient(async (client) => {
        const proof = await client.logProof(id, opts.issuer);
        const checkpoint = parseCheckpoint(parseNote(proof.checkpoint).text);
        const ok = proof.size === checkpoint.size && verifyInclusion(leafHash(fromHex(id)!), proof.index, proof.size, proof.proof.map((hex) => fromHex(hex) ?? new Uint8Array(0)), checkpoint.root);
        if (!ok) throw new ChorusError('io_error', 'the proof the node gave does not verify against its checkpoint');
        if (opts.json) return void cli.json({ id, index: proof.index, size: proof.size, proof: proof.proof, root: toHex(checkpoint.root), verified: true });
        cli.out(`leaf ${proof.index} of ${proof.size} in ${checkpoint.origin}\nroot ${toHex(checkpoint.root)}\nproof (${proof.proof.length} hashes):\n${proof.proof.map((hex) => `  ${hex}`).join('\n')}\nverified against the checkpoint`);
      });
    }));
  return log;
}
