// Copies the console's third-party modules from node_modules/ (installed by
// `npm ci` at the exact versions of package-lock.json) into vendor/, with
// their licences and a manifest of versions and SHA-256 sums. The controller
// serves vendor/ as it is: no CDN, no bundler, no Node at run time.
// `node vendor.mjs --check` verifies vendor/ against the lock file instead.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = [
  // [package, file in the package, name in vendor/]
  ['htm', 'preact/standalone.module.js', 'htm-preact-standalone.mjs'],
  ['htm', 'LICENSE', 'licenses/htm.txt'],
  ['cytoscape', 'dist/cytoscape.esm.min.mjs', 'cytoscape.esm.min.mjs'],
  ['cytoscape', 'LICENSE', 'licenses/cytoscape.txt'],
  ['uplot', 'dist/uPlot.esm.js', 'uPlot.esm.js'],
  ['uplot', 'dist/uPlot.min.css', 'uPlot.min.css'],
  ['uplot', 'LICENSE', 'licenses/uplot.txt'],
  // fcose, the topology's compound-aware layout: UMD builds, loaded as
  // classic scripts in this order (each sets a global the next one uses).
  ['layout-base', 'layout-base.js', 'layout-base.js'],
  ['layout-base', 'LICENSE', 'licenses/layout-base.txt'],
  ['cose-base', 'cose-base.js', 'cose-base.js'],
  ['cose-base', 'LICENSE', 'licenses/cose-base.txt'],
  ['cytoscape-fcose', 'cytoscape-fcose.js', 'cytoscape-fcose.js'],
  ['cytoscape-fcose', 'LICENSE', 'licenses/cytoscape-fcose.txt'],
];

const lock = JSON.parse(readFileSync(join(here, 'package-lock.json'), 'utf8'));
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const manifestPath = join(here, 'vendor', 'manifest.json');

if (process.argv.includes('--check')) {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const problems = [];
  for (const [pkg, , name] of files) {
    const entry = manifest.files[name];
    const locked = lock.packages[`node_modules/${pkg}`]?.version;
    if (!entry) problems.push(`${name}: not in the manifest`);
    else if (entry.version !== locked) problems.push(`${name}: ${pkg} ${entry.version}, lock says ${locked}`);
    else if (sha256(join(here, 'vendor', name)) !== entry.sha256) problems.push(`${name}: changed since vendoring`);
  }
  if (problems.length) {
    console.error(`vendor/ does not match package-lock.json:\n  ${problems.join('\n  ')}\nrun: npm ci && npm run vendor`);
    process.exit(1);
  }
  console.log(`vendor/: ${files.length} files match package-lock.json`);
  process.exit(0);
}

const manifest = { note: 'written by `npm run vendor`; do not edit', files: {} };
for (const [pkg, from, to] of files) {
  const source = join(here, 'node_modules', pkg, from);
  if (!existsSync(source)) {
    console.error(`${source} is missing: run npm ci first`);
    process.exit(1);
  }
  const target = join(here, 'vendor', to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  const version = JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  manifest.files[to] = { package: pkg, version, from, sha256: sha256(target) };
  console.log(`vendor/${to} <- ${pkg}@${version}/${from}`);
}
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
