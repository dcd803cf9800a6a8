import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALL_CAPS,
  CAPS,
  caps,
  decodeFileCaps,
  encodeFileCaps,
  fileCapsToText,
  parseFileCapsText,
  type FileCaps,
} from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

function v2(effective: boolean, permitted: bigint, inheritable = 0n): FileCaps {
  return { version: 2, effective, permitted, inheritable };
}

describe('fileCapsToText: the examples of layers-and-capabilities.md section 3 (stored value -> text)', () => {
  const examples: [string, string][] = [
    ['0100000200200000000000000000000000000000', 'cap_net_raw=ep'],
    ['0000000200200000002000000000000000000000', 'cap_net_raw=ip'],
    ['01000002ffffffff00000000ff01000000000000', '=ep'],
    ['010000027fffffff00000000ff01000000000000', '=ep cap_setuid-ep'],
    ['0000000200000000ffffffff00000000ff010000', '=i'],
  ];
  for (const [hex, text] of examples) {
    test(`${hex} -> ${text}`, () => assert.equal(fileCapsToText(decodeFileCaps(Buffer.from(hex, 'hex'))), text));
  }
});

describe('fileCapsToText: each step of the cap_to_text algorithm', () => {
  const cases: { name: string; fc: FileCaps; text: string; rootid?: boolean }[] = [
    { name: 'no caps at all is a bare "="', fc: v2(false, 0n), text: '=' },
    { name: 'effective flag with empty sets prints "=" (E = P|I is empty)', fc: v2(true, 0n), text: '=' },
    { name: 'several caps in one state are comma-joined in number order', fc: v2(true, caps('NET_RAW', 'CHOWN', 'NET_BIND_SERVICE')), text: 'cap_chown,cap_net_bind_service,cap_net_raw=ep' },
    { name: 'bare base: only the first group takes "=", later ones "+"', fc: { version: 2, effective: true, permitted: caps('SYS_BOOT', 'SYS_RESOURCE'), inheritable: caps('SYS_PACCT') }, text: 'cap_sys_pacct=ei cap_sys_boot,cap_sys_resource+ep' },
    { name: 'groups run from state 7 down to 0', fc: { version: 2, effective: false, permitted: caps('CHOWN', 'KILL'), inheritable: caps('CHOWN', 'SETUID') }, text: 'cap_chown=ip cap_setuid+i cap_kill+p' },
    { name: 'the most common state is the base; groups add and remove flags', fc: { version: 2, effective: false, permitted: ALL_CAPS & ~caps('CHOWN'), inheritable: caps('KILL') }, text: '=p cap_kill+i cap_chown-p' },
    { name: 'permitted-only, all caps', fc: v2(false, ALL_CAPS), text: '=p' },
    { name: 'all caps in all sets', fc: { version: 2, effective: true, permitted: ALL_CAPS, inheritable: ALL_CAPS }, text: '=eip' },
    {
      name: 'a tie goes to the lower state (20 caps unset, 20 permitted: the base is "=")',
      fc: { version: 2, effective: false, permitted: ALL_CAPS & ~((1n << 20n) - 1n) & ~caps('CHECKPOINT_RESTORE'), inheritable: caps('CHECKPOINT_RESTORE') },
      text: `cap_checkpoint_restore=i ${CAPS.slice(20, 40).map((c) => c.textName).join(',')}+p`,
    },
    { name: 'unnamed bits are appended by number with "+"', fc: v2(false, (1n << 41n) | (1n << 50n)), text: '= 41,50+p' },
    { name: 'unnamed bits with effective', fc: v2(true, caps('NET_RAW') | (1n << 63n)), text: 'cap_net_raw=ep 63+ep' },
    { name: 'v1 renders like v2', fc: { version: 1, effective: true, permitted: caps('NET_RAW'), inheritable: 0n }, text: 'cap_net_raw=ep' },
    { name: 'rootid is not shown unless asked', fc: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1001 }, text: 'cap_net_raw=ep' },
    { name: 'getcap -n appends [rootid=N]', fc: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1001 }, text: 'cap_net_raw=ep [rootid=1001]', rootid: true },
    { name: 'getcap -n omits rootid 0', fc: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 0 }, text: 'cap_net_raw=ep', rootid: true },
    { name: 'getcap -n prints rootids above 2^31-1 as negative (%d)', fc: { version: 3, effective: false, permitted: 0n, inheritable: caps('CHOWN'), rootid: 0x80000005 }, text: 'cap_chown=i [rootid=-2147483643]', rootid: true },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(fileCapsToText(c.fc, { rootid: c.rootid }), c.text));
  }

  test('capMaxBits: on a kernel with CAP_LAST_CAP 39, cap 40 is printed by number', () => {
    assert.equal(fileCapsToText(v2(true, caps('CHECKPOINT_RESTORE')), { capMaxBits: 40 }), '= 40+ep');
  });
  test('capMaxBits out of range is refused', () => {
    assert.equal(codeOf(() => fileCapsToText(v2(true, 0n), { capMaxBits: 65 })), 'E_CAP_MAX_BITS_INVALID');
  });
});

