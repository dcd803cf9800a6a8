/**
 * Images: storing, naming, resolving by name / ID / digest, listing, Docker's rmi rules,
 * entries written by other tools, multi-platform indexes, and per-layer metadata.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { MEDIA_TYPES, digestOf, parseReference, type Descriptor, type ImageIndex } from '../../src/oci/index.js';
import { FileIndexBuilder, type FileIndex } from '../../src/layer/fileindex.js';
import { isCode, putSampleImage, tempDir, type SampleImage } from './helpers.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

function readIndexJson(store: Store): ImageIndex {
  return JSON.parse(readFileSync(join(store.root, 'index.json'), 'utf8')) as ImageIndex;
}

function writeIndexJson(store: Store, index: ImageIndex): void {
  writeFileSync(join(store.root, 'index.json'), JSON.stringify(index));
}

describe('images: store and resolve', () => {
  let t: { dir: string; cleanup: () => void };
  let store: Store;
  let img: SampleImage;

  before(async () => {
    t = tempDir();
    store = await Store.open(join(t.dir, 'store'), { create: true });
    img = await putSampleImage(store, 'alpine:3', { layerCount: 2 });
  });
  after(async () => {
    await store.close();
    t.cleanup();
  });

  test('putImage stores config and manifest and names the manifest in index.json', () => {
    assert.equal(img.reference?.toString(), 'docker.io/library/alpine:3');
    const index = readIndexJson(store);
    assert.equal(index.manifests.length, 1);
    const e = index.manifests[0];
    assert.equal(e.digest, img.manifestDescriptor.digest);
    assert.equal(e.mediaType, MEDIA_TYPES.ociManifest);
    assert.deepEqual(e.annotations, { [CONTAINERD_NAME]: 'docker.io/library/alpine:3', [REF_NAME]: 'docker.io/library/alpine:3' });
    assert.deepEqual(e.platform, { architecture: 'amd64', os: 'linux' });
    const manifest = JSON.parse(readFileSync(store.blobPath(e.digest), 'utf8'));
    assert.equal(manifest.config.digest, img.configDescriptor.digest);
    assert.deepEqual(manifest.layers, img.layers);
  });

  const id = () => img.configDescriptor.digest;
  const md = () => img.manifestDescriptor.digest;
  const specs: [string, () => string, string | (() => string)][] = [
    ['familiar name', () => 'alpine:3', 'docker.io/library/alpine:3'],
    ['canonical name', () => 'docker.io/library/alpine:3', 'docker.io/library/alpine:3'],
    ['full image ID', () => id(), 'docker.io/library/alpine:3'],
    ['image ID without sha256:', () => id().slice(7), 'docker.io/library/alpine:3'],
    ['12-digit ID prefix', () => id().slice(7, 19), 'docker.io/library/alpine:3'],
    ['ID prefix with sha256:', () => id().slice(0, 23), 'docker.io/library/alpine:3'],
    ['manifest digest', () => md(), 'docker.io/library/alpine:3'],
    ['manifest digest prefix', () => md().slice(7, 20), 'docker.io/library/alpine:3'],
    ['name@digest', () => `alpine@${md()}`, () => `docker.io/library/alpine@${md()}`],
    ['name:tag@digest', () => `alpine:3@${md()}`, () => `docker.io/library/alpine@${md()}`],
  ];
  for (const [doc, spec, ref] of specs) {
    test(`resolve by ${doc}`, async () => {
      const r = await store.resolveImage(spec());
      assert.equal(r.reference?.toString(), typeof ref === 'function' ? ref() : ref);
      assert.equal(r.manifestDescriptor.digest, md());
      assert.equal(r.configDescriptor.digest, id());
      assert.deepEqual(r.config.rootfs.diff_ids, img.diffIds);
      assert.deepEqual(r.manifest.layers, img.layers);
      assert.deepEqual(r.references.map(String), ['docker.io/library/alpine:3']);
    });
  }

  test('resolve accepts a Reference object', async () => {
    assert.equal((await store.resolveImage(parseReference('alpine:3'))).configDescriptor.digest, id());
  });

  const misses: [string, () => string, string][] = [
    ['unknown name', () => 'alpine:4', 'E_IMAGE_NOT_FOUND'],
    ['unknown ID', () => digestOf('nothing'), 'E_IMAGE_NOT_FOUND'],
    ['too short a prefix', () => id().slice(7, 18), 'E_IMAGE_NOT_FOUND'],
    ['digest of another repository', () => `other@${md()}`, 'E_IMAGE_NOT_FOUND'],
    ['invalid name', () => 'Not/Valid/UPPER', 'E_REF_INVALID'],
    ['malformed digest', () => 'sha256:abc', 'E_IMAGE_NOT_FOUND'],
  ];
  for (const [doc, spec, code] of misses) {
    test(`resolve ${doc}: ${code}`, async () => {
      await assert.rejects(store.resolveImage(spec()), (e: unknown) => {
        assert.ok(isCode(code)(e), String(e));
        if (code === 'E_IMAGE_NOT_FOUND') assert.match((e as { hint: string }).hint, /berth images/);
        return true;
      });
    });
  }

  test('listImages reports name, ID, digests, size and creation time', async () => {
    const list = await store.listImages();
    const manifestSize = statSync(store.blobPath(md())).size;
    assert.deepEqual(list, [
      {
        reference: 'docker.io/library/alpine:3',
        familiar: 'alpine:3',
        digest: md(),
        mediaType: MEDIA_TYPES.ociManifest,
        manifestDigest: md(),
        configDigest: id(),
        id: id(),
        size: manifestSize + img.configDescriptor.size + img.layers[0].size + img.layers[1].size,
        created: '2024-05-01T00:00:00Z',
      },
    ]);
  });
});

describe('images: naming', () => {
  let t: { dir: string; cleanup: () => void };
  let store: Store;

  before(async () => {
    t = tempDir();
    store = await Store.open(join(t.dir, 'store'), { create: true });
  });
  after(async () => {
    await store.close();
    t.cleanup();
  });

  test('tag adds a name; an ID then resolves to the first name in order', async () => {
    const img = await putSampleImage(store, 'zeta/app:1');
    const target = await store.tag('zeta/app:1', 'alpha/app:2');
    assert.equal(target.toString(), 'docker.io/alpha/app:2');
    const r = await store.resolveImage(img.configDescriptor.digest);
    assert.equal(r.reference?.toString(), 'docker.io/alpha/app:2');
    assert.deepEqual(r.references.map(String), ['docker.io/alpha/app:2', 'docker.io/zeta/app:1']);
  });

  test('tag refuses a digest target and an unknown source', async () => {
    await putSampleImage(store, 'src:1');
    await assert.rejects(store.tag('src:1', `dst@${digestOf('x')}`), isCode('E_REF_INVALID'));
    await assert.rejects(store.tag('nope:1', 'dst:1'), isCode('E_IMAGE_NOT_FOUND'));
  });

  test('naming another image with a used name moves the name', async () => {
    const a = await putSampleImage(store, 'moving:1');
    const b = await putSampleImage(store, 'moving:1');
    assert.equal((await store.resolveImage('moving:1')).configDescriptor.digest, b.configDescriptor.digest);
    assert.ok(!(await store.listImages()).some((i) => i.id === a.configDescriptor.digest));
  });

  test('an image without a name is kept unnamed and found by ID', async () => {
    const img = await putSampleImage(store, undefined);
    const entry = (await store.listImages()).find((i) => i.id === img.configDescriptor.digest);
    assert.ok(entry);
    assert.equal(entry.reference, undefined);
    assert.equal((await store.resolveImage(img.configDescriptor.digest.slice(7, 19))).reference, undefined);
    // Naming it replaces the unnamed entry.
    await store.tag(img.configDescriptor.digest, 'named:now');
    assert.equal(readIndexJson(store).manifests.filter((m) => m.digest === img.manifestDescriptor.digest).length, 1);
  });

  test('a name with tag and digest is stored as name@digest', async () => {
    const img = await putSampleImage(store, undefined);
    await store.setRef(`pinned:1@${img.manifestDescriptor.digest}`, img.manifestDescriptor);
    const names = readIndexJson(store).manifests.map((m) => m.annotations?.[REF_NAME]);
    assert.ok(names.includes(`docker.io/library/pinned@${img.manifestDescriptor.digest}`));
    assert.equal((await store.resolveImage(`pinned@${img.manifestDescriptor.digest}`)).configDescriptor.digest, img.configDescriptor.digest);
  });

  test('putImage with a given Docker schema2 manifest keeps its bytes and media type', async () => {
    const layer = await store.putBlob(Buffer.from('docker layer'));
    const config = { architecture: 'arm64', variant: 'v8', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: [digestOf('docker layer')] } };
    const configBytes = Buffer.from(JSON.stringify(config));
    const layers: Descriptor[] = [{ mediaType: MEDIA_TYPES.dockerLayerGzip, digest: layer.digest, size: layer.size }];
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: { mediaType: MEDIA_TYPES.dockerConfig, digest: digestOf(configBytes), size: configBytes.length }, layers }, null, 3),
    );
    const res = await store.putImage({ name: 'docker/style:1', config: configBytes, layers, manifest });
    assert.equal(res.manifestDescriptor.digest, digestOf(manifest));
    assert.equal(res.manifestDescriptor.mediaType, MEDIA_TYPES.dockerManifest);
    assert.deepEqual(res.manifestDescriptor.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
  });

  /** Each case prepares what it needs, then returns the call that must fail without touching index.json. */
  const setRefFailures: { doc: string; setup: () => Promise<() => Promise<unknown>>; code: string }[] = [
    {
      doc: 'a layer missing from the store',
      setup: async () => {
        const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf('l')] } }));
        const c = await store.putBlob(cfg);
        const m = await store.putBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { mediaType: MEDIA_TYPES.ociConfig, ...c }, layers: [{ mediaType: MEDIA_TYPES.ociLayer, digest: digestOf('not stored'), size: 3 }] })));
        return () => store.setRef('broken:1', { mediaType: MEDIA_TYPES.ociManifest, ...m });
      },
      code: 'E_BLOB_NOT_FOUND',
    },
    {
      doc: 'diff_ids and layers disagree',
      setup: async () => () => store.putImage({ name: 'x:1', config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, layers: [{ mediaType: MEDIA_TYPES.ociLayer, digest: digestOf('a'), size: 1 }] }),
      code: 'E_IMAGE_INVALID',
    },
    {
      doc: 'a manifest that does not list the config',
      setup: async () => {
        const l = await store.putBlob(Buffer.from('l'));
        const layers = [{ mediaType: MEDIA_TYPES.ociLayer, ...l }];
        return () => store.putImage({ name: 'x:2', config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf('l')] } }, layers, manifest: { schemaVersion: 2, config: { mediaType: MEDIA_TYPES.ociConfig, digest: digestOf('other'), size: 1 }, layers } });
      },
      code: 'E_IMAGE_INVALID',
    },
    {
      doc: 'a name whose digest is not the content',
      setup: async () => {
        const img = await putSampleImage(store, undefined);
        return () => store.setRef(`x@${digestOf('other')}`, img.manifestDescriptor);
      },
      code: 'E_DIGEST_MISMATCH',
    },
    {
      doc: 'a descriptor that is not a manifest',
      setup: async () => {
        const b = await store.putBlob(Buffer.from('z'));
        return () => store.setRef('x:3', { mediaType: MEDIA_TYPES.ociLayer, ...b });
      },
      code: 'E_IMAGE_INVALID',
    },
    {
      doc: 'a manifest that is not stored',
      setup: async () => () => store.setRef('x:4', { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf('absent manifest'), size: 10 }),
      code: 'E_BLOB_NOT_FOUND',
    },
    {
      doc: 'a descriptor with the wrong size',
      setup: async () => {
        const img = await putSampleImage(store, undefined);
        return () => store.setRef('x:5', { ...img.manifestDescriptor, size: img.manifestDescriptor.size + 1 });
      },
      code: 'E_SIZE_MISMATCH',
    },
  ];
  for (const c of setRefFailures) {
    test(`naming fails for ${c.doc}: ${c.code}, index.json unchanged`, async () => {
      const fail = await c.setup();
      const before = readFileSync(join(store.root, 'index.json'), 'utf8');
      await assert.rejects(fail(), isCode(c.code));
      assert.equal(readFileSync(join(store.root, 'index.json'), 'utf8'), before);
    });
  }

  test('index.json is replaced by rename, never rewritten in place', async () => {
    const before = statSync(join(store.root, 'index.json')).ino;
    await putSampleImage(store, 'inode:1');
    assert.notEqual(statSync(join(store.root, 'index.json')).ino, before);
  });
});

