/**
 * store/: berth's image store on disk: an OCI image layout (oci-layout, index.json,
 * blobs/<alg>/<hex>) that skopeo and umoci can read, plus berth's metadata under berth/ (per-layer
 * file indexes and ID sets, writer sessions, the lock). It owns atomic writes, locking between
 * processes, verified reads, image names and garbage collection. docs/store.md describes the
 * layout and the rules.
 */
export {
  Store,
  type StoreOpenOptions,
  type BlobInfo,
  type ByteSource,
  type PutImageInput,
  type PutImageResult,
  type ResolvedImage,
  type ImageSummary,
  type RemoveResult,
  type GcResult,
} from './store.js';
export { defaultStoreRoot, StorePaths } from './paths.js';
export { entryReference, refNameOf, storedReference } from './refs.js';
/** Hashing while streaming, for callers that need the digest of data they also consume. */
export { tapDigest, hashStream, Digester, digestOf, type DigestTap } from '../oci/digest.js';
