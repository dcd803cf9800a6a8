import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBuildContext, planCopy, type BuildContext, type CopyRequest } from '../../../src/build/copy.js';
import { isBerthError } from '../../../src/errors/index.js';
import { emptyView, lines, request, run, stageView, tempDir, type Row } from './helpers.js';

const isRoot = process.geteuid?.() === 0;
let tmp: { dir: string; cleanup: () => void };
let ctx: BuildContext;

function file(rel: string, content: string, mode = 0o644): void {
  const p = join(tmp.dir, 'ctx', rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
  utimesSync(p, 1_600_000_000, 1_600_000_000);
}

before(async () => {
  tmp = tempDir('context');
  const c = join(tmp.dir, 'ctx');
  mkdirSync(c);
  writeFileSync(join(tmp.dir, 'outside.txt'), 'outside');
  file('a.txt', 'A');
  file('b.txt', 'B', 0o600);
  file('run.sh', '#!', 0o755);
  file('suid', 'S', 0o4755);
  file('secret.txt', 'no');
  file('src/main.js', 'M');
  file('src/lib/util.js', 'U');
  chmodSync(join(c, 'src'), 0o750);
  symlinkSync('main.js', join(c, 'src/link'));
  linkSync(join(c, 'src/main.js'), join(c, 'src/hl'));
  file('node_modules/keep/x.js', 'X');
  file('node_modules/drop/y.js', 'Y');
  file('sub/deep/file.txt', 'D');
  file('wh/.wh.bad', 'W');
  file('conflict/lib', 'L');
  symlinkSync('src', join(c, 'linkdir'));
  symlinkSync('a.txt', join(c, 'linkfile'));
  symlinkSync('/etc/passwd', join(c, 'outabs'));
  symlinkSync('../outside.txt', join(c, 'outrel'));
  symlinkSync('/etc', join(c, 'outdir'));
  symlinkSync(join(c, 'a.txt'), join(c, 'inabs'));
  writeFileSync(join(c, '.dockerignore'), '# comment\nsecret.txt\nnode_modules\n!node_modules/keep\n');
  execFileSync('setfattr', ['-n', 'user.note', '-v', '0x00ff', join(c, 'a.txt')]);
  if (isRoot) {
    execFileSync('setfattr', ['-n', 'trusted.hidden', '-v', 'x', join(c, 'a.txt')]);
    execFileSync('setcap', ['cap_net_raw+ep', join(c, 'run.sh')]);
  }
  ctx = await openBuildContext(c);
});

after(() => tmp.cleanup());

type Req = Partial<CopyRequest> & Pick<CopyRequest, 'sources' | 'dest'>;

const SRC_TREE = (d: string, o = '0:0', fileMode = '0644', dirMode = '0755') => [
  `${d}/hl file ${fileMode} ${o} =M`,
  `${d}/lib dir ${dirMode} ${o}`,
  `${d}/lib/util.js file ${fileMode} ${o} =U`,
  `${d}/link symlink 0777 ${o} -> main.js`,
  `${d}/main.js hardlink ${fileMode} ${o} -> ${d}/hl`,
];

const success: { name: string; req: Req; expect: string[] }[] = [
  { name: 'a file into a directory destination', req: { sources: ['a.txt'], dest: '/app/' }, expect: ['app dir 0755 0:0', 'app/a.txt file 0644 0:0 =A'] },
  { name: 'a file to a new name', req: { sources: ['a.txt'], dest: '/app/renamed' }, expect: ['app dir 0755 0:0', 'app/renamed file 0644 0:0 =A'] },
  { name: 'an absolute source is relative to the context', req: { sources: ['/a.txt'], dest: '/x' }, expect: ['x file 0644 0:0 =A'] },
  { name: 'a relative destination is under WORKDIR', req: { sources: ['a.txt'], dest: 'x/', workdir: '/srv' }, expect: ['srv dir 0755 0:0', 'srv/x dir 0755 0:0', 'srv/x/a.txt file 0644 0:0 =A'] },
  { name: 'dest "." is the WORKDIR itself', req: { sources: ['a.txt'], dest: '.', workdir: '/w' }, expect: ['w dir 0755 0:0', 'w/a.txt file 0644 0:0 =A'] },
  { name: 'a directory copies its contents; symlinks and hard links stay', req: { sources: ['src'], dest: '/app' }, expect: ['app dir 0755 0:0', ...SRC_TREE('app', '0:0', '0644', '0755')] },
  { name: 'a glob copies every match (ignored files do not match)', req: { sources: ['*.txt'], dest: '/app/' }, expect: ['app dir 0755 0:0', 'app/a.txt file 0644 0:0 =A', 'app/b.txt file 0600 0:0 =B'] },
  { name: 'a glob in a middle component', req: { sources: ['sub/*/file.txt'], dest: '/x/' }, expect: ['x dir 0755 0:0', 'x/file.txt file 0644 0:0 =D'] },
  { name: 'several sources into a directory', req: { sources: ['a.txt', 'run.sh'], dest: '/app/' }, expect: ['app dir 0755 0:0', 'app/a.txt file 0644 0:0 =A', 'app/run.sh file 0755 0:0 =#!'] },
  {
    name: 'an existing directory destination without a slash, parents as in the stage',
    req: { sources: ['a.txt', 'b.txt'], dest: '/app', target: stageView([['dir', '/app', 0o700, 5]]) },
    expect: ['app dir 0700 5:5', 'app/a.txt file 0644 0:0 =A', 'app/b.txt file 0600 0:0 =B'],
  },
  {
    name: 'an ignored directory with a ! exception: only the exception, its parents listed',
    req: { sources: ['node_modules'], dest: '/nm' },
    expect: ['nm dir 0755 0:0', 'nm/keep dir 0755 0:0', 'nm/keep/x.js file 0644 0:0 =X'],
  },
  { name: 'a symlink source is followed, named after the link', req: { sources: ['linkfile'], dest: '/app/' }, expect: ['app dir 0755 0:0', 'app/linkfile file 0644 0:0 =A'] },
  { name: 'an absolute symlink inside the context is followed', req: { sources: ['inabs'], dest: '/i' }, expect: ['i file 0644 0:0 =A'] },
  { name: 'a symlink to a directory copies the directory contents', req: { sources: ['linkdir'], dest: '/app' }, expect: ['app dir 0755 0:0', ...SRC_TREE('app')] },
  {
    name: '--chown owns every entry and the created directories, not existing parents',
    req: { sources: ['src'], dest: '/opt/x/', chown: { uid: 1000, gid: 1001 }, target: stageView([['dir', '/opt', 0o711, 7]]) },
    expect: ['opt dir 0711 7:7', 'opt/x dir 0755 1000:1001', ...SRC_TREE('opt/x', '1000:1001')],
  },
  { name: '--chmod sets files and directories, not symlinks', req: { sources: ['src'], dest: '/app', chmod: '0640' }, expect: ['app dir 0755 0:0', ...SRC_TREE('app', '0:0', '0640', '0640')] },
  { name: 'setuid bits are kept', req: { sources: ['suid'], dest: '/bin/' }, expect: ['bin dir 0755 0:0', 'bin/suid file 4755 0:0 =S'] },
  { name: '--chmod replaces setuid bits', req: { sources: ['suid'], dest: '/s', chmod: '755' }, expect: ['s file 0755 0:0 =S'] },
  { name: '--exclude drops matches below a directory source', req: { sources: ['src'], dest: '/app', excludes: ['lib', 'link'] }, expect: ['app dir 0755 0:0', 'app/hl file 0644 0:0 =M', 'app/main.js hardlink 0644 0:0 -> app/hl'] },
  { name: '--exclude applies to glob matches', req: { sources: ['*.txt', 'run.sh'], dest: '/d/', excludes: ['b.*'] }, expect: ['d dir 0755 0:0', 'd/a.txt file 0644 0:0 =A', 'd/run.sh file 0755 0:0 =#!'] },
  {
    name: 'a destination through a symlink in the stage lands where it points',
    req: { sources: ['a.txt'], dest: '/web/', target: stageView([['dir', '/srv', 0o755], ['dir', '/srv/www', 0o750, 33], ['symlink', '/web', 0o777, 0, 'srv/www']]) },
    expect: ['srv dir 0755 0:0', 'srv/www dir 0750 33:33', 'srv/www/a.txt file 0644 0:0 =A'],
  },
  { name: 'a later source wins on the same path', req: { sources: ['a.txt', 'linkfile', 'b.txt'], dest: '/d/', excludes: [] }, expect: ['d dir 0755 0:0', 'd/a.txt file 0644 0:0 =A', 'd/linkfile file 0644 0:0 =A', 'd/b.txt file 0600 0:0 =B'] },
  { name: 'a glob matching nothing copies nothing when empty wildcards are allowed', req: { sources: ['*.none'], dest: '/d/', allowEmptyWildcard: true }, expect: [] },
];

const failure: { name: string; req: Req; code: string }[] = [
  { name: 'a missing file', req: { sources: ['missing.txt'], dest: '/x' }, code: 'E_BUILD_COPY_NOT_FOUND' },
  { name: 'a file excluded by .dockerignore', req: { sources: ['secret.txt'], dest: '/x' }, code: 'E_BUILD_COPY_NOT_FOUND' },
  { name: 'an excluded file below an ignored directory', req: { sources: ['node_modules/drop/y.js'], dest: '/x' }, code: 'E_BUILD_COPY_NOT_FOUND' },
  { name: 'a path above the context', req: { sources: ['../outside.txt'], dest: '/x' }, code: 'E_BUILD_COPY_OUTSIDE' },
  { name: 'a path that climbs out through ..', req: { sources: ['src/../../outside.txt'], dest: '/x' }, code: 'E_BUILD_COPY_OUTSIDE' },
  { name: 'an absolute symlink out of the context', req: { sources: ['outabs'], dest: '/x' }, code: 'E_BUILD_COPY_OUTSIDE' },
  { name: 'a relative symlink out of the context', req: { sources: ['outrel'], dest: '/x' }, code: 'E_BUILD_COPY_OUTSIDE' },
  { name: 'a symlinked directory component out of the context', req: { sources: ['outdir/passwd'], dest: '/x' }, code: 'E_BUILD_COPY_OUTSIDE' },
  { name: 'two sources to a file destination', req: { sources: ['a.txt', 'b.txt'], dest: '/app' }, code: 'E_BUILD_COPY_DEST' },
  { name: 'a glob with two matches to a file destination', req: { sources: ['*.txt'], dest: '/one' }, code: 'E_BUILD_COPY_DEST' },
  { name: 'a glob that matches nothing', req: { sources: ['*.none'], dest: '/d/' }, code: 'E_BUILD_COPY_NOT_FOUND' },
  { name: 'a glob below a missing directory', req: { sources: ['nodir/*.js'], dest: '/d/', allowEmptyWildcard: true }, code: 'E_BUILD_COPY_NOT_FOUND' },
  { name: 'a malformed glob', req: { sources: ['src/[a-'], dest: '/d/' }, code: 'E_DOCKERFILE_GLOB' },
  { name: 'a symbolic --chmod', req: { sources: ['a.txt'], dest: '/x', chmod: 'u+x' }, code: 'E_BUILD_COPY_CHMOD' },
  { name: 'a --chmod above 07777', req: { sources: ['a.txt'], dest: '/x', chmod: '17777' }, code: 'E_BUILD_COPY_CHMOD' },
  { name: 'a URL in COPY', req: { sources: ['https://example.com/x'], dest: '/x' }, code: 'E_BUILD_COPY_URL' },
  { name: 'a directory onto a file of the stage', req: { sources: ['src'], dest: '/app', target: stageView([['file', '/app', 0o644]]) }, code: 'E_BUILD_COPY_DEST' },
  { name: 'a parent that is a file in the stage', req: { sources: ['a.txt'], dest: '/f/x', target: stageView([['file', '/f', 0o644]]) }, code: 'E_BUILD_COPY_DEST' },
  { name: 'a file onto a directory of the stage', req: { sources: ['a.txt'], dest: '/d/', target: stageView([['dir', '/d/a.txt', 0o755]]) }, code: 'E_BUILD_COPY_DEST' },
  { name: 'a name that is a whiteout in a layer', req: { sources: ['wh'], dest: '/w' }, code: 'E_BUILD_COPY_UNSUPPORTED' },
  { name: 'a file and a directory on the same path', req: { sources: ['src', 'conflict'], dest: '/app/' }, code: 'E_BUILD_COPY_CONFLICT' },
  { name: '--checksum on COPY', req: { sources: ['a.txt'], dest: '/x', checksum: 'sha256:' + '0'.repeat(64) }, code: 'E_BUILD_ADD_CHECKSUM' },
];

describe('COPY from the build context: success', () => {
  for (const c of success) {
    test(c.name, async () => {
      assert.deepEqual(lines(await run({ kind: 'context', context: ctx }, c.req)), c.expect);
    });
  }
});

describe('COPY from the build context: failure', () => {
  for (const c of failure) {
    test(c.name, async () => {
      await assert.rejects(
        run({ kind: 'context', context: ctx }, c.req),
        (e: unknown) => isBerthError(e) && e.code === c.code,
      );
    });
  }
});

describe('COPY from the build context: metadata', () => {
  test('the whole context: ignored paths are absent, exceptions present', async () => {
    const paths = (await run({ kind: 'context', context: ctx }, { sources: ['.'], dest: '/c', excludes: ['wh'] })).map((r) => r.path);
    for (const p of ['c/a.txt', 'c/node_modules', 'c/node_modules/keep/x.js', 'c/.dockerignore']) assert.ok(paths.includes(p), p);
    for (const p of ['c/secret.txt', 'c/node_modules/drop', 'c/node_modules/drop/y.js']) assert.ok(!paths.includes(p), p);
  });

  test('the same tree copied twice merges into one (the later copy of a file wins)', async () => {
    const rows = lines(await run({ kind: 'context', context: ctx }, { sources: ['src', 'linkdir'], dest: '/app/' }));
    assert.equal(rows[0], 'app dir 0755 0:0');
    assert.deepEqual([...rows].sort(), ['app dir 0755 0:0', ...SRC_TREE('app')].sort());
  });

  test('a not-found error names the source', async () => {
    await assert.rejects(run({ kind: 'context', context: ctx }, { sources: ['missing.txt'], dest: '/x' }), /"\/missing.txt": not found/);
  });

  test('mtimes: kept for copied files, `now` for directories the copy creates', async () => {
    const rows = await run({ kind: 'context', context: ctx }, { sources: ['a.txt'], dest: '/app/' });
    assert.deepEqual(rows.map((r) => [r.path, r.mtime]), [['app', 1_700_000_000], ['app/a.txt', 1_600_000_000]]);
  });

  test('xattrs: user.* kept byte-exact, trusted.* not copied', async () => {
    const [row] = await run({ kind: 'context', context: ctx }, { sources: ['a.txt'], dest: '/a' });
    assert.deepEqual(row.xattrs, { 'user.note': '00ff' });
  });

  test('file capabilities are copied', { skip: !isRoot && 'setcap needs root' }, async () => {
    const [row] = await run({ kind: 'context', context: ctx }, { sources: ['run.sh'], dest: '/r' });
    assert.equal(row.xattrs?.['security.capability'], '0100000200200000000000000000000000000000');
  });

  test('`<Dockerfile>.dockerignore` wins over the context one', async () => {
    const df = join(tmp.dir, 'build.Dockerfile');
    writeFileSync(`${df}.dockerignore`, 'a.txt\n');
    const c2 = await openBuildContext(join(tmp.dir, 'ctx'), { dockerfile: df });
    const rows: Row[] = await run({ kind: 'context', context: c2 }, { sources: ['secret.txt'], dest: '/s' });
    assert.deepEqual(lines(rows), ['s file 0644 0:0 =no']);
    await assert.rejects(run({ kind: 'context', context: c2 }, { sources: ['a.txt'], dest: '/s' }), (e: unknown) => isBerthError(e) && e.code === 'E_BUILD_COPY_NOT_FOUND');
  });

  test('the plan reports the resolved destination', async () => {
    const plan = await planCopy({ kind: 'context', context: ctx }, request({ sources: ['a.txt'], dest: 'sub/', workdir: '/w', target: emptyView() }));
    assert.equal(plan.dest, '/w/sub');
  });
});
