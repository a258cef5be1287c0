import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../src/encoding/bytes.js';
import { isChorusError } from '../../src/errors.js';
import { anyOf, parseWitnessPolicy } from '../../src/tlog/policy.js';
import { cosignatureKeyId, witnessName } from '../../src/tlog/witness.js';
import { makeIssuer } from '../support/fixtures.js';

/*
 * Witness policies in the c2sp.org/tlog-policy format (SPEC §16.5): the spec's own example
 * (two organisations' groups, a group of groups), thresholds, `quorum none`, and every
 * malformed policy refused with the line it is on.
 */

const keys = Array.from({ length: 6 }, (_, i) => makeIssuer(new Uint8Array(32).fill(60 + i)));
/** A witness's vkey as C2SP writes it: name+id+base64(0x04 ‖ key). */
const vkey = (i: number): string => {
  const k = keys[i]!;
  const name = witnessName(k.did);
  return `${name}+${cosignatureKeyId(name, k.publicKey).toString(16).padStart(8, '0')}+${encodeBase64(Uint8Array.from([0x04, ...k.publicKey]))}`;
};
const did = (i: number): string => keys[i]!.did;

const spec = `# the c2sp.org/tlog-policy example, with real keys
log chorus-log/x+01020304+AQ==

witness X1 ${vkey(0)}
witness X2 ${vkey(1)}
witness X3 ${vkey(2)} https://x3.example
group X-witnesses 2 X1 X2 X3

witness Y1 ${vkey(3)}
witness Y2 ${did(4)}
witness Y3 ${vkey(5)}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

function refused(text: string, line?: number): string {
  try {
    parseWitnessPolicy(text);
  } catch (e) {
    expect(isChorusError(e)).toBe(true);
    if (line !== undefined) expect((e as Error).message).toContain(`line ${line}:`);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('witness policies (c2sp.org/tlog-policy)', () => {
  it('the specification\'s example: two of X and one of Y', () => {
    const p = parseWitnessPolicy(spec);
    expect([...p.witnesses].sort()).toEqual(keys.map((k) => k.did).sort());
    const set = (...is: number[]) => new Set(is.map(did));
    expect(p.satisfied(set(0, 1, 3))).toBe(true);
    expect(p.satisfied(set(0, 2, 4))).toBe(true);
    expect(p.satisfied(set(0, 1))).toBe(false); // no Y
    expect(p.satisfied(set(0, 3, 4, 5))).toBe(false); // one X only
    expect(p.satisfied(set())).toBe(false);
    // A cosigner the policy does not name adds nothing.
    expect(p.satisfied(new Set([did(0), did(3), makeIssuer().did]))).toBe(false);
  });

  it('quorum none needs no cosignature; a single witness as the quorum needs exactly it', () => {
    expect(parseWitnessPolicy('quorum none\n').satisfied(new Set())).toBe(true);
    const one = parseWitnessPolicy(`witness W ${vkey(0)}\nquorum W\n`);
    expect(one.satisfied(new Set([did(0)]))).toBe(true);
    expect(one.satisfied(new Set([did(1)]))).toBe(false);
  });

  it('the default: any k of a set', () => {
    const p = anyOf(new Set([did(0), did(1), did(2)]), 2);
    expect(p.satisfied(new Set([did(0), did(2)]))).toBe(true);
    expect(p.satisfied(new Set([did(0), did(3)]))).toBe(false);
    expect(anyOf(new Set(), 0).satisfied(new Set())).toBe(true);
  });

  it('refuses a malformed policy, naming the line', () => {
    refused(`witness W ${vkey(0)}\n`); // no quorum
    refused(`witness W ${vkey(0)}\nquorum W\nquorum W\n`, 3);
    refused('quorum Z\n', 1);
    refused(`witness W ${vkey(0)}\ngroup G 1 W Z\nquorum G\n`, 2); // undefined member
    refused(`witness W ${vkey(0)}\ngroup G 2 W\nquorum G\n`, 2); // k > n
    refused(`witness W ${vkey(0)}\ngroup G 0 W\nquorum G\n`, 2);
    refused(`witness W ${vkey(0)}\ngroup G any W W\nquorum G\n`, 2); // a member twice
    refused(`witness W ${vkey(0)}\nwitness V ${vkey(0)}\nquorum W\n`, 2); // a key twice
    refused(`witness W ${vkey(0)}\nwitness W ${vkey(1)}\nquorum W\n`, 2); // a name twice
    refused(`witness none ${vkey(0)}\nquorum none\n`, 1);
    refused(`witness W ${vkey(0).replace('+', '+0')}\nquorum W\n`, 1);
    // A checkpoint key (type 0x01) is not a cosigning key.
    const k = keys[0]!;
    refused(`witness W n+00000000+${encodeBase64(Uint8Array.from([0x01, ...k.publicKey]))}\nquorum W\n`, 1);
    // The id must match the name and key.
    refused(`witness W ${vkey(0).replace(/\+[0-9a-f]{8}\+/, '+00000000+')}\nquorum W\n`, 1);
    refused('witness W did:key:z6Mknotakey\nquorum W\n', 1);
    refused('frobnicate\nquorum none\n', 1);
    refused('quorum none\u0001\n');
    expect(refused('x'.repeat(300 * 1024))).toMatch(/at most/);
  });

  it('comments, blank lines and tabs are allowed', () => {
    const p = parseWitnessPolicy(`  # comment\n\n\twitness\tW\t${vkey(0)}  \nquorum W\n`);
    expect(p.satisfied(new Set([did(0)]))).toBe(true);
  });
});
