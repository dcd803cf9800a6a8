/**
 * The image store: an OCI image layout plus berth's metadata, safe against crashes and against
 * other berth processes working on the same root (docs/store.md has the full rules).
 *
 * Crash safety: every file is written to a temp file in this process's session directory, fsynced,
 * and renamed into place, and the directory holding it is fsynced; a blob is visible only under its
 * final name, i.e. complete and verified. A process killed at any point leaves at most a session
 * directory, which gc removes once nobody holds its lock.
 *
 * Concurrency: `berth/lock` is taken shared to commit a blob or metadata file (rename + lease), and
 * exclusive to change index.json (read-modify-write) and to collect garbage. Blobs are immutable,
 * so reads need no lock; resolving a name takes the shared lock so gc cannot delete the manifest
 * and config between reading index.json and reading them.
 */
import { mkdir, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { BerthError, errnoOf, ignoreWarnings, type WarningSink } from '../errors/index.js';
import {
  MEDIA_TYPES,
  Reference,
  familiarName,
  isDigest,
  isIndexMediaType,
  isManifestMediaType,
  isNondistributableLayer,
  parseDigest,
  parseImageConfig,
  parseImageIndex,
  parseImageLayoutHeader,
  parseManifest,
  parseReference,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type Manifest,
  type Platform,
  linuxPlatform,
  chainId,
} from '../oci/index.js';
import { parseFileIndex, serializeFileIndex, type FileIndex } from '../layer/fileindex.js';
import { FileLock, DEFAULT_LOCK_TIMEOUT_MS, type LockMode } from '../sys/flock.js';
import { StorePaths } from './paths.js';
import { readBlobFile, streamBlobFile, writeBlobTemp, type BlobInfo, type ByteSource } from './blobs.js';
import { fsyncDir, lstatIfExists, writeDurable } from './durable.js';
import { collectGarbage, type GcResult } from './gc.js';
import { emptyIndex, entryReference, refNameOf, serializeIndex, storedReference, withRef } from './refs.js';
import { sessionFor, currentSession, unuseSession, useSession, type Session } from './session.js';

export type { BlobInfo, ByteSource, GcResult };

/** Manifests and indexes larger than this are refused (distribution's limit is 4 MiB). */
const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_CONFIG_BYTES = 32 << 20;
const DEFAULT_READ_MAX = 64 << 20;
const MAX_INDEX_DEPTH = 4;
/** Shortest image ID or digest prefix accepted. */
const SHORT_ID_MIN = 12;


export interface StoreOpenOptions {
  /** Create the store (and its parent directories) when missing. Default false. */
  create?: boolean;
  /** How long to wait for the store lock before E_STORE_LOCKED. Default 60 s. */
  lockTimeoutMs?: number;
  /** Receives recoverable anomalies (unreadable entries while listing, gc skips). */
  onWarning?: WarningSink;
  /** Platform chosen from multi-platform indexes. Default: linux and this machine's architecture. */
  platform?: Pick<Platform, 'os' | 'architecture' | 'variant'>;
}

export interface PutImageInput {
  /** Reference to point at the image; omitted, the image is kept unnamed. */
  name?: string | Reference;
  /** The config document (serialised as JSON) or its exact bytes. */
  config: ImageConfig | Buffer;
  /** Layer descriptors, base first; the blobs must already be in the store. */
  layers: Descriptor[];
  /** A manifest to use as is (its config and layers must match); default: an OCI manifest is built. */
  manifest?: Manifest | Buffer;
  /** Annotations of a built manifest. */
  annotations?: Record<string, string>;
}

export interface PutImageResult {
  reference?: Reference;
  manifestDescriptor: Descriptor;
  configDescriptor: Descriptor;
}

export interface ResolvedImage {
  /** The name it was found by, or for an ID or digest the first of its names (sorted). */
  reference?: Reference;
  /** Every name whose entry points at the same content. */
  references: Reference[];
  /** The index.json entry (a manifest, or an index for multi-platform images). */
  descriptor: Descriptor;
  manifestDescriptor: Descriptor;
  manifest: Manifest;
  configDescriptor: Descriptor;
  config: ImageConfig;
}

export interface ImageSummary {
  /** Canonical reference, e.g. docker.io/library/alpine:latest; absent for unnamed images. */
  reference?: string;
  /** Docker's short form, e.g. alpine:latest. */
  familiar?: string;
  /** The raw ref.name annotation when it is not a reference berth understands (e.g. a bare tag written by umoci). */
  refName?: string;
  /** Digest of the index.json entry (the manifest, or the index of a multi-platform image). */
  digest: string;
  mediaType: string;
  /** The platform manifest actually used. */
  manifestDigest: string;
  configDigest: string;
  /** Docker's image ID: the config digest. */
  id: string;
  /** Bytes stored for the image: manifest(s), config and (compressed) layer blobs. */
  size: number;
  created?: string;
}

export interface RemoveResult {
  /** Names removed, in Docker's familiar form. */
  untagged: string[];
  /** Image IDs that no name refers to any more (their blobs go at the next gc). */
  deleted: string[];
}


/** The entries an image spec names, and how it named them. */
interface Found {
  via: 'name' | 'id';
  entries: Descriptor[];
  /** Descriptions already computed (ID lookups). */
  infos?: EntryInfo[];
  /** The canonical name, for name lookups. */
  reference?: Reference;
}

/** What an index.json entry resolves to on this platform. */
interface EntryInfo {
  entry: Descriptor;
  reference?: Reference;
  manifestDescriptor: Descriptor;
  manifest: Manifest;
  /** Digests of the indexes passed through (multi-platform images). */
  indexes: Descriptor[];
}

function hostPlatform(): Pick<Platform, 'os' | 'architecture'> {
  return linuxPlatform(process.arch);
}

function notFoundError(spec: string): BerthError {
  return new BerthError('E_IMAGE_NOT_FOUND', `find image ${spec}: no such image in the store`, {
    hint: 'run `berth images` to list the images in the store',
    details: { image: spec },
  });
}



function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Store {
  readonly root: string;
  private readonly paths: StorePaths;
  private readonly lockTimeoutMs: number;
  private readonly onWarning: WarningSink;
  private readonly platform: Pick<Platform, 'os' | 'architecture' | 'variant'>;
  /** Parsed manifests and indexes by digest, with their size; content-addressed, so never stale. */
  private readonly docCache = new Map<string, { doc: Manifest | ImageIndex; size: number }>();
  private closed = false;

  private constructor(root: string, options: StoreOpenOptions) {
    this.root = root;
    this.paths = new StorePaths(root);
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.onWarning = options.onWarning ?? ignoreWarnings;
    this.platform = options.platform ?? hostPlatform();
  }

  /**
   * Opens the store at `root`. With `create`, a missing or empty directory becomes a new store;
   * a non-empty directory that is not an OCI layout is refused rather than written into.
   */
  static async open(root: string, options: StoreOpenOptions = {}): Promise<Store> {
    const abs = resolvePath(root);
    const store = new Store(abs, options);
    await store.init(options.create === true);
    useSession(abs);
    return store;
  }

  private async init(create: boolean): Promise<void> {
    const p = this.paths;
    const st = await stat(p.root).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      return undefined;
    });
    if (!st) {
      if (!create) {
        throw new BerthError('E_STORE_NOT_FOUND', `open store ${p.root}: no such directory`, {
          hint: 'import, load or pull an image first, or point --root (or BERTH_ROOT) at an existing store',
          details: { root: p.root },
        });
      }
      await mkdir(p.root, { recursive: true, mode: 0o700 });
    } else if (!st.isDirectory()) {
      throw new BerthError('E_STORE_INVALID', `open store ${p.root}: not a directory`, { hint: 'point --root at a directory', details: { root: p.root } });
    }
    if (await this.readLayoutHeader()) {
      await this.readIndex();
      return;
    }
    if (!create) {
      throw new BerthError('E_STORE_INVALID', `open store ${p.root}: not an OCI image layout (no oci-layout file)`, {
        hint: 'point --root at a berth store or an OCI image layout directory',
        details: { root: p.root },
      });
    }
    // Only an empty directory, or one a crashed initialisation left, becomes a store: never turn a
    // user's directory into one by accident.
    const leftovers = (await readdir(p.root)).filter((n) => !['berth', 'blobs', 'index.json'].includes(n));
    if (leftovers.length > 0) {
      throw new BerthError('E_STORE_INVALID', `create store ${p.root}: the directory is not empty and is not an OCI image layout`, {
        hint: 'choose an empty or new directory for --root (or BERTH_ROOT)',
        details: { root: p.root, entries: leftovers.slice(0, 5) },
      });
    }
    await mkdir(p.berth, { recursive: true, mode: 0o700 });
    await this.withLock('exclusive', async () => {
      if (await this.readLayoutHeader()) return;
      await mkdir(join(p.blobs, 'sha256'), { recursive: true });
      const session = this.session();
      if (!(await lstatIfExists(p.indexJson))) await this.commitFile(session.tempPath('index'), p.indexJson, serializeIndex(emptyIndex()), 0o644);
      // oci-layout last: its presence marks a complete layout.
      await this.commitFile(session.tempPath('layout'), p.ociLayout, Buffer.from('{"imageLayoutVersion":"1.0.0"}\n'), 0o644);
    });
  }

  private async readLayoutHeader(): Promise<boolean> {
    let data: Buffer;
    try {
      data = await readFile(this.paths.ociLayout);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw e;
    }
    try {
      parseImageLayoutHeader(data, this.paths.ociLayout);
    } catch (e) {
      throw new BerthError('E_STORE_INVALID', `open store ${this.root}: ${(e as BerthError).message}`, {
        hint: 'point --root at a berth store or an OCI image layout directory (version 1.x)',
        cause: e,
      });
    }
    return true;
  }

  /** Ends this handle. When it was the process's last one on this root, the session directory goes and its lease ends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    unuseSession(this.root);
  }

  // ---------------------------------------------------------------------------------------------
  // Locking and file commits

  /** The process's session; call with the store lock held (the first call creates it). */
  private session(): Session {
    if (this.closed) {
      throw new BerthError('E_STORE_CLOSED', `write to store ${this.root}: this handle was closed`, { hint: 'open the store again with Store.open' });
    }
    return sessionFor(this.root, this.paths.tmp);
  }

  /** The process's session, taking the shared lock only when it has to be created. */
  private async ensureSession(): Promise<Session> {
    const live = this.closed ? undefined : currentSession(this.root);
    return live ?? this.withLock('shared', async () => this.session(), 'write');
  }

  /**
   * Runs `fn` holding berth/lock. Writers (every exclusive use, and shared commits) always lock;
   * a reader that cannot open the lock file still runs, lock-free.
   */
  private async withLock<T>(mode: LockMode, fn: () => Promise<T>, purpose: 'read' | 'write' = mode === 'exclusive' ? 'write' : 'read'): Promise<T> {
    let lock: FileLock;
    try {
      if (purpose === 'write') await mkdir(this.paths.berth, { recursive: true, mode: 0o700 });
      lock = await FileLock.acquire(this.paths.lock, mode, { timeoutMs: this.lockTimeoutMs, turnstile: this.paths.lockGate });
    } catch (e) {
      // A reader of a store it may not write (another user's, or read-only media) still gets a
      // consistent view: index.json is only ever replaced by rename, and blobs are immutable.
      const code = errnoOf(e);
      if (purpose === 'read' && (code === 'ENOENT' || code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) return fn();
      throw e;
    }
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** Writes `data` durably at `tmp`, then renames it to `final` and fsyncs the directory. */
  private async commitFile(tmp: string, final: string, data: Buffer | string, mode: number): Promise<void> {
    try {
      await writeDurable(tmp, data, mode);
      await rename(tmp, final);
    } catch (e) {
      await unlink(tmp).catch(() => undefined); // the original error is what matters; gc sweeps leftovers
      throw e;
    }
    await fsyncDir(dirname(final));
  }


  // ---------------------------------------------------------------------------------------------
  // Blobs

  /** The path of a blob (whether or not it exists). Throws E_DIGEST_INVALID for a malformed digest. */
  blobPath(digest: string): string {
    return this.paths.blob(digest);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /** Size of a stored blob, or undefined when absent. Does not verify the content. */
  async statBlob(digest: string): Promise<BlobInfo | undefined> {
    const st = await lstatIfExists(this.paths.blob(digest));
    return st?.isFile() ? { digest, size: st.size } : undefined;
  }

  /**
   * Stores a blob: streams to a temp file while hashing, fsyncs, checks `expect`, and renames it to
   * its digest. Idempotent: storing existing content again replaces the file with identical bytes.
   * On E_DIGEST_MISMATCH / E_SIZE_MISMATCH nothing is stored. A blob stored but not yet reachable
   * from index.json is protected from gc by this process's lease until an image that uses it is
   * named, or until the process's last Store on this root closes (or the process exits).
   */
  async putBlob(data: ByteSource, expect: { digest?: string; size?: number } = {}): Promise<BlobInfo> {
    if (expect.digest !== undefined) parseDigest(expect.digest);
    if (expect.size !== undefined && (!Number.isSafeInteger(expect.size) || expect.size < 0)) {
      throw new BerthError('E_OPTION_INVALID', `store blob: expected size ${expect.size} is not a non-negative integer`);
    }
    const session = await this.ensureSession();
    const tmp = session.tempPath('blob');
    const result = await writeBlobTemp(tmp, data, expect);
    const final = this.paths.blob(result.digest);
    try {
      await this.withLock(
        'shared',
        async () => {
          // Leased before it becomes visible, so gc never sees it unprotected.
          session.addLease('blob', result.digest);
          await mkdir(dirname(final), { recursive: true });
          await rename(tmp, final);
          await fsyncDir(dirname(final));
        },
        'write',
      );
    } catch (e) {
      await unlink(tmp).catch(() => undefined); // the original error is what matters; gc sweeps leftovers
      throw e;
    }
    return result;
  }

  /**
   * Reads a whole blob and verifies it: E_BLOB_NOT_FOUND, E_BLOB_TOO_LARGE over `maxSize`
   * (default 64 MiB; use openBlob for layers), E_BLOB_CORRUPT when the bytes do not match the digest.
   */
  async readBlob(digest: string, options: { maxSize?: number } = {}): Promise<Buffer> {
    return readBlobFile(this.paths.blob(digest), digest, options.maxSize ?? DEFAULT_READ_MAX);
  }

  /**
   * Streams a blob, hashing as it goes; after the last chunk it throws E_BLOB_CORRUPT if the content
   * does not match the digest (so a consumer must treat the data as untrusted until the end).
   */
  openBlob(digest: string): AsyncGenerator<Buffer> {
    return streamBlobFile(this.paths.blob(digest), digest);
  }

  // ---------------------------------------------------------------------------------------------
  // Documents

  private async readIndex(): Promise<ImageIndex> {
    let data: Buffer;
    try {
      data = await readFile(this.paths.indexJson);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') {
        throw new BerthError('E_STORE_INVALID', `open store ${this.root}: index.json is missing`, {
          hint: 'the directory is not a complete OCI image layout; point --root at a berth store',
        });
      }
      throw e;
    }
    try {
      return parseImageIndex(data, this.paths.indexJson);
    } catch (e) {
      throw new BerthError('E_STORE_CORRUPT', `read ${this.paths.indexJson}: ${(e as BerthError).message}`, {
        hint: 'index.json was damaged outside berth; restore it from a backup, or remove it and load the images again',
        cause: e,
      });
    }
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await this.commitFile(this.session().tempPath('index'), this.paths.indexJson, serializeIndex(index), 0o644);
  }

  private cache(digest: string, doc: Manifest | ImageIndex, size: number): void {
    if (this.docCache.size >= 512) this.docCache.delete(this.docCache.keys().next().value as string);
    this.docCache.set(digest, { doc, size });
  }

  private checkSize(desc: Descriptor, actual: number): void {
    if (desc.size !== actual) {
      throw new BerthError('E_SIZE_MISMATCH', `read blob ${desc.digest}: ${actual} bytes, but its descriptor says ${desc.size}`, {
        hint: 'the image metadata is inconsistent; pull, load or import it again',
        details: { digest: desc.digest, expected: desc.size, actual },
      });
    }
  }

  private async loadManifest(desc: Descriptor): Promise<Manifest> {
    const hit = this.docCache.get(desc.digest);
    if (hit && 'config' in hit.doc) {
      this.checkSize(desc, hit.size);
      return hit.doc;
    }
    const data = await this.readBlob(desc.digest, { maxSize: MAX_MANIFEST_BYTES });
    this.checkSize(desc, data.length);
    const m = parseManifest(data, desc.digest);
    this.cache(desc.digest, m, data.length);
    return m;
  }

  private async loadIndexDoc(desc: Descriptor): Promise<ImageIndex> {
    const hit = this.docCache.get(desc.digest);
    if (hit && 'manifests' in hit.doc) {
      this.checkSize(desc, hit.size);
      return hit.doc;
    }
    const data = await this.readBlob(desc.digest, { maxSize: MAX_MANIFEST_BYTES });
    this.checkSize(desc, data.length);
    const ix = parseImageIndex(data, desc.digest);
    this.cache(desc.digest, ix, data.length);
    return ix;
  }

  private async loadConfig(desc: Descriptor): Promise<ImageConfig> {
    const data = await this.readBlob(desc.digest, { maxSize: MAX_CONFIG_BYTES });
    this.checkSize(desc, data.length);
    return parseImageConfig(data, desc.digest);
  }

  /** Follows an index.json entry to this platform's manifest. */
  private async describe(entry: Descriptor): Promise<EntryInfo> {
    const indexes: Descriptor[] = [];
    let desc = entry;
    for (let depth = 0; ; depth++) {
      if (isIndexMediaType(desc.mediaType)) {
        if (depth >= MAX_INDEX_DEPTH) {
          throw new BerthError('E_IMAGE_INVALID', `resolve image ${entry.digest}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`, { hint: 'the image is malformed' });
        }
        indexes.push(desc);
        desc = this.selectPlatform(await this.loadIndexDoc(desc), entry);
        continue;
      }
      if (!isManifestMediaType(desc.mediaType)) {
        throw new BerthError('E_IMAGE_INVALID', `resolve image ${entry.digest}: ${desc.mediaType} is not an image manifest`, {
          hint: 'the name points at something that is not a container image (an artifact?)',
        });
      }
      const manifest = await this.loadManifest(desc);
      return { entry, reference: entryReference(entry), manifestDescriptor: desc, manifest, indexes };
    }
  }

  private selectPlatform(index: ImageIndex, entry: Descriptor): Descriptor {
    const want = this.platform;
    const candidates = index.manifests.filter((m) => isManifestMediaType(m.mediaType) || isIndexMediaType(m.mediaType));
    const exact = candidates.find(
      (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture && (want.variant === undefined || m.platform.variant === undefined || m.platform.variant === want.variant),
    );
    if (exact) return exact;
    if (candidates.length === 1 && candidates[0].platform === undefined) return candidates[0];
    const have = candidates.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}` : 'unknown')).join(', ');
    throw new BerthError('E_IMAGE_PLATFORM', `resolve image ${refNameOf(entry) ?? entry.digest}: no manifest for ${want.os}/${want.architecture} (the image has ${have || 'none'})`, {
      hint: 'pull or load the image for this platform',
      details: { platform: want, available: have },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Finding images

  /**
   * Finds the index.json entries an image spec names: a name[:tag] or name@digest, a full image ID or
   * manifest digest (with or without "sha256:"), or a unique ID/digest prefix of at least 12 hex digits.
   */
  private async find(index: ImageIndex, spec: string | Reference): Promise<Found> {
    const entries = index.manifests;
    if (spec instanceof Reference) return this.findByName(entries, spec, spec.toString());
    if (typeof spec !== 'string' || spec === '') throw notFoundError(String(spec));

    const full = /^[0-9a-f]{64}$/.test(spec) ? `sha256:${spec}` : isDigest(spec) ? spec : undefined;
    if (full !== undefined) {
      const found = await this.findById(entries, (d) => d === full, spec);
      if (found) return found;
      throw notFoundError(spec);
    }

    let ref: Reference | undefined;
    let refError: unknown;
    try {
      ref = parseReference(spec);
    } catch (e) {
      refError = e;
    }
    if (ref) {
      const byName = await this.findByName(entries, ref, spec).catch((e) => {
        if ((e as BerthError).code === 'E_IMAGE_NOT_FOUND') return undefined;
        throw e;
      });
      if (byName) return byName;
    }
    const raw = entries.filter((e) => refNameOf(e) === spec);
    if (raw.length > 0) return { via: 'name', entries: [raw[raw.length - 1]] };

    const short = /^(?:sha256:)?([0-9a-f]{12,63})$/.exec(spec);
    if (short && short[1].length >= SHORT_ID_MIN) {
      const prefix = short[1];
      const found = await this.findById(entries, (d) => d.startsWith('sha256:') && d.slice(7).startsWith(prefix), spec);
      if (found) return found;
    }
    if (refError) throw refError;
    throw notFoundError(spec);
  }

  private async findByName(entries: Descriptor[], ref: Reference, spec: string): Promise<Found> {
    const stored = storedReference(ref).toString();
    const exact = entries.filter((e) => entryReference(e)?.toString() === stored);
    if (exact.length > 0) return { via: 'name', entries: [exact[exact.length - 1]], reference: storedReference(ref) };
    if (ref.digest !== undefined) {
      // name@digest also finds the same content under any tag of that repository.
      const same = entries.filter((e) => entryReference(e)?.name === ref.name);
      const hits: Descriptor[] = [];
      for (const e of same) {
        if (e.digest === ref.digest) hits.push(e);
        else if (isIndexMediaType(e.mediaType)) {
          const [info] = await this.describeAll([e]);
          if (info?.manifestDescriptor.digest === ref.digest) hits.push(e);
        }
      }
      if (hits.length > 0) return { via: 'name', entries: hits, reference: storedReference(ref) };
    }
    throw notFoundError(spec);
  }

  /** Entries whose image ID (config digest), manifest digest or entry digest satisfies `match`. */
  private async findById(entries: Descriptor[], match: (digest: string) => boolean, spec: string): Promise<Found | undefined> {
    const infos = await this.describeAll(entries);
    const hits = infos.filter((i) => match(i.entry.digest) || match(i.manifestDescriptor.digest) || match(i.manifest.config.digest) || i.indexes.some((x) => match(x.digest)));
    if (hits.length === 0) return undefined;
    const ids = [...new Set(hits.map((h) => h.manifest.config.digest))].sort();
    if (ids.length > 1) {
      throw new BerthError('E_IMAGE_AMBIGUOUS', `find image ${spec}: the prefix matches ${ids.length} images (${ids.map((i) => i.slice(7, 19)).join(', ')})`, {
        hint: 'give more digits of the ID, or use the image name',
        details: { image: spec, matches: ids },
      });
    }
    return { via: 'id', entries: hits.map((h) => h.entry), infos: hits };
  }

  /** Describes every entry; entries that cannot be read are reported as warnings and skipped. */
  private async describeAll(entries: Descriptor[]): Promise<EntryInfo[]> {
    const out: EntryInfo[] = [];
    for (const e of entries) {
      try {
        out.push(await this.describe(e));
      } catch (err) {
        this.onWarning({
          code: 'W_IMAGE_UNREADABLE',
          message: `image ${entryReference(e)?.toString() ?? refNameOf(e) ?? e.digest} cannot be read: ${(err as Error).message}`,
          details: { digest: e.digest },
        });
      }
    }
    return out;
  }

  /**
   * Resolves a name, image ID or digest (see find) to this platform's manifest and config.
   * E_IMAGE_NOT_FOUND (hint: `berth images`), E_IMAGE_AMBIGUOUS for a prefix that matches several images.
   */
  async resolveImage(spec: string | Reference): Promise<ResolvedImage> {
    return this.withLock('shared', async () => {
      const index = await this.readIndex();
      const found = await this.find(index, spec);
      // Prefer a named entry, in name order, so an ID resolves to a stable name.
      const named = found.entries
        .map((e) => ({ e, r: entryReference(e) }))
        .sort((a, b) => (a.r && b.r ? compareStrings(a.r.toString(), b.r.toString()) : a.r ? -1 : b.r ? 1 : 0));
      const entry = named[0].e;
      const info = found.infos?.find((i) => i.entry === entry) ?? (await this.describe(entry));
      const configDescriptor = info.manifest.config;
      const config = await this.loadConfig(configDescriptor);
      const references = index.manifests
        .filter((m) => m.digest === entry.digest)
        .map((m) => entryReference(m))
        .filter((r): r is Reference => r !== undefined)
        .sort((a, b) => compareStrings(a.toString(), b.toString()));
      const reference = found.reference ?? entryReference(entry) ?? references[0];
      // The manifest object is shared with the document cache: callers get their own copy.
      return { reference, references, descriptor: entry, manifestDescriptor: info.manifestDescriptor, manifest: structuredClone(info.manifest), configDescriptor, config };
    });
  }

  /** Every image entry of index.json, named ones first (sorted by reference), then unnamed by digest. */
  async listImages(): Promise<ImageSummary[]> {
    const index = await this.withLock('shared', () => this.readIndex());
    const out: ImageSummary[] = [];
    for (const info of await this.describeAll(index.manifests)) {
      let config: ImageConfig;
      try {
        config = await this.loadConfig(info.manifest.config);
      } catch (err) {
        this.onWarning({ code: 'W_IMAGE_UNREADABLE', message: `image ${info.reference?.toString() ?? info.entry.digest} cannot be read: ${(err as Error).message}`, details: { digest: info.entry.digest } });
        continue;
      }
      const size =
        info.indexes.reduce((n, d) => n + d.size, 0) +
        info.manifestDescriptor.size +
        info.manifest.config.size +
        info.manifest.layers.reduce((n, l) => n + l.size, 0);
      const s: ImageSummary = {
        digest: info.entry.digest,
        mediaType: info.entry.mediaType,
        manifestDigest: info.manifestDescriptor.digest,
        configDigest: info.manifest.config.digest,
        id: info.manifest.config.digest,
        size,
      };
      if (info.reference) {
        s.reference = info.reference.toString();
        s.familiar = familiarName(info.reference);
      } else if (refNameOf(info.entry) !== undefined) {
        s.refName = refNameOf(info.entry);
      }
      if (config.created !== undefined) s.created = config.created;
      out.push(s);
    }
    return out.sort((a, b) => {
      if (a.reference !== undefined && b.reference !== undefined) return compareStrings(a.reference, b.reference);
      if (a.reference !== undefined || b.reference !== undefined) return a.reference !== undefined ? -1 : 1;
      return compareStrings(a.refName ?? '', b.refName ?? '') || compareStrings(a.digest, b.digest);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Naming images

  /**
   * Points a name at a manifest or index already in the store (replacing what the name pointed at),
   * or with `ref` undefined keeps the content as an unnamed image. Checks, under the exclusive lock,
   * that the manifest, its config and its layers are present, so a name never points at an
   * incomplete image. A name with a digest must match the content's digest.
   */
  async setRef(ref: Reference | string | undefined, desc: Descriptor): Promise<void> {
    const r = ref === undefined ? undefined : storedReference(typeof ref === 'string' ? parseReference(ref) : ref);
    parseDigest(desc.digest);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new BerthError('E_OPTION_INVALID', `name image ${desc.digest}: descriptor size ${desc.size} is invalid`);
    if (!isManifestMediaType(desc.mediaType) && !isIndexMediaType(desc.mediaType)) {
      throw new BerthError('E_IMAGE_INVALID', `name image ${desc.digest}: media type ${desc.mediaType} is not an image manifest or index`, {
        hint: 'point names at image manifests (application/vnd.oci.image.manifest.v1+json) or indexes',
      });
    }
    await this.withLock('exclusive', async () => {
      const reached = await this.checkComplete(desc);
      if (r?.digest !== undefined && r.digest !== desc.digest && !reached.manifests.includes(r.digest)) {
        throw new BerthError('E_DIGEST_MISMATCH', `name image ${r.toString()}: the name's digest is not the digest of ${desc.digest}`, {
          hint: 'use a tag, or the digest of the manifest being named',
        });
      }
      const index = await this.readIndex();
      await this.writeIndex(withRef(index, r, desc));
      currentSession(this.root)?.dropLease([
        ...reached.blobs.map((d): ['blob', string] => ['blob', d]),
        ...reached.layers.map((d): ['layer', string] => ['layer', d]),
      ]);
    });
  }

  /**
   * Verifies that everything an image needs is stored: the document itself and, for a manifest, its
   * config (parsed, with as many diff_ids as layers) and its layers (nondistributable layers may be
   * absent). For an index, only the index itself (layouts may hold a subset of platforms).
   */
  private async checkComplete(desc: Descriptor): Promise<{ blobs: string[]; layers: string[]; manifests: string[] }> {
    const out = { blobs: [desc.digest], layers: [] as string[], manifests: [] as string[] };
    if (isIndexMediaType(desc.mediaType)) {
      const ix = await this.loadIndexDoc(desc);
      out.manifests = ix.manifests.map((m) => m.digest);
      return out;
    }
    const manifest = await this.loadManifest(desc);
    const config = await this.loadConfig(manifest.config);
    out.blobs.push(manifest.config.digest);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new BerthError('E_IMAGE_INVALID', `name image ${desc.digest}: the config lists ${config.rootfs.diff_ids.length} diff_ids but the manifest has ${manifest.layers.length} layers`, {
        hint: 'the image is malformed; build or fetch it again',
      });
    }
    for (const l of manifest.layers) {
      const st = await this.statBlob(l.digest);
      if (!st) {
        if (isNondistributableLayer(l.mediaType)) continue;
        throw new BerthError('E_BLOB_NOT_FOUND', `name image ${desc.digest}: layer ${l.digest} is not in the store`, {
          hint: 'store every layer before naming the image (if a concurrent `berth gc` removed it, run the command again)',
          details: { digest: l.digest },
        });
      }
      if (st.size !== l.size) this.checkSize(l, st.size);
      out.blobs.push(l.digest);
    }
    out.layers = [...config.rootfs.diff_ids];
    return out;
  }

  /**
   * Stores an image: the config and manifest blobs (the layers must already be stored), then points
   * `name` at the manifest in one atomic index.json update.
   */
  async putImage(input: PutImageInput): Promise<PutImageResult> {
    const configBytes = Buffer.isBuffer(input.config) ? input.config : Buffer.from(JSON.stringify(input.config));
    const parsedConfig = parseImageConfig(configBytes, 'for the new image');
    const config = await this.putBlob(configBytes);
    let manifestBytes: Buffer;
    let manifest: Manifest;
    if (input.manifest !== undefined) {
      manifestBytes = Buffer.isBuffer(input.manifest) ? input.manifest : Buffer.from(JSON.stringify(input.manifest));
      manifest = parseManifest(manifestBytes, 'for the new image');
      if (manifest.config.digest !== config.digest || manifest.layers.length !== input.layers.length || manifest.layers.some((l, i) => l.digest !== input.layers[i].digest)) {
        throw new BerthError('E_IMAGE_INVALID', 'store image: the manifest does not list the given config and layers', {
          hint: 'pass the manifest that belongs to this config and these layers, or omit it to have one built',
        });
      }
    } else {
      manifest = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: config.digest, size: config.size },
        layers: input.layers.map((l) => {
          const d: Descriptor = { mediaType: l.mediaType, digest: l.digest, size: l.size };
          if (l.urls) d.urls = l.urls;
          if (l.annotations) d.annotations = l.annotations;
          return d;
        }),
      };
      if (input.annotations && Object.keys(input.annotations).length > 0) manifest.annotations = input.annotations;
      manifestBytes = Buffer.from(JSON.stringify(manifest));
    }
    if (parsedConfig.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new BerthError('E_IMAGE_INVALID', `store image: the config lists ${parsedConfig.rootfs.diff_ids.length} diff_ids but there are ${manifest.layers.length} layers`, {
        hint: 'give one diff_id per layer, base first',
      });
    }
    const stored = await this.putBlob(manifestBytes);
    const manifestDescriptor: Descriptor = { mediaType: manifest.mediaType ?? MEDIA_TYPES.ociManifest, digest: stored.digest, size: stored.size };
    const platform: Platform = { architecture: parsedConfig.architecture, os: parsedConfig.os };
    if (parsedConfig.variant) platform.variant = parsedConfig.variant;
    manifestDescriptor.platform = platform;
    const reference = input.name === undefined ? undefined : storedReference(typeof input.name === 'string' ? parseReference(input.name) : input.name);
    await this.setRef(reference, manifestDescriptor);
    return { reference, manifestDescriptor, configDescriptor: manifest.config };
  }

  /** Gives the image `source` (name, ID or digest) another name. A target with a digest is refused, as `docker tag` does. */
  async tag(source: string | Reference, target: string | Reference): Promise<Reference> {
    const t = typeof target === 'string' ? parseReference(target) : target;
    if (t.digest !== undefined) {
      throw new BerthError('E_REF_INVALID', `tag ${t.toString()}: refusing to create a tag with a digest reference`, {
        hint: 'give the new name a tag (name:tag), not a digest',
      });
    }
    const src = await this.resolveImage(source);
    await this.setRef(t, src.descriptor);
    return t;
  }

  /** Removes one name (a tag or a stored name@digest). E_IMAGE_NOT_FOUND when no entry has that name. */
  async untag(ref: string | Reference): Promise<RemoveResult> {
    const r = storedReference(typeof ref === 'string' ? parseReference(ref) : ref);
    return this.withLock('exclusive', async () => {
      const index = await this.readIndex();
      const hit = index.manifests.filter((m) => entryReference(m)?.toString() === r.toString());
      if (hit.length === 0) throw notFoundError(r.toString());
      return this.removeEntries(index, new Set(hit));
    });
  }

  /**
   * Docker's `rmi` (moby daemon/images/image_delete.go):
   * - by name: removes that name; when it was the repository's last tag for the image, the
   *   repository's digest names for it go too. `name@digest` removes that digest name, or if only
   *   tags name that content, every tag of that repository pointing at it.
   * - by ID or digest (full, or a prefix of at least 12 hex digits): removes every name of the
   *   image when there is at most one tag and all digest names are in that tag's repository
   *   (isSingleReference); otherwise E_IMAGE_CONFLICT unless `force`.
   * An image whose last name goes is deleted: its blobs are removed by the next gc().
   */
  async removeImage(spec: string | Reference, options: { force?: boolean } = {}): Promise<RemoveResult> {
    return this.withLock('exclusive', async () => {
      const index = await this.readIndex();
      const found = await this.find(index, spec);
      if (found.via === 'name') {
        const targets = new Set(found.entries);
        if (found.reference?.tag !== undefined) {
          // Last tag of this repository for this content: its digest names go with it.
          const digest = found.entries[0].digest;
          const otherTag = index.manifests.some((m) => !targets.has(m) && m.digest === digest && entryReference(m)?.name === found.reference?.name && entryReference(m)?.tag !== undefined);
          if (!otherTag) {
            for (const m of index.manifests) {
              const r = entryReference(m);
              if (m.digest === digest && r?.name === found.reference.name && r.digest !== undefined) targets.add(m);
            }
          }
        }
        return this.removeEntries(index, targets);
      }
      // By ID or digest: everything that is this image.
      const infos = found.infos ?? (await this.describeAll(found.entries));
      const id = infos[0]?.manifest.config.digest;
      const all = await this.describeAll(index.manifests);
      const group = all.filter((i) => i.manifest.config.digest === id).map((i) => i.entry);
      const refs = group.map((e) => entryReference(e)).filter((r): r is Reference => r !== undefined);
      if (!options.force && !isSingleReference(refs)) {
        throw new BerthError('E_IMAGE_CONFLICT', `remove image ${typeof spec === 'string' ? spec : spec.toString()}: unable to delete ${(id ?? '').slice(7, 19)} (must be forced) - image is referenced in multiple repositories`, {
          hint: `remove its names one by one (${refs.map((r) => familiarName(r)).sort().join(', ')}), or pass --force to remove them all`,
          details: { id, references: refs.map((r) => r.toString()).sort() },
        });
      }
      return this.removeEntries(index, new Set([...group, ...found.entries]));
    });
  }

  /** Drops `targets` from index.json; reports names removed and image IDs no longer named. Holds the exclusive lock. */
  private async removeEntries(index: ImageIndex, targets: Set<Descriptor>): Promise<RemoveResult> {
    const remaining = index.manifests.filter((m) => !targets.has(m));
    const untagged = [...targets]
      .map((m) => entryReference(m))
      .filter((r): r is Reference => r !== undefined)
      .map((r) => familiarName(r));
    const removedIds = new Set<string>();
    for (const t of targets) {
      if (remaining.some((m) => m.digest === t.digest)) continue;
      // An entry whose manifest cannot be read is reported by its own digest.
      const info = await this.describe(t).catch(() => undefined);
      removedIds.add(info?.manifest.config.digest ?? t.digest);
    }
    // An ID survives if another entry (another manifest of the same config) still reaches it.
    if (removedIds.size > 0) {
      for (const info of await this.describeAll(remaining)) removedIds.delete(info.manifest.config.digest);
    }
    await this.writeIndex({ ...index, manifests: remaining });
    return { untagged: [...new Set(untagged)].sort(), deleted: [...removedIds].sort() };
  }

  // ---------------------------------------------------------------------------------------------
  // Per-layer metadata

  /** The directory holding a layer's metadata (berth/layers/<alg>/<hex>). */
  layerPath(diffId: string): string {
    return this.paths.layer(diffId);
  }

  private async putLayerFile(diffId: string, name: string, data: string): Promise<void> {
    const dir = this.paths.layer(diffId);
    const session = await this.ensureSession();
    const tmp = session.tempPath('meta');
    try {
      await writeDurable(tmp, data, 0o644);
    } catch (e) {
      await unlink(tmp).catch(() => undefined); // the original error is what matters; gc sweeps leftovers
      throw e;
    }
    await this.withLock(
      'shared',
      async () => {
        session.addLease('layer', diffId);
        await mkdir(dir, { recursive: true });
        await rename(tmp, join(dir, name));
        await fsyncDir(dir);
      },
      'write',
    );
  }

  private async readLayerFile(diffId: string, name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.paths.layer(diffId), name));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Stores the file index of the layer with this diffID (uncompressed digest). */
  async putLayerIndex(diffId: string, index: FileIndex): Promise<void> {
    await this.putLayerFile(diffId, 'files.json', serializeFileIndex(index));
  }

  /** The stored file index, or undefined when none was stored. E_FILEINDEX_INVALID when damaged. */
  async getLayerIndex(diffId: string): Promise<FileIndex | undefined> {
    const data = await this.readLayerFile(diffId, 'files.json');
    return data === undefined ? undefined : parseFileIndex(data, diffId);
  }

  /** Stores the sets of uids and gids that own files in the layer (sorted, unique). */
  async putLayerIds(diffId: string, ids: { uids: readonly number[]; gids: readonly number[] }): Promise<void> {
    const norm = (name: string, v: readonly number[]) => {
      if (!Array.isArray(v) || v.some((n) => !Number.isSafeInteger(n) || n < 0 || n > 0xffffffff)) {
        throw new BerthError('E_OPTION_INVALID', `store layer IDs ${diffId}: ${name} must be integers from 0 to 4294967295`);
      }
      return [...new Set(v)].sort((a, b) => a - b);
    };
    await this.putLayerFile(diffId, 'ids.json', JSON.stringify({ version: 1, uids: norm('uids', ids.uids), gids: norm('gids', ids.gids) }));
  }

  async getLayerIds(diffId: string): Promise<{ uids: number[]; gids: number[] } | undefined> {
    const data = await this.readLayerFile(diffId, 'ids.json');
    if (data === undefined) return undefined;
    let o: { version?: unknown; uids?: unknown; gids?: unknown };
    try {
      o = JSON.parse(data.toString('utf8'));
    } catch {
      o = {};
    }
    const ok = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => Number.isSafeInteger(n) && n >= 0);
    if (o.version !== 1 || !ok(o.uids) || !ok(o.gids)) {
      throw new BerthError('E_LAYER_METADATA_INVALID', `read layer IDs ${diffId}: ids.json is damaged`, {
        hint: 'run `berth gc`, then load or import the image again',
      });
    }
    return { uids: o.uids, gids: o.gids };
  }

  // ---------------------------------------------------------------------------------------------
  // Garbage collection

  /**
   * Removes what nothing reaches, under the exclusive lock: blobs not reachable from index.json
   * (through indexes, manifests, configs and layers) nor leased by a live process; per-layer
   * metadata whose diffID no reachable config lists nor a live lease holds; the session
   * directories (temp files) of processes that are gone; and unpacked rootfs trees no image or
   * container uses (`removedRootfs`, present when some went). Unknown files are left alone.
   */
  async gc(): Promise<GcResult & { removedRootfs?: number }> {
    return this.withLock('exclusive', async () => {
      const res = await collectGarbage({
        paths: this.paths,
        onWarning: this.onWarning,
        readIndex: () => this.readIndex(),
        loadIndex: (d) => this.loadIndexDoc(d),
        loadManifest: (d) => this.loadManifest(d),
        loadConfig: (d) => this.loadConfig(d),
      });
      // Only present when trees went: the result keeps its shape for stores that never ran containers.
      const removedRootfs = res.incomplete.length === 0 ? await this.sweepRootfsCache() : 0;
      return removedRootfs > 0 ? { ...res, removedRootfs } : res;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Unpacked rootfs cache (berth/rootfs/<chain ID hex>[-<suffix>]/), written by the container runtime

  /** Where `berth run` keeps unpacked image root file systems, one directory per key. */
  rootfsCachePath(): string {
    return join(this.paths.berth, 'rootfs');
  }

  /**
   * Removes cached rootfs trees that no image reaches (by the chain ID of its full layer stack) and
   * no container record in berth/containers names (`rootfsKey`): the record is the lease of a
   * container that runs or was kept. Called by gc() with the exclusive lock held. A tree holding
   * files owned by subordinate IDs cannot be removed from outside the user namespace: it is renamed
   * to `.trash-<key>-<n>` (so it is unreachable at once) and `berth run` empties the trash.
   */
  private async sweepRootfsCache(): Promise<number> {
    const dir = this.rootfsCachePath();
    const names = await readdir(dir).catch((e: unknown) => {
      if (errnoOf(e) === 'ENOENT') return [] as string[];
      throw e;
    });
    const entries = names.filter((n) => /^[0-9a-f]{64}(-[0-9a-f]{12})?$/.test(n));
    if (entries.length === 0) return 0;
    const reachable = new Set<string>();
    const index = await this.readIndex();
    for (const info of await this.describeAll(index.manifests)) {
      const config = await this.loadConfig(info.manifest.config);
      if (config.rootfs.diff_ids.length > 0) reachable.add(chainId(config.rootfs.diff_ids).slice('sha256:'.length));
    }
    const containers = join(this.paths.berth, 'containers');
    for (const id of await readdir(containers).catch(() => [] as string[])) {
      try {
        const rec = JSON.parse(await readFile(join(containers, id, 'record.json'), 'utf8')) as { rootfsKey?: unknown };
        if (typeof rec.rootfsKey === 'string') reachable.add(rec.rootfsKey);
      } catch {
        // No record (a container being created holds berth/containers/lock, not this one): keep
        // nothing for it; its rootfs is still reached by its image.
      }
    }
    let removed = 0;
    for (const key of entries) {
      if (reachable.has(key) || reachable.has(key.slice(0, 64))) continue;
      const path = join(dir, key);
      try {
        await rm(path, { recursive: true, force: true });
      } catch (e) {
        const code = errnoOf(e);
        if (code !== 'EACCES' && code !== 'EPERM') throw e;
        await rename(path, join(dir, `.trash-${key}-${Date.now()}`));
        this.onWarning({
          code: 'W_GC_ROOTFS_TRASH',
          message: `gc: the unpacked rootfs ${key} holds files owned by subordinate IDs; it was moved to the trash, which the next \`berth run\` empties`,
          path,
        });
      }
      removed++;
    }
    return removed;
  }

  /** All names pointing at the given index.json digest (sorted). */
  async referencesTo(digest: string): Promise<Reference[]> {
    const index = await this.withLock('shared', () => this.readIndex());
    return index.manifests
      .filter((m) => m.digest === digest)
      .map((m) => entryReference(m))
      .filter((r): r is Reference => r !== undefined)
      .sort((a, b) => compareStrings(a.toString(), b.toString()));
  }
}

/** moby's isSingleReference: at most one tag, and every digest name is in that tag's repository. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return true;
  const tags = refs.filter((r) => r.digest === undefined);
  if (tags.length > 1) return false;
  const repos = new Set(refs.filter((r) => r.digest !== undefined).map((r) => r.name));
  const single = tags[0] ?? refs[0];
  return repos.size === 1 && repos.has(single.name);
}