describe('images: rmi follows Docker', () => {
  const cases: {
    doc: string;
    names: string[];
    remove: (ids: { id: string }) => string;
    force?: boolean;
    untagged?: string[];
    deleted?: boolean;
    remaining?: string[];
    code?: string;
  }[] = [
    { doc: 'by tag, another tag remains', names: ['a:1', 'a:2'], remove: () => 'a:1', untagged: ['a:1'], deleted: false, remaining: ['docker.io/library/a:2'] },
    { doc: 'by last tag', names: ['a:1'], remove: () => 'a:1', untagged: ['a:1'], deleted: true, remaining: [] },
    { doc: 'by default tag', names: ['a:latest'], remove: () => 'a', untagged: ['a:latest'], deleted: true, remaining: [] },
    { doc: 'by ID with one tag', names: ['a:1'], remove: ({ id }) => id.slice(7, 19), untagged: ['a:1'], deleted: true, remaining: [] },
    { doc: 'by ID with tags in two repositories', names: ['a:1', 'b:1'], remove: ({ id }) => id, code: 'E_IMAGE_CONFLICT' },
    { doc: 'by ID with two tags of one repository', names: ['a:1', 'a:2'], remove: ({ id }) => id, code: 'E_IMAGE_CONFLICT' },
    { doc: 'by ID with two repositories, forced', names: ['a:1', 'b:1'], remove: ({ id }) => id, force: true, untagged: ['a:1', 'b:1'], deleted: true, remaining: [] },
    { doc: 'by ID with a tag and a digest name of its repository', names: ['a:1', 'a@DIGEST'], remove: ({ id }) => id, untagged: ['a:1', 'a@DIGEST'], deleted: true, remaining: [] },
    { doc: 'last tag takes the repository\'s digest names along', names: ['a:1', 'a@DIGEST', 'b:1'], remove: () => 'a:1', untagged: ['a:1', 'a@DIGEST'], deleted: false, remaining: ['docker.io/library/b:1'] },
    { doc: 'by name@digest with only tags', names: ['a:1', 'a:2', 'b:1'], remove: () => 'a@DIGEST', untagged: ['a:1', 'a:2'], deleted: false, remaining: ['docker.io/library/b:1'] },
    { doc: 'unknown name', names: ['a:1'], remove: () => 'zzz:1', code: 'E_IMAGE_NOT_FOUND' },
  ];
  for (const c of cases) {
    test(c.doc, async () => {
      const t = tempDir();
      const store = await Store.open(join(t.dir, 'store'), { create: true });
      try {
        const img = await putSampleImage(store, undefined);
        const digest = img.manifestDescriptor.digest;
        const sub = (s: string) => s.replace('DIGEST', digest);
        for (const n of c.names) await store.setRef(sub(n), img.manifestDescriptor);
        const spec = sub(c.remove({ id: img.configDescriptor.digest }));
        if (c.code) {
          await assert.rejects(store.removeImage(spec, { force: c.force }), isCode(c.code));
          assert.equal((await store.listImages()).length, c.names.length, 'nothing removed');
          return;
        }
        const res = await store.removeImage(spec, { force: c.force });
        assert.deepEqual(res.untagged, (c.untagged ?? []).map(sub).sort());
        assert.deepEqual(res.deleted, c.deleted ? [img.configDescriptor.digest] : []);
        assert.deepEqual((await store.listImages()).map((i) => i.reference).sort(), c.remaining);
      } finally {
        await store.close();
        t.cleanup();
      }
    });
  }

  test('an unnamed image is removed by ID', async () => {
    const t = tempDir();
    const store = await Store.open(join(t.dir, 'store'), { create: true });
    try {
      const img = await putSampleImage(store, undefined);
      assert.deepEqual(await store.removeImage(img.configDescriptor.digest), { untagged: [], deleted: [img.configDescriptor.digest] });
      assert.deepEqual(await store.listImages(), []);
    } finally {
      await store.close();
      t.cleanup();
    }
  });

  test('untag removes exactly one name', async () => {
    const t = tempDir();
    const store = await Store.open(join(t.dir, 'store'), { create: true });
    try {
      const img = await putSampleImage(store, 'u:1');
      await store.tag('u:1', 'u:2');
      assert.deepEqual(await store.untag('u:1'), { untagged: ['u:1'], deleted: [] });
      assert.deepEqual(await store.untag('u:2'), { untagged: ['u:2'], deleted: [img.configDescriptor.digest] });
      await assert.rejects(store.untag('u:2'), isCode('E_IMAGE_NOT_FOUND'));
    } finally {
      await store.close();
      t.cleanup();
    }
  });
});

