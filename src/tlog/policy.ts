import { decodeBase64, encodeBase64 } from '../encoding/bytes.js';
import { ChorusError } from '../errors.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../identity/did-key.js';
import { cosignatureKeyId } from './witness.js';

/**
 * Witness policies in the format of c2sp.org/tlog-policy: which witnesses' cosignatures
 * settle a checkpoint (SPEC §16.5). Lines, whitespace-separated, `#` comments:
 *
 *   witness <name> <vkey | did:key> [<url>]
 *   group <name> <k | any | all> <member>...
 *   quorum <name | none>
 *   log <vkey> [<url>]          (accepted and ignored: Chorus logs are named by their issuer)
 *
 * A witness vkey is `<key name>+<key id hex>+base64(0x04 ‖ Ed25519 public key)` (a
 * cosignature/v1 key); a did:key in its place is a Chorus shorthand for the same key. Names
 * are defined before use (so no cycles), a member appears once per group, exactly one quorum.
 * At most 1,000 witnesses and 100 groups; a policy file is at most 256 KiB.
 */

const MAX_BYTES = 256 * 1024;
const MAX_WITNESSES = 1000;
const MAX_GROUPS = 100;

type Node = { kind: 'witness'; did: string } | { kind: 'group'; k: number; members: string[] };

export interface WitnessPolicy {
  /** The dids of the witnesses the policy names. */
  readonly witnesses: ReadonlySet<string>;
  /** Whether cosignatures by these witness dids satisfy the quorum. */
  satisfied(cosigners: ReadonlySet<string>): boolean;
  /** The quorum line's name ("none": no cosignature needed). */
  readonly quorum: string;
}

function bad(line: number, message: string): ChorusError {
  return new ChorusError('bad_input', `witness policy, line ${line}: ${message}`);
}

/** The did of a witness key given as a cosignature/v1 vkey or a did:key; throws on anything else. */
function witnessDid(text: string, line: number): string {
  if (text.startsWith('did:key:')) {
    if (publicKeyFromDidKey(text) === undefined) throw bad(line, `not an Ed25519 did:key: ${text.slice(0, 80)}`);
    return text;
  }
  // name+id+base64: the base64 may hold '+' itself, so split at the first two only.
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw bad(line, 'a witness key is a vkey (name+id+key) or a did:key');
  const [name, idHex, b64] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  const raw = decodeBase64(b64);
  if (!/^[0-9a-f]{8}$/.test(idHex) || raw === undefined || encodeBase64(raw) !== b64 || raw.length !== 33) throw bad(line, 'malformed vkey');
  if (raw[0] !== 0x04) throw bad(line, 'a witness vkey has signature type 0x04 (cosignature/v1)');
  const key = raw.slice(1);
  if (cosignatureKeyId(name, key) !== Number.parseInt(idHex, 16)) throw bad(line, 'the vkey\'s id does not match its name and key');
  return didKeyFromPublicKey(key);
}

/** Parses a policy; throws `bad_input` naming the line of the first problem. */
export function parseWitnessPolicy(text: string): WitnessPolicy {
  if (text.length > MAX_BYTES) throw new ChorusError('too_large', `a witness policy is at most ${MAX_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new ChorusError('bad_input', 'a witness policy holds no control characters but tab and newline');
  const names = new Map<string, Node>();
  const dids = new Set<string>();
  let quorum: string | undefined;
  let groups = 0;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/[ \t]+/);
    switch (fields[0]) {
      case 'log':
        if (fields.length < 2 || fields.length > 3) throw bad(lineNo, 'log <vkey> [<url>]');
        return;
      case 'witness': {
        if (fields.length < 3 || fields.length > 4) throw bad(lineNo, 'witness <name> <vkey> [<url>]');
        const [, name, key] = fields as [string, string, string];
        if (names.has(name) || name === 'none') throw bad(lineNo, `the name ${name} is defined twice (or reserved)`);
        const did = witnessDid(key, lineNo);
        if (dids.has(did)) throw bad(lineNo, 'a witness key is listed twice');
        if (dids.size >= MAX_WITNESSES) throw bad(lineNo, `at most ${MAX_WITNESSES} witnesses`);
        dids.add(did);
        names.set(name, { kind: 'witness', did });
        return;
      }
      case 'group': {
        if (fields.length < 4) throw bad(lineNo, 'group <name> <k|any|all> <member>...');
        const [, name, kText, ...members] = fields as [string, string, string, ...string[]];
        if (names.has(name) || name === 'none') throw bad(lineNo, `the name ${name} is defined twice (or reserved)`);
        if (new Set(members).size !== members.length) throw bad(lineNo, 'a member is listed once');
        for (const member of members) if (!names.has(member)) throw bad(lineNo, `${member} is not defined on a line before`);
        const k = kText === 'all' ? members.length : kText === 'any' ? 1 : /^[1-9][0-9]{0,3}$/.test(kText) ? Number(kText) : NaN;
        if (!(k >= 1 && k <= members.length)) throw bad(lineNo, 'the threshold is all, any, or 1 ≤ k ≤ the number of members');
        if (++groups > MAX_GROUPS) throw bad(lineNo, `at most ${MAX_GROUPS} groups`);
        names.set(name, { kind: 'group', k, members });
        return;
      }
      case 'quorum': {
        if (fields.length !== 2) throw bad(lineNo, 'quorum <name>');
        if (quorum !== undefined) throw bad(lineNo, 'exactly one quorum line');
        if (fields[1] !== 'none' && !names.has(fields[1]!)) throw bad(lineNo, `${fields[1]} is not defined on a line before`);
        quorum = fields[1]!;
        return;
      }
      default:
        throw bad(lineNo, `unknown line "${fields[0]!.slice(0, 40)}" (log, witness, group, quorum)`);
    }
  });
  if (quorum === undefined) throw new ChorusError('bad_input', 'witness policy: a quorum line is required (quorum none: no cosignature needed)');
  const q = quorum;
  return {
    witnesses: dids,
    quorum: q,
    satisfied(cosigners) {
      if (q === 'none') return true;
      const memo = new Map<string, boolean>();
      const holds = (name: string): boolean => {
        const known = memo.get(name);
        if (known !== undefined) return known;
        const node = names.get(name)!;
        const satisfied = node.kind === 'witness' ? cosigners.has(node.did) : node.members.filter(holds).length >= node.k;
        memo.set(name, satisfied);
        return satisfied;
      };
      return holds(q);
    },
  };
}

/** The default policy: any `k` of the given witnesses (k = 0: none needed). */
export function anyOf(witnesses: ReadonlySet<string>, k: number): WitnessPolicy {
  return {
    witnesses,
    quorum: k === 0 ? 'none' : `any ${k}`,
    satisfied(cosigners) {
      if (k === 0) return true;
      let n = 0;
      for (const witness of cosigners) if (witnesses.has(witness) && ++n >= k) return true;
      return false;
    },
  };
}
