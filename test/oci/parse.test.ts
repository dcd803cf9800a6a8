/**
 * Parsers of untrusted image documents and the media-type predicates.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MEDIA_TYPES,
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  isNondistributableLayer,
  layerCompression,
  parseImageConfig,
  parseImageIndex,
  parseImageLayoutHeader,
  parseManifest,
} from '../../src/oci/index.js';
import { isBerthError } from '../../src/errors/index.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const ociManifest = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  config: { mediaType: MEDIA_TYPES.ociConfig, digest: D1, size: 7 },
  layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: D2, size: 100, annotations: { a: 'b' } }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  futureField: { kept: true },
};
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.dockerManifest,
  config: { mediaType: MEDIA_TYPES.dockerConfig, digest: D1, size: 7 },
  layers: [{ mediaType: MEDIA_TYPES.dockerLayerGzip, digest: D2, size: 100 }],
};
const config = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-01-01T00:00:00Z',
  config: {
    User: '1000:1000',
    Env: ['PATH=/usr/bin'],
    Entrypoint: null,
    Cmd: ['sh'],
    WorkingDir: '/app',
    Labels: { a: 'b' },
    ExposedPorts: { '80/tcp': {} },
    Volumes: { '/data': {} },
    StopSignal: 'SIGTERM',
    ArgsEscaped: true,
    Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 },
  },
  rootfs: { type: 'layers', diff_ids: [D2] },
  history: [{ created_by: 'ADD x', empty_layer: false }],
};

const j = (v: unknown) => JSON.stringify(v);

describe('document parsers: valid documents', () => {
  test('OCI manifest (unknown fields kept)', () => {
    assert.deepEqual(parseManifest(j(ociManifest)), ociManifest);
  });
  test('Docker schema2 manifest', () => {
    assert.deepEqual(parseManifest(Buffer.from(j(dockerManifest))), dockerManifest);
  });
  test('OCI manifest without mediaType', () => {
    const { mediaType: _m, ...m } = ociManifest;
    assert.deepEqual(parseManifest(j(m)), m);
  });
  test('image index with platforms', () => {
    const ix = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        { mediaType: MEDIA_TYPES.ociManifest, digest: D1, size: 1, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: 'application/vnd.example.unknown', digest: D2, size: 2 },
      ],
    };
    assert.deepEqual(parseImageIndex(j(ix)), ix);
  });
  test('image config with every config field', () => {
    assert.deepEqual(parseImageConfig(j(config)), config);
  });
  test('oci-layout 1.0.0', () => {
    assert.deepEqual(parseImageLayoutHeader('{"imageLayoutVersion":"1.0.0"}'), { imageLayoutVersion: '1.0.0' });
  });
});

describe('document parsers: invalid documents', () => {
  const cases: { doc: string; parse: () => unknown; code: string; message: RegExp }[] = [
    { doc: 'manifest: not JSON', parse: () => parseManifest('{'), code: 'E_MANIFEST_INVALID', message: /not valid JSON/ },
    { doc: 'manifest: schema 1', parse: () => parseManifest(j({ schemaVersion: 1, name: 'x' })), code: 'E_MANIFEST_UNSUPPORTED', message: /schema 1/ },
    { doc: 'manifest: schema 1 media type', parse: () => parseManifest(j({ ...dockerManifest, mediaType: MEDIA_TYPES.dockerManifestV1Signed })), code: 'E_MANIFEST_UNSUPPORTED', message: /schema 1/ },
    { doc: 'manifest: schemaVersion 3', parse: () => parseManifest(j({ ...ociManifest, schemaVersion: 3 })), code: 'E_MANIFEST_INVALID', message: /schemaVersion: expected 2/ },
    { doc: 'manifest: an index', parse: () => parseManifest(j({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] })), code: 'E_MANIFEST_INVALID', message: /is an image index/ },
    { doc: 'manifest: missing config', parse: () => parseManifest(j({ ...ociManifest, config: undefined })), code: 'E_MANIFEST_INVALID', message: /config: expected an object/ },
    { doc: 'manifest: layers not an array', parse: () => parseManifest(j({ ...ociManifest, layers: {} })), code: 'E_MANIFEST_INVALID', message: /layers: expected an array/ },
    { doc: 'manifest: bad layer digest', parse: () => parseManifest(j({ ...ociManifest, layers: [{ mediaType: 'x', digest: 'sha256:12', size: 1 }] })), code: 'E_MANIFEST_INVALID', message: /layers\[0\]\.digest/ },
    { doc: 'manifest: negative size', parse: () => parseManifest(j({ ...ociManifest, config: { ...ociManifest.config, size: -1 } })), code: 'E_MANIFEST_INVALID', message: /config\.size: expected a non-negative integer/ },
    { doc: 'manifest: fractional size', parse: () => parseManifest(j({ ...ociManifest, config: { ...ociManifest.config, size: 1.5 } })), code: 'E_MANIFEST_INVALID', message: /config\.size/ },
    { doc: 'manifest: empty media type', parse: () => parseManifest(j({ ...ociManifest, config: { ...ociManifest.config, mediaType: '' } })), code: 'E_MANIFEST_INVALID', message: /empty media type/ },
    { doc: 'manifest: annotation not a string', parse: () => parseManifest(j({ ...ociManifest, annotations: { a: 1 } })), code: 'E_MANIFEST_INVALID', message: /annotations\.a/ },
    { doc: 'manifest: array at top level', parse: () => parseManifest('[]'), code: 'E_MANIFEST_INVALID', message: /expected an object/ },
    { doc: 'index: a manifest', parse: () => parseImageIndex(j(ociManifest)), code: 'E_INDEX_INVALID', message: /is an image manifest/ },
    { doc: 'index: manifests missing', parse: () => parseImageIndex(j({ schemaVersion: 2 })), code: 'E_INDEX_INVALID', message: /manifests: expected an array/ },
    { doc: 'index: platform without os', parse: () => parseImageIndex(j({ schemaVersion: 2, manifests: [{ mediaType: 'x', digest: D1, size: 1, platform: { architecture: 'amd64' } }] })), code: 'E_INDEX_INVALID', message: /platform\.os/ },
    { doc: 'config: rootfs missing', parse: () => parseImageConfig(j({ ...config, rootfs: undefined })), code: 'E_CONFIG_INVALID', message: /rootfs: expected an object/ },
    { doc: 'config: rootfs type', parse: () => parseImageConfig(j({ ...config, rootfs: { type: 'tar', diff_ids: [] } })), code: 'E_CONFIG_INVALID', message: /rootfs\.type/ },
    { doc: 'config: bad diff_id', parse: () => parseImageConfig(j({ ...config, rootfs: { type: 'layers', diff_ids: ['sha256:zz'] } })), code: 'E_CONFIG_INVALID', message: /diff_ids\[0\]/ },
    { doc: 'config: os missing', parse: () => parseImageConfig(j({ ...config, os: undefined })), code: 'E_CONFIG_INVALID', message: /os: expected a string/ },
    { doc: 'config: Env not strings', parse: () => parseImageConfig(j({ ...config, config: { Env: [1] } })), code: 'E_CONFIG_INVALID', message: /config\.Env\[0\]/ },
    { doc: 'config: User not a string', parse: () => parseImageConfig(j({ ...config, config: { User: 0 } })), code: 'E_CONFIG_INVALID', message: /config\.User/ },
    { doc: 'config: Healthcheck interval', parse: () => parseImageConfig(j({ ...config, config: { Healthcheck: { Interval: -5 } } })), code: 'E_CONFIG_INVALID', message: /Healthcheck\.Interval/ },
    { doc: 'config: ArgsEscaped not boolean', parse: () => parseImageConfig(j({ ...config, config: { ArgsEscaped: 'yes' } })), code: 'E_CONFIG_INVALID', message: /ArgsEscaped/ },
    { doc: 'config: history entry', parse: () => parseImageConfig(j({ ...config, history: [{ empty_layer: 'no' }] })), code: 'E_CONFIG_INVALID', message: /history\[0\]\.empty_layer/ },
    { doc: 'layout: version 2', parse: () => parseImageLayoutHeader('{"imageLayoutVersion":"2.0.0"}'), code: 'E_LAYOUT_INVALID', message: /unsupported version/ },
    { doc: 'layout: missing version', parse: () => parseImageLayoutHeader('{}'), code: 'E_LAYOUT_INVALID', message: /imageLayoutVersion/ },
  ];
  for (const c of cases) {
    test(c.doc, () => {
      assert.throws(c.parse, (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, c.code);
        assert.match(e.message, c.message);
        return true;
      });
    });
  }

  test('arbitrary JSON never crashes a parser: it parses or fails with a BerthError', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        for (const p of [parseManifest, parseImageIndex, parseImageConfig]) {
          try {
            p(text);
          } catch (e) {
            assert.ok(isBerthError(e), String(e));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('media types', () => {
  const layers: [string, string, boolean][] = [
    [MEDIA_TYPES.ociLayer, 'none', false],
    [MEDIA_TYPES.ociLayerGzip, 'gzip', false],
    [MEDIA_TYPES.ociLayerZstd, 'zstd', false],
    [MEDIA_TYPES.ociLayerNondistributableGzip, 'gzip', true],
    [MEDIA_TYPES.dockerLayerGzip, 'gzip', false],
    [MEDIA_TYPES.dockerLayerForeignGzip, 'gzip', true],
    [MEDIA_TYPES.dockerLayerZstd, 'zstd', false],
  ];
  for (const [mt, compression, nondist] of layers) {
    test(`layer ${mt}`, () => {
      assert.ok(isLayerMediaType(mt));
      assert.equal(layerCompression(mt), compression);
      assert.equal(isNondistributableLayer(mt), nondist);
    });
  }
  test('non-layer types', () => {
    for (const mt of [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociConfig, MEDIA_TYPES.dockerManifestList, 'application/octet-stream', undefined]) {
      assert.equal(isLayerMediaType(mt), false, String(mt));
      assert.equal(layerCompression(mt), undefined);
    }
  });
  test('manifest, index and config predicates', () => {
    assert.ok(isManifestMediaType(MEDIA_TYPES.ociManifest) && isManifestMediaType(MEDIA_TYPES.dockerManifest));
    assert.ok(isIndexMediaType(MEDIA_TYPES.ociIndex) && isIndexMediaType(MEDIA_TYPES.dockerManifestList));
    assert.ok(isConfigMediaType(MEDIA_TYPES.ociConfig) && isConfigMediaType(MEDIA_TYPES.dockerConfig));
    assert.equal(isManifestMediaType(MEDIA_TYPES.ociIndex), false);
    assert.equal(isIndexMediaType(MEDIA_TYPES.ociManifest), false);
  });
});