describe('images: index.json entries written by other tools', () => {
  let t: { dir: string; cleanup: () => void };
  let store: Store;
  let img: SampleImage;

  before(async () => {
    t = tempDir();
    store = await Store.open(join(t.dir, 'store'), { create: true });
    img = await putSampleImage(store, undefined);
    const d = { mediaType: img.manifestDescriptor.mediaType, digest: img.manifestDescriptor.digest, size: img.manifestDescriptor.size };
    writeIndexJson(store, {
      schemaVersion: 2,
      manifests: [
        { ...d, annotations: { [REF_NAME]: 'v1.0' } }, // umoci / skopeo with a bare tag
        { ...d, annotations: { [REF_NAME]: 'latest', [CONTAINERD_NAME]: 'docker.io/library/redis:latest' } }, // Docker 25 save, containerd
        { ...d, annotations: { [REF_NAME]: 'renamed', [CONTAINERD_NAME]: 'docker.io/library/stale:1' } }, // renamed by a tool that kept the old full name
      ],
    });
  });
  after(async () => {
    await store.close();
    t.cleanup();
  });

  test('bare tags are listed raw; full names are read from io.containerd.image.name', async () => {
    const list = await store.listImages();
    assert.deepEqual(
      list.map((i) => [i.reference, i.familiar, i.refName]),
      [
        ['docker.io/library/redis:latest', 'redis:latest', undefined],
        [undefined, undefined, 'renamed'],
        [undefined, undefined, 'v1.0'],
      ],
    );
  });

  test('a bare tag resolves by its exact string, a full name by any spelling', async () => {
    assert.equal((await store.resolveImage('v1.0')).configDescriptor.digest, img.configDescriptor.digest);
    assert.equal((await store.resolveImage('redis')).reference?.toString(), 'docker.io/library/redis:latest');
    await assert.rejects(store.resolveImage('stale:1'), isCode('E_IMAGE_NOT_FOUND'));
  });

  test('naming keeps foreign entries and replaces only the same name', async () => {
    await store.tag('v1.0', 'redis:latest');
    const names = readIndexJson(store).manifests.map((m) => m.annotations?.[REF_NAME]);
    assert.deepEqual(names, ['v1.0', 'renamed', 'docker.io/library/redis:latest']);
  });
});

