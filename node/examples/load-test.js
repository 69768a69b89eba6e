// Load test of examples/http-server.js on loopback with autocannon (a devDependency):
// starts the server in a child process (so load generation and serving do not share one
// event loop), then drives a mix of customer lookups, latest-score reads and context
// updates for a bounded time and prints requests/s, latency percentiles and error counts.
//
//   node examples/load-test.js [seconds=10] [connections=64]
'use strict'

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const autocannon = require('autocannon')

const seconds = Number(process.argv[2] || 10)
const connections = Number(process.argv[3] || 64)
const customers = 10000

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'http-server.js'), dir, '0'], {
      env: { ...process.env, CIDB_HTTP_CUSTOMERS: String(customers) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line)
      if (m) resolve({ child, url: m[1] })
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
}

function run(opts) {
  return new Promise((resolve, reject) => autocannon(opts, (e, r) => (e ? reject(e) : resolve(r))))
}

;(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-load-'))
  const { child, url } = await startServer(dir)
  let n = 0
  const next = () => `c${(n = (n * 7919 + 13) % customers)}`
  const mixes = {
    'GET customer': () => ({ method: 'GET', path: `/t/demo/customers/${next()}` }),
    'GET latest score': () => ({ method: 'GET', path: `/t/demo/customers/${next()}/scores/churn` }),
    'POST context update': () => ({
      method: 'POST',
      path: `/t/demo/contexts/conv-${next()}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entries: [{ role: 'user', content: 'hello' }], ttlMs: 600000, maxHistory: 20 }),
    }),
  }
  console.log(`cidb HTTP example, ${connections} connections, ${seconds} s per route, ${customers} customers`)
  console.log('route                   req/s   p50 ms   p99 ms   max ms  non-2xx  errors')
  try {
    for (const [name, make] of Object.entries(mixes)) {
      const r = await run({ url, connections, duration: seconds, requests: [{ setupRequest: (req) => ({ ...req, ...make() }) }] })
      const l = r.latency
      console.log(`${name.padEnd(22)} ${String(Math.round(r.requests.average)).padStart(6)} ${String(l.p50).padStart(8)} ${String(l.p99).padStart(8)} ${String(l.max).padStart(8)} ${String(r.non2xx).padStart(8)} ${String(r.errors + r.timeouts).padStart(7)}`)
      if (r.non2xx || r.errors || r.timeouts) process.exitCode = 1
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('exit', resolve))
    fs.rmSync(dir, { recursive: true, force: true })
  }
})().catch((e) => {
  console.error(e)
  process.exit(1)
})
