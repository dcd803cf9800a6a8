/**
 * The shape of one tar entry as berth's codec decodes and encodes it.
 *
 * Paths are *byte strings*: JavaScript strings whose code units are the raw bytes of the name
 * (latin1 / "binary" decoding). Linux file names are bytes, not text, and a layer must round-trip
 * names that are not valid UTF-8. Convert at the edges only:
 *   - to the filesystem: `Buffer.from(p, 'latin1')` (every fs call takes that Buffer);
 *   - to a human or to JSON meant for humans: `Buffer.from(p, 'latin1').toString('utf8')`;
 *   - from an image config string (UTF-8 JSON, e.g. WorkingDir): `Buffer.from(s, 'utf8').toString('latin1')`.
 * ASCII names are identical in both forms.
 */

/** A byte string (see the module comment). */
export type BytePath = string;

export type EntryType =
  | 'file' // '0', '\0', and '7' (contiguous) on read
  | 'hardlink' // '1'
  | 'symlink' // '2'
  | 'char' // '3'
  | 'block' // '4'
  | 'dir' // '5'
  | 'fifo'; // '6'

/** Seconds since the epoch plus nanoseconds; tar's ustar mtime has whole seconds, PAX adds ns. */
export interface TarTime {
  sec: number;
  nsec: number;
}

export interface TarHeader {
  /** Entry name as stored (PAX `path`, GNU `L`, or ustar prefix + name), a byte string. */
  path: BytePath;
  type: EntryType;
  /** Permission bits including setuid (04000), setgid (02000) and sticky (01000); no file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Size of the entry's data; 0 for everything but regular files. */
  size: number;
  mtime: TarTime;
  /** Symlink target or hardlink target (PAX `linkpath`, GNU `K`), a byte string. */
  linkname: BytePath;
  devmajor: number;
  devminor: number;
  /**
   * Extended attributes, name (a byte string) -> raw value bytes, from `SCHILY.xattr.*` (GNU tar,
   * raw bytes) and `LIBARCHIVE.xattr.*` (bsdtar, base64). Insertion order is kept; the encoder
   * writes them sorted.
   */
  xattrs: Map<string, Buffer>;
  /**
   * PAX records the codec does not interpret (e.g. `SCHILY.acl.access`, `comment`), kept
   * verbatim as key (a byte string) -> raw value bytes so re-encoding loses nothing. atime/ctime
   * are not kept; `GNU.sparse.*` records make the decoder refuse the entry (E_TAR_UNSUPPORTED).
   * Absent when there are none.
   */
  paxExtra?: Map<string, Buffer>;
}

/** One decoded entry: the header and its data (empty for non-files). */
export interface TarEntry {
  header: TarHeader;
  /**
   * The entry's data, streamed (the decoder never buffers a whole entry). It may be iterated at
   * most once, and only before the decoder is asked for the next entry; whatever the consumer
   * leaves unread is skipped when it asks for the next entry. The chunks are views of the input
   * chunks (no copy): they stay valid unless the producer reuses its buffers.
   */
  body: AsyncIterable<Buffer>;
}

/** Limits for untrusted archives (layers-and-capabilities.md section 5 row 20). */
export interface TarLimits {
  /** Largest PAX extended header (x or g) or GNU long name/link, in bytes. Default 1 MiB. */
  maxMetaSize: number;
  /** Largest single xattr value. Default 65536 (XATTR_SIZE_MAX). */
  maxXattrSize: number;
  /** Most entries in one archive. Default 10,000,000. */
  maxEntries: number;
}

export const defaultTarLimits: TarLimits = {
  maxMetaSize: 1 << 20,
  maxXattrSize: 65536,
  maxEntries: 10_000_000,
};
