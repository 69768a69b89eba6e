// An HTTP service over cidb with Node's own `http` module: customer lookups, latest scores
// and conversation-context updates, the three calls a customer-intelligence API serves most.
//
//   node examples/http-server.js [dir] [port]      (defaults: a temp dir, port 8080)
//
// Routes (tenant in the path, JSON in and out):
//   GET  /t/:tenant/customers/:id                     the customer, or 404
//   GET  /t/:tenant/customers/:id/scores/:type        the latest score of that type, or 404
//   POST /t/:tenant/contexts/:conversation            body {entries, ttlMs, maxHistory}:
//                                                     merges entries, returns the new context
//   GET  /t/:tenant/contexts/:conversation            the context, or 404 (absent or expired)
//   GET  /metrics                                     statement monitor, Prometheus text
//   GET  /healthz                                     200 while the engine answers
//
// Reads use the synchronous API (microseconds, like better-sqlite3); the context update uses
// the Promise form so the durable commit happens off the event loop and concurrent requests
// share group commits. cidb errors map to HTTP by `err.code`.
'use strict'

const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/** HTTP status for a cidb error code: bad input 400, missing 404, unavailable 503. */
function statusFor(code) {
  if (code === 'CIDB_NOT_FOUND') return 404
  if (code === 'CIDB_UNAVAILABLE' || code === 'CIDB_CLOSED') return 503
  if (code === 'CIDB_CONTENT_TOO_LARGE' || code === 'CIDB_VALUE_TOO_LARGE') return 413
  if (typeof code === 'string' && (code.startsWith('CIDB_INVALID') || code === 'CIDB_TYPE_MISMATCH')) return 400
  return 500
}

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

const MAX_BODY = 1 << 20

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('request body over 1 MiB'), { status: 413 }))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'))
      } catch (e) {
        reject(Object.assign(new Error(`request body is not JSON: ${e.message}`), { status: 400 }))
      }
    })
    req.on('error', reject)
  })
}

/** The request handler over an open engine (exported for tests and the load test). */
function createServer(db) {
  const tenants = new Map()
  const tenant = (name) => {
    let t = tenants.get(name)
    if (!t) {
      t = db.tenant(name)
      tenants.set(name, t)
    }
    return t
  }
  return http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost')
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
      if (req.method === 'GET' && url.pathname === '/healthz') {
        db.stats()
        return send(res, 200, { ok: true })
      }
      if (req.method === 'GET' && url.pathname === '/metrics') return send(res, 200, db.prometheus())
      if (parts[0] !== 't' || parts.length < 4) return send(res, 404, { error: 'no such route' })
      const t = tenant(parts[1])
      const [kind, key] = [parts[2], parts[3]]
      if (req.method === 'GET' && kind === 'customers' && parts.length === 4) {
        const c = t.getCustomer(key)
        return c ? send(res, 200, c) : send(res, 404, { error: `no customer ${key}` })
      }
      if (req.method === 'GET' && kind === 'customers' && parts.length === 6 && parts[4] === 'scores') {
        const s = t.latestScore(key, parts[5])
        return s ? send(res, 200, s) : send(res, 404, { error: `no ${parts[5]} score for ${key}` })
      }
      if (kind === 'contexts' && parts.length === 4) {
        if (req.method === 'GET') {
          const c = t.getContext(key)
          return c ? send(res, 200, c) : send(res, 404, { error: `no context ${key}` })
        }
        if (req.method === 'POST') {
          const body = await readJson(req)
          const ctx = await t.updateContextAsync(key, body.entries ?? [], {
            ttlMs: body.ttlMs ?? 3_600_000,
            maxHistory: body.maxHistory ?? 50,
          })
          return send(res, 200, ctx)
        }
      }
      return send(res, 404, { error: 'no such route' })
    } catch (e) {
      const status = e.status ?? statusFor(e.code)
      send(res, status, { error: e.message, code: e.code ?? null })
    }
  })
}

/** Loads `n` customers with a churn score each into `tenant` (ids c0..c{n-1}). */
function seed(db, tenant, n) {
  const t = db.tenant(tenant)
  const now = Date.now()
  for (let i = 0; i < n; i += 1000) {
    const ids = Array.from({ length: Math.min(1000, n - i) }, (_, k) => `c${i + k}`)
    t.upsertCustomers(ids.map((id, k) => ({ id, email: `${id}@example.com`, department: `d${(i + k) % 10}`, status: 'active', createdAt: now, updatedAt: now })))
    t.addScores(ids.map((id, k) => ({ customerId: id, scoreType: 'churn', score: ((i + k) % 100) / 100, confidence: 0.9, createdAt: now })))
  }
}

module.exports = { createServer, seed, statusFor }

if (require.main === module) {
  const cidb = require('..')
  const dir = process.argv[2] || fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-http-'))
  const port = Number(process.argv[3] || 8080)
  const db = cidb.open(dir)
  if (db.tenant('demo').countCustomers() === 0) seed(db, 'demo', Number(process.env.CIDB_HTTP_CUSTOMERS || 10000))
  const server = createServer(db)
  server.listen(port, '127.0.0.1', () => {
    const { port: p } = server.address()
    // The load test waits for this line.
    console.log(`listening on http://127.0.0.1:${p} (data in ${dir})`)
  })
  const stop = () => server.close(() => { db.close(); process.exit(0) })
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
