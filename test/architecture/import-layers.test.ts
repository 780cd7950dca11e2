import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// The import rule of docs/design.md ("Layout"), checked on the code itself: imports point down the
// layers, never up or across, and no files import each other in a loop. Type-only imports count too:
// they are how a layer comes to know another's ideas.
const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Bottom first. A file may import its own folder and folders of lower layers only. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'names.ts', 'object-ref.ts'],
  ['net', 'observability'],
  ['config', 'election'],
  ['ipam', 'k8s'],
  ['controller', 'speaker'],
  ['status'],
  ['cli'],
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** `src/x/y.ts` -> `x`; `src/names.ts` -> `names.ts`. */
const unitOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0] as string;
const layerOf = (unit: string): number => LAYERS.findIndex((l) => l.includes(unit));

const imports = new Map<string, string[]>();
for (const file of files(SRC)) {
  const text = readFileSync(file, 'utf8');
  const targets = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
  imports.set(file, targets);
}

t.test('every folder under src/ has its layer', async (t) => {
  const units = new Set([...imports.keys()].map(unitOf));
  t.same([...units].filter((u) => layerOf(u) < 0), [], 'add new folders to LAYERS (and to design.md)');
});

t.test('imports point down the layers', async (t) => {
  const up: string[] = [];
  for (const [file, targets] of imports) {
    const from = unitOf(file);
    for (const target of targets) {
      const to = unitOf(target);
      if (to !== from && layerOf(to) >= layerOf(from)) up.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`);
    }
  }
  t.same(up, [], 'no import up or across a layer');
});

t.test('no files import each other in a loop', async (t) => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of imports.get(f) ?? []) {
      if (state.get(g) === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g].map((x) => path.relative(SRC, x)).join(' -> '));
      else if (!state.has(g) && imports.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of imports.keys()) if (!state.has(f)) visit(f);
  t.same(cycles, [], 'no import cycle');
});
