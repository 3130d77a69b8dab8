#!/usr/bin/env node
// Runs graphql-http's serverAudits (GraphQL over HTTP spec conformance) against a running hub.
//
//   cd .ci/audit && npm ci && cd ../.. && node .ci/audit/audit.mjs http://127.0.0.1:8080/graphql
//
// Prints one line per audit (ok / notice / warn / error, id, name, and the reason when it failed)
// and a summary line; exits 1 when any audit ends in a warning or an error (MAY-level notices are
// reported but do not fail), 2 on bad usage or when the audits could not run at all.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node .ci/audit/audit.mjs http://HOST:PORT/graphql');
  process.exit(2);
}

const timeoutMs = Number(process.env.AUDIT_TIMEOUT_MS || 10000);
const fetchFn = (input, init = {}) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });

async function describe(response) {
  if (!response) return '';
  try {
    const body = await response.clone().text();
    const type = response.headers.get('content-type') || '-';
    return ` [${response.status} ${type}] ${body.length > 300 ? `${body.slice(0, 300)}...` : body}`;
  } catch {
    return ` [${response.status}]`;
  }
}

let results;
try {
  results = [];
  // one audit after another: a failure is easier to read in the hub's log, and the hub is not a
  // load test target here
  for (const { fn } of serverAudits({ url, fetchFn })) {
    results.push(await fn());
  }
} catch (err) {
  console.error(`audit could not run against ${url}: ${err && err.stack ? err.stack : err}`);
  process.exit(2);
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] = (counts[result.status] || 0) + 1;
  let line = `${result.status.padEnd(6)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    line += `\n       reason: ${result.reason}${await describe(result.response)}`;
  }
  console.log(line);
}
console.log(
  `summary: ok=${counts.ok} notice=${counts.notice} warn=${counts.warn} error=${counts.error} total=${results.length}`,
);
process.exit(counts.warn || counts.error ? 1 : 0);
