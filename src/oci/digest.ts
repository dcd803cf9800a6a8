/**
 * Content digests: parsing and validation (`sha256:<64 hex>`, `sha512:<128 hex>`), hashing of
 * buffers and streams, and layer chain IDs.
 *
 * Only the algorithms the OCI image spec registers are accepted, with lowercase hex, as
 * opencontainers/go-digest validates them (descriptor.md "Registered algorithms"). A digest that is
 * well formed but uses another algorithm is refused rather than treated as opaque: berth verifies
 * every blob it reads, and it cannot verify what it cannot hash.
 */
import { createHash, type Hash } from 'node:crypto';
import { BerthError } from '../errors/index.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex. */
  hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** The general digest grammar of image-spec descriptor.md, used to tell "malformed" from "unsupported". */
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function digestError(s: string, reason: string): BerthError {
  return new BerthError('E_DIGEST_INVALID', `parse digest "${s}": ${reason}`, {
    hint: 'a digest looks like sha256: followed by 64 lowercase hex digits',
    details: { digest: s },
  });
}

/** Splits and validates a digest; throws E_DIGEST_INVALID naming what is wrong. */
export function parseDigest(s: string): ParsedDigest {
  if (typeof s !== 'string' || s === '') throw digestError(String(s), 'empty digest');
  const colon = s.indexOf(':');
  if (colon < 0) throw digestError(s, 'missing "<algorithm>:" prefix');
  if (!GRAMMAR.test(s)) throw digestError(s, 'not of the form <algorithm>:<encoded>');
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw digestError(s, `unsupported algorithm "${algorithm}" (sha256 and sha512 are supported)`);
  }
  const want = HEX_LENGTH[algorithm];
  if (!/^[0-9a-f]*$/.test(hex)) {
    throw digestError(s, /^[0-9a-fA-F]*$/.test(hex) ? 'hex digits must be lowercase' : 'encoded part is not hex');
  }
  if (hex.length !== want) throw digestError(s, `${algorithm} needs ${want} hex digits, got ${hex.length}`);
  return { algorithm, hex };
}

export function isDigest(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(s);
  return m !== null && m[2].length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Returns `s` if it is a valid digest, else throws E_DIGEST_INVALID. */
export function validateDigest(s: string): string {
  parseDigest(s);
  return s;
}

/** The digest of bytes (strings are hashed as UTF-8). */
export function digestOf(data: Buffer | Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Hashes incrementally; `result()` may be called once the data is complete. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private bytes = 0;
  private done: { digest: string; size: number } | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer | Uint8Array): void {
    if (this.done) throw new Error('Digester.update after result()');
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  get size(): number {
    return this.bytes;
  }

  result(): { digest: string; size: number } {
    if (!this.done) this.done = { digest: `${this.algorithm}:${this.hash.digest('hex')}`, size: this.bytes };
    return this.done;
  }
}

export interface DigestTap {
  /** The source's chunks, unchanged; iterate it exactly once. */
  stream: AsyncGenerator<Buffer>;
  /** Digest and byte count of everything that went through; throws until the stream is exhausted. */
  result(): { digest: string; size: number };
}

/**
 * Passes a stream through while hashing it, for callers that need a digest of data they are also
 * consuming (import hashes the uncompressed tar for the diffID while the store hashes the
 * compressed blob).
 */
export function tapDigest(src: AsyncIterable<Buffer | Uint8Array>, algorithm: DigestAlgorithm = 'sha256'): DigestTap {
  const d = new Digester(algorithm);
  let finished = false;
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const chunk of src) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      d.update(b);
      yield b;
    }
    finished = true;
  }
  return {
    stream: gen(),
    result() {
      if (!finished) {
        throw new BerthError('E_DIGEST_INCOMPLETE', 'hash stream: the stream was not read to the end', {
          hint: 'read the tapped stream completely before asking for its digest',
        });
      }
      return d.result();
    },
  };
}

/** Consumes a stream and returns its digest and size. */
export async function hashStream(src: AsyncIterable<Buffer | Uint8Array>, algorithm: DigestAlgorithm = 'sha256'): Promise<{ digest: string; size: number }> {
  const d = new Digester(algorithm);
  for await (const chunk of src) d.update(chunk);
  return d.result();
}

/**
 * ChainID of a layer stack, base first (image-spec config.md "Layer ChainID"):
 * ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 */
export function chainId(diffIds: readonly string[]): string {
  const all = chainIds(diffIds);
  if (all.length === 0) {
    throw new BerthError('E_CHAINID_EMPTY', 'compute chain ID: no layers', { hint: 'an image needs at least one layer to have a chain ID' });
  }
  return all[all.length - 1];
}

/** The ChainID of every prefix of the stack: result[i] is the chain ID of layers 0..i. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    validateDigest(d);
    out.push(out.length === 0 ? d : digestOf(`${out[out.length - 1]} ${d}`));
  }
  return out;
}
