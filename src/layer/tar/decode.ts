/**
 * Streaming tar decoder: ustar, GNU (L/K long names, base-256 numbers) and POSIX pax (x, g).
 *
 * Invariants:
 * - Bounded memory: a header, at most one pending pax/long-name block per kind (each at most
 *   `maxMetaSize`), the global pax records (at most `maxMetaSize` in total) and one incoming
 *   chunk. Entry data is never accumulated: the body yields slices of the incoming chunks.
 * - Byte-exact metadata: paths, link targets, pax keys and xattr names are byte strings; pax
 *   values are kept as bytes; xattr values are copied out of the input, never text-decoded.
 * - Every structural problem is a BerthError naming the entry number (1-based, counting the
 *   entries this decoder yields) and the byte offset of the header it concerns.
 * - The input is read to its end (after the end marker, the rest is discarded unread-for-meaning)
 *   so a digest computed over the stream by the producer covers every byte; a consumer that
 *   stops early makes the decoder close the input instead.
 */

import { BerthError, ignoreWarnings, type WarningSink } from '../../errors/index.js';
import { ByteSource } from './byte-source.js';
import {
  BLOCK_SIZE,
  F,
  FieldError,
  ZERO_BLOCK,
  signedChecksum,
  unsignedChecksum,
  headerFormat,
  readBytesField,
  readNumberField,
  readTextField,
  newHeader,
} from './header.js';
import {
  GNU_SPARSE,
  LIBARCHIVE_XATTR,
  SCHILY_XATTR,
  decodeBase64,
  decodeLibarchiveName,
  decodeSchilyName,
  parsePaxInteger,
  parsePaxRecords,
  parsePaxTime,
} from './pax.js';
import { defaultTarLimits, type EntryType, type TarEntry, type TarHeader, type TarLimits } from './types.js';

export interface DecodeTarOptions {
  /** Limits for untrusted input; unset fields take `defaultTarLimits`. */
  limits?: Partial<TarLimits>;
  /** Receives W_TAR_NO_EOF_MARKER and W_TAR_IGNORED_SIZE. */
  onWarning?: WarningSink;
}

const HINT_CORRUPT = 'the archive is corrupt or was written by a broken tool; re-create it or check its digest';
const HINT_TRUNCATED = 'the archive is incomplete: re-download or re-create it';

const TYPES: Record<number, EntryType> = {
  0x30: 'file', // '0'
  0x00: 'file', // '\0' (pre-POSIX regular file)
  0x37: 'file', // '7' contiguous file, a regular file everywhere but on old Masscomp systems
  0x31: 'hardlink',
  0x32: 'symlink',
  0x33: 'char',
  0x34: 'block',
  0x35: 'dir',
  0x36: 'fifo',
};

/** Types that never carry data, whatever their size field says (as Go's archive/tar reads them). */
const HEADER_ONLY: ReadonlySet<EntryType> = new Set(['hardlink', 'symlink', 'char', 'block', 'dir', 'fifo']);

/** State of one entry's body, shared by the body iterator and the decoder loop. */
interface BodyState {
  remaining: number;
  padding: number;
  size: number;
  headerOffset: number;
  /** The decoder moved past this entry: its unread data is gone. */
  stale: boolean;
  iterated: boolean;
}

function normaliseLimits(partial: Partial<TarLimits> | undefined): TarLimits {
  const out: TarLimits = { ...defaultTarLimits };
  if (partial === undefined) return out;
  const allowed = Object.keys(defaultTarLimits);
  for (const [k, v] of Object.entries(partial)) {
    if (!allowed.includes(k)) {
      throw new BerthError('E_OPTION_UNKNOWN', `decodeTar(): unknown limit "${k}"`, {
        hint: `valid limits: ${allowed.join(', ')}`,
      });
    }
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0) || !(Number.isInteger(v) || v === Infinity)) {
      throw new BerthError('E_OPTION_INVALID', `decodeTar(): limit "${k}" must be a non-negative integer, got ${String(v)}`);
    }
    out[k as keyof TarLimits] = v;
  }
  return out;
}

