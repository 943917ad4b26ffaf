// The console's own rules, without a browser: vendored modules match the
// lock file, nothing is loaded from elsewhere, and the pure helpers count
// right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repo } from './harness.mjs';
import { poolUsage, text } from '../../web/app/kinds.js';

test('web/vendor/ holds exactly the versions of web/package-lock.json', () => {
  const out = execFileSync(process.execPath, [join(repo, 'web', 'vendor.mjs'), '--check'], { encoding: 'utf8' });
  assert.match(out, /13 files match package-lock.json/);
  const lock = JSON.parse(readFileSync(join(repo, 'web', 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(repo, 'web', 'package.json'), 'utf8'));
  for (const [name, version] of Object.entries(pkg.dependencies)) {
    assert.match(version, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    assert.equal(lock.packages[`node_modules/${name}`].version, version);
  }
});

test('the console loads nothing from outside the controller', () => {
  const files = ['index.html', 'style.css', ...readdirSync(join(repo, 'web', 'app')).map((f) => `app/${f}`)];
  for (const f of files) {
    const source = readFileSync(join(repo, 'web', f), 'utf8');
    assert.doesNotMatch(source, /(src|href)=["']?(https?:)?\/\//, f);
    assert.doesNotMatch(source, /from ['"]https?:/, f);
    assert.doesNotMatch(source, /fetch\(['"`]https?:/, f);
  }
});

test('a CA pool counts used and free addresses without its gateway and reserved ones', () => {
  const pool = { ranges: [{ start: '10.0.0.1', end: '10.0.0.10' }], reserved: ['10.0.0.5'], gateway: '10.0.0.1' };
  assert.deepEqual(poolUsage(pool, []), { used: 0, free: 8 });
  assert.deepEqual(poolUsage(pool, ['10.0.0.2', '10.0.0.3', '10.0.0.200', '10.0.0.3']), { used: 2, free: 6 });
  assert.deepEqual(poolUsage({ ranges: [{ start: '10.0.0.250', end: '10.0.1.4' }], reserved: [] }, ['10.0.1.0']), { used: 1, free: 10 });
  assert.equal(text([{ start: '10.0.0.1', end: '10.0.0.9' }]), '10.0.0.1–10.0.0.9');
  assert.equal(text([{ prefix: '192.168.1.0/24', vlan: 10 }]), '192.168.1.0/24 (VLAN 10)');
  assert.equal(text(null), '—');
});
