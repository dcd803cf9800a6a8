/**
 * Image references: the distribution grammar and Docker's normalisation, both ways.
 * Expected values follow distribution/reference (normalize.go, regexp.go and their test tables).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { familiarName, familiarRepository, isNormalizedReference, parseReference } from '../../src/oci/index.js';
import { isBerthError } from '../../src/errors/index.js';

const HEX64 = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const HEX128 = `${HEX64}${HEX64}`;
const LONG_TAG = 't'.repeat(128);

describe('parseReference: valid references', () => {
  const cases: { input: string; canonical: string; familiar: string; doc: string }[] = [
    { doc: 'official image', input: 'alpine', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
    { doc: 'official image with tag', input: 'alpine:3.19', canonical: 'docker.io/library/alpine:3.19', familiar: 'alpine:3.19' },
    { doc: 'explicit library/', input: 'library/alpine', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
    { doc: 'docker.io without library/', input: 'docker.io/alpine', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
    { doc: 'legacy index.docker.io', input: 'index.docker.io/library/alpine:edge', canonical: 'docker.io/library/alpine:edge', familiar: 'alpine:edge' },
    { doc: 'user repository', input: 'user/app:1', canonical: 'docker.io/user/app:1', familiar: 'user/app:1' },
    { doc: 'nested library path stays long', input: 'library/a/b', canonical: 'docker.io/library/a/b:latest', familiar: 'library/a/b:latest' },
    { doc: 'other registry', input: 'ghcr.io/owner/app:v1.2.3', canonical: 'ghcr.io/owner/app:v1.2.3', familiar: 'ghcr.io/owner/app:v1.2.3' },
    { doc: 'localhost is a registry', input: 'localhost/x', canonical: 'localhost/x:latest', familiar: 'localhost/x:latest' },
    { doc: 'registry with port', input: 'localhost:5000/x', canonical: 'localhost:5000/x:latest', familiar: 'localhost:5000/x:latest' },
    { doc: 'IPv4 registry, deep path', input: '127.0.0.1:5000/a/b/c:tag', canonical: '127.0.0.1:5000/a/b/c:tag', familiar: '127.0.0.1:5000/a/b/c:tag' },
    { doc: 'IPv6 registry', input: '[::1]:5000/x:1', canonical: '[::1]:5000/x:1', familiar: '[::1]:5000/x:1' },
    { doc: 'full IPv6 registry', input: '[fc00:1:2:3:4:5:6:7]:5000/library/debian', canonical: '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest', familiar: '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest' },
    { doc: 'uppercase first component is a registry', input: 'Docker/docker', canonical: 'Docker/docker:latest', familiar: 'Docker/docker:latest' },
    { doc: 'digest only: no default tag', input: `x@sha256:${HEX64}`, canonical: `docker.io/library/x@sha256:${HEX64}`, familiar: `x@sha256:${HEX64}` },
    { doc: 'tag and digest both kept', input: `x:1@sha256:${HEX64}`, canonical: `docker.io/library/x:1@sha256:${HEX64}`, familiar: `x:1@sha256:${HEX64}` },
    { doc: 'sha512 digest', input: `r.io/x@sha512:${HEX128}`, canonical: `r.io/x@sha512:${HEX128}`, familiar: `r.io/x@sha512:${HEX128}` },
    { doc: 'an IP without a slash is a name', input: '192.168.0.1', canonical: 'docker.io/library/192.168.0.1:latest', familiar: '192.168.0.1:latest' },
    { doc: 'host:port without a slash is name:tag', input: '192.168.0.1:80', canonical: 'docker.io/library/192.168.0.1:80', familiar: '192.168.0.1:80' },
    { doc: 'separators: __, ., -, --', input: 'a__b-c--d/e.f:T_ok-1.0', canonical: 'docker.io/a__b-c--d/e.f:T_ok-1.0', familiar: 'a__b-c--d/e.f:T_ok-1.0' },
    { doc: 'a dotted Hub namespace keeps docker.io in the familiar form', input: 'docker.io/my.org/app', canonical: 'docker.io/my.org/app:latest', familiar: 'docker.io/my.org/app:latest' },
    { doc: '128-character tag', input: `x:${LONG_TAG}`, canonical: `docker.io/library/x:${LONG_TAG}`, familiar: `x:${LONG_TAG}` },
    { doc: '64-character non-hex name', input: 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', canonical: 'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest', familiar: 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest' },
    { doc: 'hex name allowed with a registry', input: `docker.io/${HEX64}`, canonical: `docker.io/library/${HEX64}:latest`, familiar: `${HEX64}:latest` },
  ];
  for (const c of cases) {
    test(`${c.doc}: ${c.input}`, () => {
      const r = parseReference(c.input);
      assert.equal(r.toString(), c.canonical);
      assert.equal(familiarName(r), c.familiar);
      // Both directions: the familiar form and the canonical form parse back to the same reference.
      assert.equal(parseReference(c.familiar).toString(), c.canonical);
      assert.equal(parseReference(c.canonical).toString(), c.canonical);
      assert.ok(isNormalizedReference(c.canonical));
    });
  }

  test('parts are exposed', () => {
    const r = parseReference(`localhost:5000/team/app:2@sha256:${HEX64}`);
    assert.equal(r.domain, 'localhost:5000');
    assert.equal(r.path, 'team/app');
    assert.equal(r.name, 'localhost:5000/team/app');
    assert.equal(r.tag, '2');
    assert.equal(r.digest, `sha256:${HEX64}`);
    assert.equal(JSON.stringify({ r }), `{"r":"localhost:5000/team/app:2@sha256:${HEX64}"}`);
    assert.equal(familiarRepository(r), 'localhost:5000/team/app');
  });

  test('defaultTag: false leaves a bare name bare', () => {
    assert.equal(parseReference('alpine', { defaultTag: false }).toString(), 'docker.io/library/alpine');
    assert.equal(parseReference('alpine', { defaultTag: false }).tag, undefined);
  });

  test('familiarName accepts a canonical string', () => {
    assert.equal(familiarName('docker.io/library/busybox:1.36'), 'busybox:1.36');
  });
});

describe('parseReference: invalid references', () => {
  const cases: { input: string; part: string; message: RegExp; doc: string }[] = [
    { doc: 'empty', input: '', part: 'name', message: /empty reference/ },
    { doc: 'uppercase repository (no registry)', input: 'UPPER:1', part: 'name', message: /"library\/UPPER" must be lowercase/ },
    { doc: 'uppercase path after namespace', input: 'docker/Docker', part: 'name', message: /must be lowercase/ },
    { doc: 'uppercase path under a registry', input: 'docker.io/docker/Docker', part: 'name', message: /must be lowercase/ },
    { doc: 'image ID is not a name', input: HEX64, part: 'name', message: /image ID/ },
    { doc: 'empty tag', input: 'alpine:', part: 'tag', message: /empty tag/ },
    { doc: 'tag starting with -', input: 'alpine:-x', part: 'tag', message: /tag "-x" must not start/ },
    { doc: 'tag starting with .', input: 'alpine:.x', part: 'tag', message: /must not start/ },
    { doc: 'tag with +', input: 'alpine:a+b', part: 'tag', message: /tag "a\+b" contains/ },
    { doc: 'tag of 129 characters', input: `x:${LONG_TAG}t`, part: 'tag', message: /longer than 128/ },
    { doc: 'short digest', input: 'alpine@sha256:abc', part: 'digest', message: /digest "sha256:abc"/ },
    { doc: 'uppercase digest hex', input: `alpine@sha256:${HEX64.toUpperCase()}`, part: 'digest', message: /lowercase/ },
    { doc: 'unsupported digest algorithm', input: `alpine@md5:${HEX64.slice(0, 32)}`, part: 'digest', message: /unsupported algorithm "md5"/ },
    { doc: 'wrong length for sha256', input: `alpine@sha256:${HEX64}00`, part: 'digest', message: /64 hex digits, got 66/ },
    { doc: 'empty digest', input: 'alpine@', part: 'digest', message: /empty digest/ },
    { doc: 'two @', input: `a@b@sha256:${HEX64}`, part: 'digest', message: /not of the form/ },
    { doc: 'leading dash', input: '-docker', part: 'name', message: /path component "-docker"/ },
    { doc: 'trailing dash in namespace', input: 'docker-/docker', part: 'name', message: /path component "docker-"/ },
    { doc: 'consecutive periods in a registry', input: 'dock..er/docker', part: 'domain', message: /registry "dock..er"/ },
    { doc: 'consecutive periods in a path', input: 'docker/dock..er', part: 'name', message: /path component "dock..er"/ },
    { doc: 'underscore in a registry', input: 'a_b.io/x', part: 'domain', message: /registry "a_b.io"/ },
    { doc: 'underscore-only component', input: '____/____', part: 'name', message: /path component/ },
    { doc: 'empty path components', input: 'docker///docker', part: 'name', message: /empty path component/ },
    { doc: 'trailing slash', input: 'docker/', part: 'name', message: /empty path component/ },
    { doc: 'URL', input: 'https://github.com/docker/docker', part: 'domain', message: /registry "https:"/ },
    { doc: 'IPv6 without brackets', input: 'fc00::1:5000/debian', part: 'domain', message: /not a valid host/ },
    { doc: 'IPv6 zone', input: '[fe80::1%eth0]:5000/debian', part: 'domain', message: /not a valid host/ },
    { doc: 'registry only', input: '[fc00::1]:5000', part: 'name', message: /path component/ },
    { doc: 'white space', input: 'a b', part: 'name', message: /white space/ },
    { doc: 'path over 255 characters', input: `a/${'b'.repeat(255)}`, part: 'name', message: /more than 255/ },
  ];
  for (const c of cases) {
    test(`${c.doc}: ${JSON.stringify(c.input.length > 60 ? `${c.input.slice(0, 60)}...` : c.input)}`, () => {
      assert.throws(
        () => parseReference(c.input),
        (e: unknown) => {
          assert.ok(isBerthError(e));
          assert.equal(e.code, 'E_REF_INVALID');
          assert.equal(e.details?.part, c.part);
          assert.match(e.message, c.message);
          assert.ok(e.hint);
          return true;
        },
      );
    });
  }
});

describe('parseReference: properties', () => {
  const alnum = fc.stringMatching(/^[a-z0-9]{1,8}$/);
  const component = fc.tuple(alnum, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), alnum), { maxLength: 2 })).map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(''));
  const path = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
  const domain = fc.oneof(fc.constant(''), fc.constantFrom('docker.io/', 'index.docker.io/', 'localhost/', 'localhost:5000/', 'ghcr.io/', 'r.example.com:443/', '[::1]:5000/'));
  const tag = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/).map((t) => `:${t}`));
  const digest = fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `@sha256:${h}`));
  // Without a registry, a first component with "." would itself be read as a registry.
  const ref = fc
    .tuple(domain, path, tag, digest)
    .map(([d, p, t, g]) => `${d === '' && p.includes('/') && p.split('/')[0].includes('.') ? 'docker.io/' : d}${p}${t}${g}`)
    .filter((s) => !/^[a-f0-9]{64}$/.test(s));

  test('canonical and familiar forms round-trip', () => {
    fc.assert(
      fc.property(ref, (s) => {
        const r = parseReference(s);
        assert.equal(parseReference(r.toString()).toString(), r.toString());
        assert.equal(parseReference(familiarName(r)).toString(), r.toString());
        assert.ok(isNormalizedReference(r.toString()));
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary input either parses or fails with E_REF_INVALID', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const r = parseReference(s);
          assert.equal(parseReference(r.toString()).toString(), r.toString());
        } catch (e) {
          assert.ok(isBerthError(e), String(e));
          assert.equal(e.code, 'E_REF_INVALID');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