/** A byte-string path made readable for messages (UTF-8 where valid, escaped otherwise). */
export function displayPath(p: string): string {
  return JSON.stringify(Buffer.from(p, 'latin1').toString('utf8'));
}

/**
 * Decodes a tar stream into entries. Each entry's `body` must be read (or abandoned) before the
 * next entry is requested; unread data is skipped then. See the module comment for invariants
 * and docs/tar-codec.md for the accepted format subset.
 */
export async function* decodeTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: DecodeTarOptions = {},
): AsyncGenerator<TarEntry> {
  const limits = normaliseLimits(opts.limits);
  const warn = opts.onWarning ?? ignoreWarnings;
  const src = new ByteSource(source);

  let entryNo = 0; // entries yielded so far
  let headerOffset = 0; // offset of the header block being decoded
  /** What errors name: the entry (1-based) and header offset they concern. */
  const at = { entry: 1, offset: 0 };
  let global = new Map<string, Buffer>();
  let local: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  let pendingMeta = 0; // bytes of x/L/K data waiting for their entry
  let body: BodyState | null = null;
  let finished = false;

  const where = (path?: string): string =>
    `decode tar entry #${at.entry}${path === undefined ? '' : ` ${displayPath(path)}`} (header at byte ${at.offset})`;
  const fail = (code: string, reason: string, hint: string, details: Record<string, unknown> = {}, path?: string) =>
    new BerthError(code, `${where(path)}: ${reason}`, {
      hint,
      details: { entry: at.entry, offset: at.offset, ...(path === undefined ? {} : { path }), ...details },
    });
  const fieldFail = (e: unknown, path?: string): unknown =>
    e instanceof FieldError
      ? fail('E_TAR_HEADER', `malformed ${e.field}: ${e.reason}`, HINT_CORRUPT, { field: e.field }, path)
      : e;

  /** Reads the data of a pax/long-name header, within the meta limit. */
  const readMeta = async (block: Buffer, kind: string, isGlobal: boolean): Promise<Buffer> => {
    let size: number;
    try {
      size = readNumberField(block, F.size[0], F.size[1], 'size');
    } catch (e) {
      throw fieldFail(e);
    }
    // Global records are bounded by their accumulated total (checked by the caller); the
    // headers of one entry (x, L, K) are bounded together.
    const total = isGlobal ? size : pendingMeta + size;
    if (total > limits.maxMetaSize) {
      throw fail(
        'E_TAR_LIMIT_META',
        `${kind} metadata of ${total} bytes exceeds the limit of ${limits.maxMetaSize} bytes`,
        'the archive may be hostile; if it is trusted, raise limits.maxMetaSize',
        { size: total, limit: limits.maxMetaSize },
      );
    }
    const data = src.readBuffered(size) ?? (await src.read(size));
    if (data.length < size) {
      throw fail('E_TAR_TRUNCATED', `archive ends inside ${kind} metadata (${data.length} of ${size} bytes)`, HINT_TRUNCATED);
    }
    const pad = (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
    // Copy: the view points into a producer's chunk, which it may reuse after the next read.
    const copy = Buffer.from(data);
    let skipped = src.skipBuffered(pad);
    if (skipped < pad) skipped += await src.skip(pad - skipped);
    if (skipped < pad) {
      throw fail('E_TAR_TRUNCATED', `archive ends inside the padding of ${kind} metadata`, HINT_TRUNCATED);
    }
    if (!isGlobal) pendingMeta += size;
    return copy;
  };

  const parseRecords = (data: Buffer, into: Map<string, Buffer>, isGlobal: boolean): void => {
    try {
      parsePaxRecords(data, (key, value) => {
        if (key.startsWith(GNU_SPARSE)) {
          throw fail('E_TAR_UNSUPPORTED', `GNU sparse file (pax record ${key})`, HINT_SPARSE, { record: key });
        }
        // POSIX: in a global header an empty value removes the keyword. In a per-entry header
        // it is kept: for the keywords the decoder applies, empty means "use the header field";
        // xattr and unknown records keep their (empty) value.
        if (isGlobal && value.length === 0) into.delete(key);
        else into.set(key, value);
      });
    } catch (e) {
      throw fieldFail(e);
    }
  };

  try {
    for (;;) {
      if (body !== null) {
        const b = body;
        body = null;
        b.stale = true;
        at.entry = entryNo;
        at.offset = b.headerOffset;
        if (b.remaining > 0) {
          const want = b.remaining;
          let got = src.skipBuffered(want);
          if (got < want) got += await src.skip(want - got);
          b.remaining -= got;
          if (got < want) {
            throw fail(
              'E_TAR_TRUNCATED',
              `archive ends inside the body (${b.size - b.remaining} of ${b.size} bytes)`,
              HINT_TRUNCATED,
            );
          }
        }
        if (b.padding > 0) {
          let got = src.skipBuffered(b.padding);
          if (got < b.padding) got += await src.skip(b.padding - got);
          if (got < b.padding) {
            throw fail('E_TAR_TRUNCATED', 'archive ends inside the padding after the body', HINT_TRUNCATED);
          }
        }
      }

      headerOffset = src.offset;
      at.entry = entryNo + 1;
      at.offset = headerOffset;
      const hasPending = local !== null || longName !== null || longLink !== null;
      const block = src.readBuffered(BLOCK_SIZE) ?? (await src.read(BLOCK_SIZE));

      if (block.length === 0) {
        if (hasPending) {
          throw fail('E_TAR_TRUNCATED', 'archive ends after an extended header, before its entry', HINT_TRUNCATED);
        }
        if (headerOffset === 0) {
          throw fail('E_TAR_TRUNCATED', 'the input is empty', 'an empty tar archive is 1024 zero bytes; check the source');
        }
        warn({
          code: 'W_TAR_NO_EOF_MARKER',
          message: `decode tar: archive ends at byte ${headerOffset} without the end-of-archive marker`,
          details: { offset: headerOffset, zeroBlocks: 0 },
        });
        break;
      }
      if (block.length < BLOCK_SIZE) {
        throw fail('E_TAR_TRUNCATED', `archive ends inside a header (${block.length} of 512 bytes)`, HINT_TRUNCATED);
      }

      if (block.equals(ZERO_BLOCK)) {
        if (hasPending) {
          throw fail('E_TAR_HEADER', 'an extended header is followed by the end-of-archive marker', HINT_CORRUPT);
        }
        const second = await src.read(BLOCK_SIZE);
        if (second.length === 0 || (second.length < BLOCK_SIZE && second.equals(ZERO_BLOCK.subarray(0, second.length)))) {
          warn({
            code: 'W_TAR_NO_EOF_MARKER',
            message: `decode tar: archive ends at byte ${src.offset} after a single zero block`,
            details: { offset: src.offset, zeroBlocks: 1 },
          });
          break;
        }
        if (second.length < BLOCK_SIZE) {
          throw fail('E_TAR_TRUNCATED', `archive ends inside a header (${second.length} of 512 bytes)`, HINT_TRUNCATED);
        }
        if (second.equals(ZERO_BLOCK)) break;
        // Go's archive/tar refuses this too: tools that stop at the zero block and tools that
        // skip it would see different contents.
        at.offset += BLOCK_SIZE;
        throw fail('E_TAR_HEADER', 'a single zero block is followed by more headers', HINT_CORRUPT);
      }

      verifyChecksum(block, fail, headerOffset === 0);

      const flag = block[F.typeflag[0]];
      if (flag === 0x78 /* x */) {
        const data = await readMeta(block, 'pax', false);
        local ??= new Map();
        parseRecords(data, local, false);
        continue;
      }
      if (flag === 0x67 /* g */) {
        const data = await readMeta(block, 'global pax', true);
        const next = new Map(global);
        parseRecords(data, next, true);
        let total = 0;
        for (const [k, v] of next) total += k.length + v.length;
        if (total > limits.maxMetaSize) {
          throw fail(
            'E_TAR_LIMIT_META',
            `global pax records total ${total} bytes, over the limit of ${limits.maxMetaSize} bytes`,
            'the archive may be hostile; if it is trusted, raise limits.maxMetaSize',
            { size: total, limit: limits.maxMetaSize },
          );
        }
        global = next;
        continue;
      }
      if (flag === 0x4c /* L */ || flag === 0x4b /* K */) {
        const data = await readMeta(block, flag === 0x4c ? 'GNU long name' : 'GNU long link', false);
        const nul = data.indexOf(0);
        const value = data.toString('latin1', 0, nul === -1 ? data.length : nul);
        if (flag === 0x4c) longName = value;
        else longLink = value;
        continue;
      }

      let type = TYPES[flag];
      if (type === undefined) {
        const name = readBytesField(block, F.name[0], F.name[1]);
        const shown = flag >= 0x20 && flag < 0x7f ? `'${String.fromCharCode(flag)}'` : `0x${flag.toString(16)}`;
        throw fail(
          'E_TAR_UNSUPPORTED',
          flag === 0x53 ? 'GNU sparse file (typeflag S)' : `unsupported entry type ${shown}`,
          flag === 0x53 ? HINT_SPARSE : 'berth reads regular files, links, devices, directories and FIFOs only',
          { typeflag: shown },
          longName ?? name,
        );
      }

      // Entry header.
      const format = headerFormat(block);
      let path = readBytesField(block, F.name[0], F.name[1]);
      if (format === 'ustar') {
        const prefix = readBytesField(block, F.prefix[0], F.prefix[1]);
        if (prefix !== '') path = `${prefix}/${path}`;
      }
      let linkname = readBytesField(block, F.linkname[0], F.linkname[1]);
      if (longName !== null) path = longName;
      if (longLink !== null) linkname = longLink;

      const header: TarHeader = newHeader(path, { type, mode: 0, linkname });
      try {
        // Some writers put the file-type bits (S_IFREG...) in the mode field: keep the permissions.
        header.mode = readNumberField(block, F.mode[0], F.mode[1], 'mode') & 0o7777;
        header.uid = readNumberField(block, F.uid[0], F.uid[1], 'uid');
        header.gid = readNumberField(block, F.gid[0], F.gid[1], 'gid');
        header.size = readNumberField(block, F.size[0], F.size[1], 'size');
        header.mtime.sec = readNumberField(block, F.mtime[0], F.mtime[1], 'mtime', true);
        if (format !== 'v7') {
          header.uname = readTextField(block, F.uname[0], F.uname[1]);
          header.gname = readTextField(block, F.gname[0], F.gname[1]);
          header.devmajor = readNumberField(block, F.devmajor[0], F.devmajor[1], 'devmajor');
          header.devminor = readNumberField(block, F.devminor[0], F.devminor[1], 'devminor');
        }
        if (local !== null || global.size > 0) applyPax(header, global, local, limits, fail);
      } catch (e) {
        throw fieldFail(e, header.path);
      }

      // Pre-POSIX archives mark directories with a trailing slash on a '\0' regular file.
      if (flag === 0 && header.path.endsWith('/')) type = header.type = 'dir';

      if (HEADER_ONLY.has(type) && header.size !== 0) {
        warn({
          code: 'W_TAR_IGNORED_SIZE',
          message: `${where(header.path)}: size ${header.size} ignored, a ${type} entry has no data`,
          path: header.path,
          details: { entry: entryNo + 1, offset: headerOffset, size: header.size },
        });
        header.size = 0;
      }

      if (entryNo + 1 > limits.maxEntries) {
        throw fail(
          'E_TAR_LIMIT_ENTRIES',
          `more than ${limits.maxEntries} entries`,
          'the archive may be hostile; if it is trusted, raise limits.maxEntries',
          { limit: limits.maxEntries },
          header.path,
        );
      }

      local = null;
      longName = null;
      longLink = null;
      pendingMeta = 0;

      const state: BodyState = {
        remaining: header.size,
        padding: (BLOCK_SIZE - (header.size % BLOCK_SIZE)) % BLOCK_SIZE,
        size: header.size,
        headerOffset,
        stale: false,
        iterated: false,
      };
      body = state;
      entryNo++;
      const no = entryNo;
      const entryPath = header.path;
      const entryHeaderOffset = headerOffset;
      yield {
        header,
        body: {
          [Symbol.asyncIterator]: () => readBody(src, state, no, entryPath, entryHeaderOffset),
        },
      };
    }
    // End of archive: read the rest so the producer's digest covers it (see module comment).
    await src.drain();
    finished = true;
  } catch (e) {
    finished = true;
    // Closing is best effort here: the decode error is the one to report.
    await src.close().catch(() => undefined);
    throw e;
  } finally {
    // Reached without an error only when the consumer stopped early.
    if (!finished) await src.close();
  }
}

const HINT_SPARSE =
  'OCI layers should not contain sparse files; re-create the archive without --sparse (GNU tar -S)';

type Fail = (code: string, reason: string, hint: string, details?: Record<string, unknown>, path?: string) => BerthError;

function verifyChecksum(block: Buffer, fail: Fail, first: boolean): void {
  let stored: number;
  try {
    stored = readNumberField(block, F.chksum[0], F.chksum[1], 'chksum');
  } catch {
    stored = -1;
  }
  const unsigned = unsignedChecksum(block);
  // Historic writers (old Sun tar) summed signed chars; POSIX uses unsigned. Both are accepted,
  // as GNU tar and Go's archive/tar do.
  if (stored === unsigned || stored === signedChecksum(block)) return;
  const shown = JSON.stringify(block.toString('latin1', F.chksum[0], F.chksum[0] + F.chksum[1]));
  throw fail(
    'E_TAR_CHECKSUM',
    `header checksum mismatch (stored ${shown}, computed ${unsigned.toString(8)})`,
    first
      ? 'this is not a tar archive, or it is still compressed; check the media type and the data'
      : HINT_CORRUPT,
    { stored: block.toString('latin1', F.chksum[0], F.chksum[0] + F.chksum[1]), computed: unsigned },
  );
}

/**
 * Applies the effective pax records (global, then per-entry overriding) to a header read from
 * the ustar fields. Known keywords with an empty value leave the header field as it is.
 */
function applyPax(
  h: TarHeader,
  global: Map<string, Buffer>,
  local: Map<string, Buffer> | null,
  limits: TarLimits,
  fail: Fail,
): void {
  let records = global;
  if (local !== null) {
    if (global.size === 0) records = local;
    else {
      records = new Map(global);
      for (const [k, v] of local) records.set(k, v);
    }
  }
  let schily: Map<string, Buffer> | null = null;
  let libarchive: Map<string, Buffer> | null = null;
  let extra: Map<string, Buffer> | null = null;

  const checkXattrSize = (name: string, n: number): void => {
    if (n > limits.maxXattrSize) {
      throw fail(
        'E_TAR_LIMIT_XATTR',
        `xattr ${displayPath(name)} has ${n} bytes, over the limit of ${limits.maxXattrSize}`,
        'Linux stores at most 65536 bytes per xattr value (XATTR_SIZE_MAX); the archive may be hostile',
        { xattr: name, size: n, limit: limits.maxXattrSize },
        h.path,
      );
    }
  };
  const checkXattrName = (name: string, key: string): void => {
    if (name === '' || name.includes('\0')) {
      throw new FieldError(`pax record ${JSON.stringify(key)}`, 'xattr name is empty or contains a NUL byte');
    }
  };

  for (const [key, value] of records) {
    switch (key) {
      case 'path':
        if (value.length > 0) h.path = value.toString('latin1');
        break;
      case 'linkpath':
        if (value.length > 0) h.linkname = value.toString('latin1');
        break;
      case 'size':
        if (value.length > 0) h.size = parsePaxInteger(value, 'pax size');
        break;
      case 'uid':
        if (value.length > 0) h.uid = parsePaxInteger(value, 'pax uid');
        break;
      case 'gid':
        if (value.length > 0) h.gid = parsePaxInteger(value, 'pax gid');
        break;
      case 'uname':
        if (value.length > 0) h.uname = value.toString('utf8');
        break;
      case 'gname':
        if (value.length > 0) h.gname = value.toString('utf8');
        break;
      case 'mtime':
        if (value.length > 0) h.mtime = parsePaxTime(value, 'pax mtime');
        break;
      case 'atime':
      case 'ctime':
        // Dropped: they change on every read of the source tree and make layers irreproducible.
        break;
      default:
        if (key.startsWith(SCHILY_XATTR)) {
          const name = decodeSchilyName(key.slice(SCHILY_XATTR.length));
          checkXattrName(name, key);
          checkXattrSize(name, value.length);
          (schily ??= new Map()).set(name, value);
        } else if (key.startsWith(LIBARCHIVE_XATTR)) {
          const name = decodeLibarchiveName(key.slice(LIBARCHIVE_XATTR.length));
          checkXattrName(name, key);
          // base64 is 4/3 of the value: refuse hostile sizes before decoding.
          checkXattrSize(name, Math.floor((value.length * 3) / 4));
          const bytes = decodeBase64(value.toString('latin1'));
          if (bytes === null) throw new FieldError(`pax record ${JSON.stringify(key)}`, 'value is not base64');
          (libarchive ??= new Map()).set(name, bytes);
        } else {
          (extra ??= new Map()).set(key, value);
        }
    }
  }

  if (schily !== null) for (const [name, v] of schily as Map<string, Buffer>) h.xattrs.set(name, v);
  if (libarchive !== null) {
    for (const [name, v] of libarchive as Map<string, Buffer>) {
      const other = h.xattrs.get(name);
      if (other === undefined) h.xattrs.set(name, v);
      else if (!other.equals(v)) {
        throw fail(
          'E_TAR_XATTR_CONFLICT',
          `xattr ${displayPath(name)} has different SCHILY.xattr and LIBARCHIVE.xattr values`,
          'the archive is inconsistent; re-create it with one tool',
          { xattr: name },
          h.path,
        );
      }
    }
  }
  if (extra !== null) h.paxExtra = extra;
}

/** The body iterator of one entry: slices of the input, never more than the entry's size. */
async function* readBody(
  src: ByteSource,
  st: BodyState,
  entryNo: number,
  path: string,
  headerOffset: number,
): AsyncGenerator<Buffer> {
  if (st.size === 0) return;
  const where = (): string => `read tar entry #${entryNo} ${displayPath(path)} (header at byte ${headerOffset})`;
  if (st.stale) {
    throw new BerthError('E_TAR_BODY_STALE', `${where()}: the decoder has moved past this entry`, {
      hint: "read each entry's body before asking the decoder for the next entry",
      details: { entry: entryNo, path },
    });
  }
  if (st.iterated) {
    throw new BerthError('E_TAR_BODY_STALE', `${where()}: the body was already iterated`, {
      hint: 'an entry body can be iterated once; keep the data if it is needed twice',
      details: { entry: entryNo, path },
    });
  }
  st.iterated = true;
  while (st.remaining > 0) {
    if (st.stale) {
      throw new BerthError('E_TAR_BODY_STALE', `${where()}: the decoder has moved past this entry`, {
        hint: "read each entry's body before asking the decoder for the next entry",
        details: { entry: entryNo, path },
      });
    }
    const b = await src.take(st.remaining);
    if (b === null) {
      throw new BerthError(
        'E_TAR_TRUNCATED',
        `${where()}: archive ends inside the body (${st.size - st.remaining} of ${st.size} bytes)`,
        { hint: HINT_TRUNCATED, details: { entry: entryNo, offset: headerOffset, path } },
      );
    }
    st.remaining -= b.length;
    yield b;
  }
}
