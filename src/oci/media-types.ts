/**
 * Media types of the OCI image spec (`specs-go/v1/mediatype.go`) and their Docker equivalents
 * (image-spec media-types.md compatibility matrix; distribution's schema2 manifest spec).
 */

export const MEDIA_TYPES = {
  ociLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated by image-spec 1.1: accepted, never produced, `urls` never followed. */
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',

  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  /** "Interchangeable and fully compatible" with the OCI +gzip layer type. */
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  /** Uncompressed layer as some Docker tools write it. */
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  /** moby writes this for zstd layers. */
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  /** Windows base layers ("foreign"): Docker's nondistributable type. */
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  /** Schema 1 (signed): recognised only to reject it with a clear error. */
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';

interface LayerInfo {
  compression: Compression;
  nondistributable: boolean;
}

const LAYERS: ReadonlyMap<string, LayerInfo> = new Map<string, LayerInfo>([
  [MEDIA_TYPES.ociLayer, { compression: 'none', nondistributable: false }],
  [MEDIA_TYPES.ociLayerGzip, { compression: 'gzip', nondistributable: false }],
  [MEDIA_TYPES.ociLayerZstd, { compression: 'zstd', nondistributable: false }],
  [MEDIA_TYPES.ociLayerNondistributable, { compression: 'none', nondistributable: true }],
  [MEDIA_TYPES.ociLayerNondistributableGzip, { compression: 'gzip', nondistributable: true }],
  [MEDIA_TYPES.ociLayerNondistributableZstd, { compression: 'zstd', nondistributable: true }],
  [MEDIA_TYPES.dockerLayerGzip, { compression: 'gzip', nondistributable: false }],
  [MEDIA_TYPES.dockerLayerTar, { compression: 'none', nondistributable: false }],
  [MEDIA_TYPES.dockerLayerZstd, { compression: 'zstd', nondistributable: false }],
  [MEDIA_TYPES.dockerLayerForeignGzip, { compression: 'gzip', nondistributable: true }],
  [MEDIA_TYPES.dockerLayerForeign, { compression: 'none', nondistributable: true }],
]);

/** True for every OCI and Docker filesystem-layer media type, including nondistributable ones. */
export function isLayerMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && LAYERS.has(mediaType);
}

/** The compression a layer media type declares; undefined for non-layer types. */
export function layerCompression(mediaType: string | undefined): Compression | undefined {
  return mediaType === undefined ? undefined : LAYERS.get(mediaType)?.compression;
}

/** Nondistributable ("foreign") layers: accepted, but their `urls` are never fetched implicitly. */
export function isNondistributableLayer(mediaType: string | undefined): boolean {
  return mediaType !== undefined && LAYERS.get(mediaType)?.nondistributable === true;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociManifest || mediaType === MEDIA_TYPES.dockerManifest;
}

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}

export function isConfigMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociConfig || mediaType === MEDIA_TYPES.dockerConfig;
}
