/**
 * Digests: validation, hashing of buffers and streams, chain IDs (vectors computed with sha256sum).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chainId, chainIds, digestOf, hashStream, isDigest, parseDigest, tapDigest, validateDigest } from '../../src/oci/index.js';
import { isBerthError } from '../../src/errors/index.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const HELLO256 = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const HELLO512 = 'sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043';

async function* chunks(parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('parseDigest: valid', () => {
  const cases = [
    { doc: 'sha256', input: HELLO256, algorithm: 'sha256', hex: HELLO256.slice(7) },
    { doc: 'sha512', input: HELLO512, algorithm: 'sha512', hex: HELLO512.slice(7) },
  ];
  for (const c of cases) {
    test(c.doc, () => {
      assert.deepEqual(parseDigest(c.input), { algorithm: c.algorithm, hex: c.hex });
      assert.equal(validateDigest(c.input), c.input);
      assert.ok(isDigest(c.input));
    });
  }
});

describe('parseDigest: invalid', () => {
  const cases = [
    { doc: 'empty', input: '', message: /empty digest/ },
    { doc: 'no algorithm', input: 'a'.repeat(64), message: /missing "<algorithm>:"/ },
    { doc: 'uppercase hex', input: HELLO256.toUpperCase().replace('SHA256', 'sha256'), message: /lowercase/ },
    { doc: 'too short', input: 'sha256:abc', message: /64 hex digits, got 3/ },
    { doc: 'sha512 with 64 digits', input: `sha512:${'a'.repeat(64)}`, message: /128 hex digits, got 64/ },
    { doc: 'unsupported algorithm', input: `md5:${'a'.repeat(32)}`, message: /unsupported algorithm "md5"/ },
    { doc: 'non-hex encoding', input: `sha256:${'g'.repeat(64)}`, message: /not hex/ },
    { doc: 'junk', input: 'sha256:', message: /not of the form/ },
  ];
  for (const c of cases) {
    test(c.doc, () => {
      assert.throws(
        () => parseDigest(c.input),
        (e: unknown) => isBerthError(e) && e.code === 'E_DIGEST_INVALID' && c.message.test(e.message),
      );
      assert.equal(isDigest(c.input), false);
    });
  }
});

describe('hashing', () => {
  test('digestOf buffers and strings, sha256 and sha512', () => {
    assert.equal(digestOf(Buffer.from('hello')), HELLO256);
    assert.equal(digestOf('hello'), HELLO256);
    assert.equal(digestOf('hello', 'sha512'), HELLO512);
  });

  test('hashStream consumes a stream', async () => {
    assert.deepEqual(await hashStream(chunks(['he', 'l', 'lo'])), { digest: HELLO256, size: 5 });
  });

  test('tapDigest passes data through unchanged and hashes it', async () => {
    const tap = tapDigest(chunks(['he', '', 'llo']));
    const seen: Buffer[] = [];
    for await (const c of tap.stream) seen.push(c);
    assert.equal(Buffer.concat(seen).toString(), 'hello');
    assert.deepEqual(tap.result(), { digest: HELLO256, size: 5 });
  });

  test('tapDigest refuses a result before the end: E_DIGEST_INCOMPLETE', async () => {
    const tap = tapDigest(chunks(['a', 'b']));
    await tap.stream.next();
    assert.throws(() => tap.result(), (e: unknown) => isBerthError(e) && e.code === 'E_DIGEST_INCOMPLETE');
  });

  test('streamed and whole-buffer digests agree (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), async (parts) => {
        async function* src() {
          for (const p of parts) yield Buffer.from(p);
        }
        const whole = Buffer.concat(parts.map((p) => Buffer.from(p)));
        assert.deepEqual(await hashStream(src()), { digest: digestOf(whole), size: whole.length });
      }),
      { numRuns: 100 },
    );
  });
});

describe('chain IDs (image-spec config.md)', () => {
  test('one layer: the chain ID is the diffID', () => {
    assert.equal(chainId([A]), A);
  });
  test('two and three layers (vectors from sha256sum)', () => {
    assert.equal(chainId([A, B]), 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c');
    assert.deepEqual(chainIds([A, B, C]), [A, 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c', 'sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588']);
  });
  test('no layers: E_CHAINID_EMPTY', () => {
    assert.throws(() => chainId([]), (e: unknown) => isBerthError(e) && e.code === 'E_CHAINID_EMPTY');
  });
  test('an invalid diffID: E_DIGEST_INVALID', () => {
    assert.throws(() => chainId([A, 'sha256:xyz']), (e: unknown) => isBerthError(e) && e.code === 'E_DIGEST_INVALID');
  });
});
