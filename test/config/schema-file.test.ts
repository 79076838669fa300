// config/schema.json is generated from src/config/schema.ts and committed for editors: it must
// equal a fresh generation, and on its own (plain ajv, no TypeBox) accept the default config.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { schemaJson, SCHEMA_FILE } from '../../src/config/gen-schema.js';
import { isHostAddress } from '../../src/config/formats.js';

t.test('committed config/schema.json equals a fresh generation (run: npx tsx src/config/gen-schema.ts)', async (t) => {
  t.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaJson());
});

t.test('schema.json alone validates the default config and rejects an unknown key', async (t) => {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('host', { type: 'string', validate: isHostAddress });
  const validate = ajv.compile(schema);
  const config = parse(readFileSync(fileURLToPath(new URL('../../config/sluice.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;
  t.equal(validate(config), true, JSON.stringify(validate.errors));
  t.equal(validate({ ...config, listenrs: [] }), false);
  t.equal(validate.errors?.[0]?.keyword, 'additionalProperties');
});

t.test('every object in the schema is closed', async (t) => {
  const open: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'object' && o.properties !== undefined && o.additionalProperties !== false) open.push(path);
    for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
  };
  walk(JSON.parse(schemaJson()), '#');
  t.same(open, []);
});