describe('images: multi-platform indexes', () => {
  let t: { dir: string; cleanup: () => void };
  let indexDesc: Descriptor;
  let amd: SampleImage;
  let arm: SampleImage;

  before(async () => {
    t = tempDir();
    const store = await Store.open(join(t.dir, 'store'), { create: true });
    amd = await putSampleImage(store, undefined, { architecture: 'amd64' });
    arm = await putSampleImage(store, undefined, { architecture: 'arm64' });
    const ix = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          { ...amd.manifestDescriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.manifestDescriptor, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf('attestation'), size: 5, platform: { os: 'unknown', architecture: 'unknown' } },
        ],
      }),
    );
    const put = await store.putBlob(ix);
    indexDesc = { mediaType: MEDIA_TYPES.ociIndex, ...put };
    await store.setRef('multi:1', indexDesc);
    // Only the index is named: the per-platform manifests are reachable through it alone.
    const index = readIndexJson(store);
    writeIndexJson(store, { ...index, manifests: index.manifests.filter((m) => m.digest === indexDesc.digest) });
    await store.close();
  });
  after(() => t.cleanup());

  const cases: [string, { os: string; architecture: string; variant?: string }, () => SampleImage][] = [
    ['amd64', { os: 'linux', architecture: 'amd64' }, () => amd],
    ['arm64', { os: 'linux', architecture: 'arm64' }, () => arm],
    ['arm64 v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }, () => arm],
  ];
  for (const [doc, platform, want] of cases) {
    test(`resolves the ${doc} manifest`, async () => {
      const store = await Store.open(join(t.dir, 'store'), { platform });
      try {
        const r = await store.resolveImage('multi:1');
        assert.equal(r.descriptor.digest, indexDesc.digest);
        assert.equal(r.manifestDescriptor.digest, want().manifestDescriptor.digest);
        assert.equal(r.config.architecture, want().config.architecture);
        const [listed] = await store.listImages();
        assert.equal(listed.digest, indexDesc.digest);
        assert.equal(listed.manifestDigest, want().manifestDescriptor.digest);
        // The platform manifest's digest finds the image too.
        assert.equal((await store.resolveImage(want().manifestDescriptor.digest)).descriptor.digest, indexDesc.digest);
      } finally {
        await store.close();
      }
    });
  }

  test('a platform the index lacks: E_IMAGE_PLATFORM', async () => {
    const store = await Store.open(join(t.dir, 'store'), { platform: { os: 'linux', architecture: 's390x' } });
    try {
      await assert.rejects(store.resolveImage('multi:1'), (e: unknown) => isCode('E_IMAGE_PLATFORM')(e) && /linux\/amd64, linux\/arm64\/v8/.test((e as Error).message));
    } finally {
      await store.close();
    }
  });

  test('gc keeps what the index reaches and tolerates the platforms it lacks', async () => {
    const store = await Store.open(join(t.dir, 'store'));
    try {
      const res = await store.gc();
      assert.deepEqual(res.incomplete, []);
      for (const img of [amd, arm]) {
        for (const d of [img.manifestDescriptor, img.configDescriptor, ...img.layers]) assert.ok(await store.hasBlob(d.digest), d.digest);
      }
    } finally {
      await store.close();
    }
  });
});

