// Attributes as JSON: the legacy "color=red;size=M" text becomes a json
// document built in JavaScript (json, not jsonb, keeps the key order, so the
// downgrade writes back exactly the text it read).
import { batch, executeMany, query } from 'pgwasm:migration/sql@0.1.0';
import { log } from 'pgwasm:migration/context@0.1.0';

// Imports report a database error by throwing it; the export's error must be a string.
function sql(what, run) {
  try {
    return run();
  } catch (e) {
    const err = e.payload ?? e;
    throw `${what}: ${err.sqlstate ?? ''} ${err.message ?? err}`;
  }
}

const text = (value) => ({ tag: 'text', val: value });
const json = (value) => ({ tag: 'json', val: value });

// The sandbox gives a revision no environment and no files: log what it sees.
function showSandbox() {
  const env = typeof process === 'undefined' ? 'no process object' : `${Object.keys(process.env).length} variable(s)`;
  const files = typeof require === 'undefined' && typeof Deno === 'undefined' ? 'no file API' : 'a file API';
  log('info', `sandbox check: environment: ${env}; files: ${files}`);
}

export function info() {
  return {
    id: 'e6a1d3b8f072',
    downRevisions: ['5b7e2f90c4d8'],
    branchLabels: [],
    dependsOn: [],
    message: 'Attributes as JSON',
    transactional: true,
  };
}

export function upgrade() {
  showSandbox();
  sql('add attributes', () => batch('ALTER TABLE products ADD COLUMN attributes json'));
  const rows = sql('read attrs', () =>
    query('SELECT id, attrs FROM products WHERE attrs IS NOT NULL ORDER BY id', []));
  const updates = rows.values.map(([id, attrs]) => {
    const doc = {};
    for (const pair of attrs.val.split(';')) {
      const at = pair.indexOf('=');
      if (at < 0) throw `product ${id.val}: attribute "${pair}" has no "="`;
      doc[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return [id, json(JSON.stringify(doc))];
  });
  const changed = sql('write attributes', () =>
    executeMany('UPDATE products SET attributes = $2 WHERE id = $1', updates));
  log('info', `${changed} attribute lists turned into JSON`);
  sql('drop attrs', () => batch('ALTER TABLE products DROP COLUMN attrs'));
}

export function downgrade() {
  sql('add attrs', () => batch('ALTER TABLE products ADD COLUMN attrs text'));
  const rows = sql('read attributes', () =>
    query('SELECT id, attributes FROM products WHERE attributes IS NOT NULL ORDER BY id', []));
  const updates = rows.values.map(([id, attributes]) => {
    const doc = JSON.parse(attributes.val);
    return [id, text(Object.entries(doc).map(([k, v]) => `${k}=${v}`).join(';'))];
  });
  sql('write attrs', () => executeMany('UPDATE products SET attrs = $2 WHERE id = $1', updates));
  sql('drop attributes', () => batch('ALTER TABLE products DROP COLUMN attributes'));
}
