// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints every audit that is not ok, then the counts per level; exits 1 on any MUST or SHOULD
// that is not ok. The MAY notices left are explained in the README ("GraphQL over HTTP").
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const counts = {};
for (const r of results) {
  const level = r.name.split(' ')[0];
  counts[level] ??= {};
  counts[level][r.status] = (counts[level][r.status] ?? 0) + 1;
  if (r.status !== 'ok') console.log(`${r.status.toUpperCase()} ${r.name}: ${r.reason}`);
}
console.log(`graphql-http ${results.length} audits: ${JSON.stringify(counts)}`);
const failed = results.filter((r) => r.status !== 'ok' && !r.name.startsWith('MAY'));
process.exit(failed.length ? 1 : 0);