describe('per-layer metadata', () => {
  let t: { dir: string; cleanup: () => void };
  let store: Store;
  const diffId = digestOf('some layer');

  before(async () => {
    t = tempDir();
    store = await Store.open(join(t.dir, 'store'), { create: true });
  });
  after(async () => {
    await store.close();
    t.cleanup();
  });

  test('file index round trip', async () => {
    const b = new FileIndexBuilder();
    const h = { path: 'etc/passwd', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: 5, mtime: { sec: 0, nsec: 0 }, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() };
    b.add(h);
    b.addBody(h.path, Buffer.from('root:'));
    const idx: FileIndex = b.finish();
    await store.putLayerIndex(diffId, idx);
    assert.deepEqual(await store.getLayerIndex(diffId), idx);
    assert.equal(await store.getLayerIndex(digestOf('other layer')), undefined);
    assert.ok(statSync(join(store.layerPath(diffId), 'files.json')).isFile());
  });

  test('ID sets are stored sorted and unique', async () => {
    await store.putLayerIds(diffId, { uids: [1000, 0, 1000, 3_000_000], gids: [5, 0] });
    assert.deepEqual(await store.getLayerIds(diffId), { uids: [0, 1000, 3_000_000], gids: [0, 5] });
    assert.equal(await store.getLayerIds(digestOf('other layer')), undefined);
  });

  test('invalid IDs: E_OPTION_INVALID', async () => {
    await assert.rejects(store.putLayerIds(diffId, { uids: [-1], gids: [] }), isCode('E_OPTION_INVALID'));
    await assert.rejects(store.putLayerIds(diffId, { uids: [2 ** 32], gids: [] }), isCode('E_OPTION_INVALID'));
  });

  test('damaged metadata is reported, not misread', async () => {
    const d = digestOf('damaged layer');
    await store.putLayerIds(d, { uids: [0], gids: [0] });
    await store.putLayerIndex(d, { version: 1, entries: [] });
    for (const f of ['files.json', 'ids.json']) {
      chmodSync(join(store.layerPath(d), f), 0o644);
      writeFileSync(join(store.layerPath(d), f), '{"trunc');
    }
    await assert.rejects(store.getLayerIndex(d), isCode('E_FILEINDEX_INVALID'));
    await assert.rejects(store.getLayerIds(d), isCode('E_LAYER_METADATA_INVALID'));
  });

  test('a malformed diffID: E_DIGEST_INVALID', async () => {
    await assert.rejects(store.putLayerIndex('sha256:../../x', { version: 1, entries: [] }), isCode('E_DIGEST_INVALID'));
  });
});