describe('parseFileCapsText: the setcap forms', () => {
  const ok: { text: string; want: FileCaps }[] = [
    { text: 'cap_net_raw+ep', want: v2(true, caps('NET_RAW')) },
    { text: 'cap_net_raw=ep', want: v2(true, caps('NET_RAW')) },
    { text: 'cap_net_raw+p', want: v2(false, caps('NET_RAW')) },
    { text: 'cap_chown,cap_fowner+eip', want: { version: 2, effective: true, permitted: caps('CHOWN', 'FOWNER'), inheritable: caps('CHOWN', 'FOWNER') } },
    { text: 'CAP_NET_RAW+ep', want: v2(true, caps('NET_RAW')) },
    { text: '=ep', want: v2(true, ALL_CAPS) },
    { text: 'all=ep', want: v2(true, ALL_CAPS) },
    { text: '=ep cap_setuid-ep', want: v2(true, ALL_CAPS & ~caps('SETUID')) },
    { text: '=', want: v2(false, 0n) },
    { text: '', want: v2(false, 0n) },
    { text: 'cap_net_raw=+ep', want: v2(true, caps('NET_RAW')) },
    { text: 'cap_net_raw+ep cap_net_raw-ep', want: v2(false, 0n) },
    { text: 'cap_net_raw+i-i+p', want: v2(false, caps('NET_RAW')) },
    { text: '  cap_net_raw=ep  ', want: v2(true, caps('NET_RAW')) },
    { text: '13+ep', want: v2(true, caps('NET_RAW')) },
    { text: '0xd+ep', want: v2(true, caps('NET_RAW')) },
    { text: '015+ep', want: v2(true, caps('NET_RAW')) },
    { text: '41,63+p', want: v2(false, (1n << 41n) | (1n << 63n)) },
    { text: 'cap_chown+e', want: v2(true, 0n) },
    { text: 'cap_net_raw=ep [rootid=1001]', want: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1001 } },
    { text: 'cap_chown=i [rootid=-2147483643]', want: { version: 3, effective: false, permitted: 0n, inheritable: caps('CHOWN'), rootid: 0x80000005 } },
  ];
  for (const c of ok) {
    test(`accepts ${JSON.stringify(c.text)}`, () => assert.deepEqual(parseFileCapsText(c.text), c.want));
  }
  test('setcap -n ROOTID makes v3', () => {
    assert.deepEqual(parseFileCapsText('cap_net_raw+ep', { rootid: 1000 }), { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1000 });
    assert.deepEqual(parseFileCapsText('cap_net_raw+ep', { rootid: 0 }), v2(true, caps('NET_RAW')));
  });

  const bad: string[] = [
    'cap_net_raw', // no operator
    'cap_net_raw+', // operator without flags
    'cap_net_raw+epx', // unknown flag
    'CAP_NET_RAW+EP', // flags are lower case
    'net_raw+ep', // names need the cap_ prefix
    'cap_net_raw2+ep', // a name must end at a non-word character
    'cap_a,cap_b+eip', // unknown names
    '+ep', // + needs a list
    '=+ep', // =+ needs a list
    'cap_net_raw,+ep', // empty list element
    '64+p', // above the 64-bit ABI
    '08+ep', // strtoul base 0 reads "0", then "8" is no operator
    'cap_net_raw+e-', // dangling operator
    'cap_chown=e cap_kill=p', // effective must cover permitted|inheritable
    'all=eip 50+i', // bit 50 inheritable but not effective
    'cap_net_raw=ep [rootid=x]',
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)} with E_FILECAP_TEXT_INVALID`, () => assert.equal(codeOf(() => parseFileCapsText(text)), 'E_FILECAP_TEXT_INVALID'));
  }
  test('the error says where', () => {
    try {
      parseFileCapsText('cap_net_raw+epx');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.message, /unexpected "x" \(flags are e, i and p\) at offset 14/);
    }
  });
});

/** Sets that exercise every histogram shape: dense, sparse, nearly full, with and without unnamed bits. */
const arbSet = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: 0n, max: ALL_CAPS }),
  fc.constantFrom(0n, ALL_CAPS),
  fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 5 }).map((ns) => ns.reduce((s, n) => s | (1n << BigInt(n)), 0n)),
  fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 5 }).map((ns) => ns.reduce((s, n) => s & ~(1n << BigInt(n)), ALL_CAPS)),
);
/** What the text form can express: v2, or v3 with a rootid getcap -n prints; effective only with some caps. */
const arbTextable = fc
  .record({
    effective: fc.boolean(),
    permitted: arbSet,
    inheritable: arbSet,
    rootid: fc.option(fc.integer({ min: 1, max: 0xfffffffe }), { nil: undefined }),
  })
  .map(({ effective, permitted, inheritable, rootid }): FileCaps => {
    const eff = effective && (permitted | inheritable) !== 0n;
    return rootid === undefined
      ? { version: 2, effective: eff, permitted, inheritable }
      : { version: 3, effective: eff, permitted, inheritable, rootid };
  });

describe('text form properties', () => {
  test('property: parseFileCapsText(fileCapsToText(x)) == x', () => {
    fc.assert(
      fc.property(arbTextable, (x) => assert.deepEqual(parseFileCapsText(fileCapsToText(x, { rootid: true })), x)),
      { numRuns: 2000 },
    );
  });
  test('property: text is stable under a second round trip', () => {
    fc.assert(
      fc.property(arbTextable, (x) => {
        const t = fileCapsToText(x, { rootid: true });
        assert.equal(fileCapsToText(parseFileCapsText(t), { rootid: true }), t);
      }),
      { numRuns: 500 },
    );
  });
  test('property: the parser never throws anything but E_FILECAP_TEXT_INVALID', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'cap_netrwsyhoki0123456789x,=+- \t[]'.split('')), maxLength: 30 }), (s) => {
        const code = codeOf(() => parseFileCapsText(s));
        assert.ok(code === undefined || code === 'E_FILECAP_TEXT_INVALID', `${JSON.stringify(s)}: ${code}`);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Conformance with libcap on this machine: berth's text must equal getcap's for the same stored value, and
 * setcap must store what parseFileCapsText returns. Needs root (security.* xattrs), setfattr and libcap's tools.
 */
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const canRun = process.getuid?.() === 0 && have('getcap') && have('setcap') && have('setfattr') && have('getfattr');
describe('libcap conformance', { skip: !canRun && 'needs root, getcap, setcap, setfattr and getfattr' }, () => {
  test('fileCapsToText equals getcap -n for 300 sampled values', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-caps-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const samples = fc.sample(arbTextable, { numRuns: 300, seed: 424242 });
    let dump = '';
    samples.forEach((x, k) => {
      const p = join(dir, `f${k}`);
      writeFileSync(p, '');
      dump += `# file: ${p}\nsecurity.capability=0x${encodeFileCaps(x).toString('hex')}\n\n`;
    });
    writeFileSync(join(dir, 'dump'), dump);
    const restore = spawnSync('setfattr', [`--restore=${join(dir, 'dump')}`]);
    assert.equal(restore.status, 0, restore.stderr.toString());
    const out = spawnSync('getcap', ['-n', ...samples.map((_, k) => join(dir, `f${k}`))]);
    assert.equal(out.status, 0, out.stderr.toString());
    const lines = new Map(
      out.stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)] as const),
    );
    samples.forEach((x, k) => assert.equal(fileCapsToText(x, { rootid: true }), lines.get(join(dir, `f${k}`)), `sample ${k}`));
  });

  test('setcap stores exactly what parseFileCapsText returns, and both refuse the same texts', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-caps-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'f');
    const texts = [
      'cap_net_raw+ep', 'cap_net_raw=ep', '=ep cap_setuid-ep', '=i', 'cap_chown,cap_fowner+eip', '41+p', '0xd+ep',
      'cap_chown+e', 'cap_chown=e cap_kill=p', 'all=eip 50+i', 'CAP_NET_RAW+EP', 'cap_net_raw=+ep', 'cap_net_raw+e-p',
      '08+ep', 'cap_net_raw2+ep', 'cap_setuid,all+p', '50,all+p', 'all,50+p', '=p cap_chown+e', '1,2,3+i 4=p',
    ];
    for (const text of texts) {
      writeFileSync(f, '');
      const set = spawnSync('setcap', ['-q', text, f]);
      let mine: string | undefined;
      const code = codeOf(() => {
        mine = encodeFileCaps(parseFileCapsText(text)).toString('hex');
      });
      if (set.status !== 0) {
        assert.equal(code, 'E_FILECAP_TEXT_INVALID', `setcap refuses ${JSON.stringify(text)}`);
        continue;
      }
      assert.equal(code, undefined, `setcap accepts ${JSON.stringify(text)}`);
      const got = spawnSync('getfattr', ['--absolute-names', '-e', 'hex', '-n', 'security.capability', f]).stdout.toString();
      assert.equal(/security\.capability=0x([0-9a-f]+)/.exec(got)?.[1], mine, text);
    }
  });
});
