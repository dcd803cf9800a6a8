/**
 * oci/: the pure vocabulary of container images: image-spec and Docker schema2 document types,
 * media types, digests and chain IDs, image references with Docker's normalisation, and
 * validating parsers for untrusted manifests, indexes and configs. No I/O.
 */
export type {
  Descriptor,
  Platform,
  Manifest,
  ImageIndex,
  ImageConfig,
  ContainerConfig,
  HealthConfig,
  HistoryEntry,
  ImageLayoutHeader,
} from './types.js';
export {
  MEDIA_TYPES,
  isLayerMediaType,
  layerCompression,
  isNondistributableLayer,
  isManifestMediaType,
  isIndexMediaType,
  isConfigMediaType,
  type Compression,
} from './media-types.js';
export {
  parseDigest,
  isDigest,
  validateDigest,
  digestOf,
  Digester,
  tapDigest,
  hashStream,
  chainId,
  chainIds,
  type DigestAlgorithm,
  type ParsedDigest,
  type DigestTap,
} from './digest.js';
export { Reference, parseReference, isNormalizedReference, familiarName, familiarRepository, type ParseReferenceOptions } from './reference.js';
export { linuxPlatform } from './platform.js';
export { parseManifest, parseImageIndex, parseImageConfig, parseImageLayoutHeader } from './parse.js';

/** Annotation keys berth reads and writes on index.json entries. */
export const ANNOTATIONS = {
  /** image-spec annotations.md: the name of a reference in an image layout. */
  refName: 'org.opencontainers.image.ref.name',
  /** containerd/Docker 25+: the full image name, beside a bare tag in refName. */
  containerdImageName: 'io.containerd.image.name',
  created: 'org.opencontainers.image.created',
} as const;
