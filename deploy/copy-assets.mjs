// After tsc: copy the non-TypeScript files the code reads at run time (SQL migrations, IVR
// flows and prompts, the wallboard page) next to the compiled JavaScript in dist/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import process from 'node:process';

const ROOTS = ['shared', 'site-node', 'hub', 'access-gateway'];
const ASSET = /\.(sql|ya?ml|html|css)$/;
let copied = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (ASSET.test(name)) {
      cpSync(path, join('dist', relative('.', path)));
      copied++;
    }
  }
}

for (const root of ROOTS) walk(root);
process.stdout.write(`copied ${copied} asset files into dist/\n`);
