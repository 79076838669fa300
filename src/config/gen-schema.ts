// Writes config/schema.json from the TypeBox schema (schema.ts), for editors and other tools.
// Run: npx tsx src/config/gen-schema.ts   (test/config/schema-file.test.ts checks it is current)

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from './schema.js';

/** The JSON Schema text as committed: draft-07 (what ajv validates with), 2-space indent. */
export function schemaJson(): string {
  const doc = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...ConfigSchema,
  };
  // JSON.stringify drops TypeBox's symbol-keyed metadata, leaving plain JSON Schema.
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The package root: the nearest directory up with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const SCHEMA_FILE = join(packageRoot(), 'config', 'schema.json');

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, schemaJson());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
