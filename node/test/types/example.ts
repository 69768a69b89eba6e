// A small typed program against the generated index.d.ts. `tsc --noEmit -p test/types`
// must accept it: the valid calls type-check, and every `@ts-expect-error` line must be an
// error (tsc fails on an unused one), so the declarations are precise, not `any`.
import * as cidb from '../..'
import type {
  Alert, BackupReport, CacheStats, ChangeEvent, Context, Customer, CustomerInput, Delivery, Engine, ErrorCode, EventStream, FingerprintStats,
  ImportReport, Message, MessageQuery, MonitorStats, NewMessage, Score, ScoreInput, Setting, Subscription, Tenant,
  IndexInfo, QueryResult, Statement,
  Advice, AdviceOptions, Recommendation, HelpedQuery, UnindexedForeignKey, UnusedIndex, Health, IndexSampleCheck, OptimizeReport,
  FailedRecommendation, Metrics, IndexUsage,
} from '../..'

async function main(dir: string): Promise<void> {
  const db: Engine = cidb.open(dir, { profile: 'production' })
  const acme: Tenant = db.tenant('acme')

  const input: CustomerInput = { id: 'c1', email: null, createdAt: new Date(), updatedAt: 1_700_000_000_000n, attributes: { tier: 'gold' } }
  acme.upsertCustomer(input)
  await acme.upsertCustomersAsync([{ id: 'c2' }, { id: 'c3', department: 'sales', status: 'active' }])
  const c: Customer | null = acme.getCustomer('c1')
  if (c) {
    const created: number = c.createdAt
    const email: string | null = c.email
    const tier: unknown = c.attributes.tier
    acme.upsertCustomer(c) // a stored record is a valid input
    void [created, email, tier]
  }
  const deleted: boolean = await acme.deleteCustomerAsync('c3')
  const count: number = acme.countCustomers()

  const score: ScoreInput = { customerId: 'c1', scoreType: 'churn', score: 0.4, confidence: 0.9 }
  acme.addScore(score)
  await acme.addScoresAsync([{ ...score, createdAt: Date.now(), model: 'gbm-v2' }])
  const latest: Score | null = await acme.latestScoreAsync('c1', 'churn')
  const history: Score[] = acme.scoreHistory('c1', 'churn', new Date(0), 10n)

  const nm: NewMessage = { customerId: 'c1', conversationId: 'v1', role: 'assistant', content: 'hello', metadata: { tokens: 2 } }
  const m: Message = acme.appendMessage(nm)
  const id: number | bigint = m.id
  const ms: Message[] = await acme.appendMessagesAsync([nm, { ...nm, role: 'tool' }])
  const q: MessageQuery = { from: 0, to: new Date(), role: 'user', limit: 10 }
  const recent: Message[] = acme.messagesForCustomer('c1', q)
  const conv: Message[] = await acme.messagesForConversationAsync('v1')

  const codes: ErrorCode[] = cidb.errorCodes()
  try {
    acme.getCustomer('')
  } catch (e) {
    const code = (e as Error & { code?: string }).code
    if (code === 'CIDB_INVALID_ID') console.log('invalid id')
  }
  const stats = await db.statsAsync()
  const messages: number | null = stats.messages
  // @ts-expect-error row counts are null while storage cannot be read
  const rows: number = stats.customers
  await db.closeAsync()
  const again: Engine = await cidb.openAsync(dir)
  again.close()

  // configuration, cache, context, feed, monitor, import, backup
  const settings: Setting[] = cidb.config({ profile: 'production', config: '/etc/cidb.toml' })
  const withFile: Engine = cidb.open(dir, { config: `${dir}/cidb.toml` })
  acme.cacheSet('k', Buffer.from('v'), { ttlMs: 1000 })
  acme.cacheSet('k', new Uint8Array([1]))
  await acme.cacheSetAsync('k', 'text', { ttlMs: 10n })
  const cached: Buffer | null = acme.cacheGet('k')
  const cachedAsync: Buffer | null = await acme.cacheGetAsync('k')
  const produced: Buffer = acme.cacheGetOrSet('k', () => 'computed', { ttlMs: 60_000 })
  const removed: boolean = await acme.cacheDeleteAsync('k')
  const cacheStats: CacheStats = db.cacheStats()
  const l2hits: number = cacheStats.l2.hits
  const ctx: Context = acme.updateContext('v1', [{ role: 'user', content: 'hi' }], { ttlMs: 60_000, maxHistory: 20 })
  const ctxAsync: Context | null = await acme.getContextAsync('v1')
  const swept: number = await db.sweepExpiredAsync()
  const sub: Subscription = acme.subscribe((d: Delivery) => {
    if ('event' in d) {
      const e: ChangeEvent = d.event
      const op: 'insert' | 'update' | 'delete' = e.op
      const row: Record<string, unknown> | null = e.new
      void [op, row]
    } else {
      const resumeFrom: number = d.missed.fromSeq
      void acme.eventsSince(resumeFrom, d.missed.count)
    }
  })
  const filtered: Subscription = db.subscribe({ tables: ['latest_scores'], crossing: { scoreType: 'churn', threshold: 0.7 } }, () => {})
  sub.close()
  filtered.close()
  const stream: EventStream = acme.events({ ops: ['delete'] })
  for await (const d of stream) {
    if ('event' in d) break
  }
  const since: ChangeEvent[] = await acme.eventsSinceAsync(0n, 100)
  const mon: MonitorStats = db.monitorStats()
  const top: FingerprintStats[] = db.top(5)
  const prom: string = db.prometheus()
  const alertId: number = db.onAlert((a: Alert) => console.log(a.kind, a.value))
  const gone: boolean = db.removeAlertCallback(alertId)
  const imported: ImportReport = acme.importRecords('customers', [{ id: 'c9', createdAt: new Date() }])
  const firstReject: number | undefined = imported.rejects[0]?.line
  const csvReport: ImportReport = await acme.importCsvAsync('customer_scores', 'scores.csv', { delimiter: '\t', batchSize: 5000 })
  const backup: BackupReport = await db.backupAsync(`${dir}-copy`)
  withFile.close()
  void [settings, cached, cachedAsync, produced, removed, l2hits, ctx, ctxAsync, swept, since, mon, top, prom, gone, firstReject, csvReport, backup]

  // @ts-expect-error cache values are bytes or strings, not numbers
  acme.cacheSet('k', 5)
  // @ts-expect-error updateContext needs its ttlMs and maxHistory
  acme.updateContext('v1', [], {})
  // @ts-expect-error latest_scores cannot be imported
  acme.importRecords('latest_scores', [])
  // @ts-expect-error a subscription needs a callback
  acme.subscribe({ tables: ['customers'] })
  // @ts-expect-error unknown feed table
  acme.events({ tables: ['orders'] })
  // @ts-expect-error cacheGetOrSet has no Async form
  acme.cacheGetOrSetAsync('k', () => 'x')
  // @ts-expect-error ids are strings
  acme.getCustomer(1)
  // @ts-expect-error a customer needs an id
  acme.upsertCustomer({ email: 'x@example.com' })
  // @ts-expect-error roles are a fixed set
  acme.appendMessage({ ...nm, role: 'bot' })
  // @ts-expect-error scores are numbers
  acme.addScore({ ...score, score: '0.5' })
  // @ts-expect-error timestamps are numbers, bigints or Dates, not strings
  acme.scoreHistory('c1', 'churn', '2024-01-01')
  // @ts-expect-error unknown profile
  cidb.open(dir, { profile: 'turbo' })
  // @ts-expect-error stored timestamps are numbers, not Dates
  const d: Date = (c as Customer).createdAt
  // @ts-expect-error getCustomer may return null
  const notNull: Customer = acme.getCustomer('c1')
  // @ts-expect-error the Async form returns a Promise
  const sync: Customer | null = acme.getCustomerAsync('c1')

  const found: QueryResult = acme.query('SELECT id, created_at FROM customers WHERE department = ? AND status = ? ORDER BY created_at', ['sales', 'active'])
  const firstId: null | number | bigint | string | Record<string, unknown> | unknown[] = found.rows[0][0]
  const st: Statement = acme.prepare('SELECT id FROM customers WHERE department = ?')
  const reused: QueryResult = await st.queryAsync(['ops'])
  const plan = acme.explain('SELECT id FROM customers WHERE department = ?', ['ops'])
  const indexes: IndexInfo[] = db.indexes()
  void [found, firstId, st.paramCount, reused, plan, indexes]

  // the operations layer: index advisor, health, optimize, metrics
  const adviceOptions: AdviceOptions = { minGain: 0.3, minCalls: 10n, maxRecommendations: 5 }
  const advice: Advice = db.advise(adviceOptions)
  const adviceAsync: Advice = await db.adviseAsync()
  const best: Recommendation | undefined = advice.recommendations[0]
  if (best) {
    const createSql: string = best.createSql
    const predicate: string | null = best.predicate
    const helped: HelpedQuery[] = best.queries
    const gain: number = best.gain
    db.execute(createSql)
    void [predicate, helped[0]?.planAfter, gain]
  }
  const fk: UnindexedForeignKey | undefined = advice.unindexedForeignKeys[0]
  const unused: UnusedIndex[] = advice.unusedIndexes
  const built: Recommendation[] = db.adviseApply(0.5)
  const builtAsync: Recommendation[] = await db.adviseApplyAsync()
  const health: Health = db.health()
  const status: 'ok' | 'degraded' | 'unhealthy' = health.status
  const storageError: string | null = (await db.healthAsync()).storageError
  const checks: IndexSampleCheck[] = health.indexes
  const active: Alert[] = health.activeAlerts
  const optimized: OptimizeReport = db.optimize()
  const failed: FailedRecommendation[] = (await db.optimizeAsync(0.8)).failed
  const metrics: Metrics = db.metrics()
  const usage: IndexUsage[] = (await db.metricsAsync()).indexUsage
  const monitored: MonitorStats = metrics.monitor
  const exposition: string = db.metricsPrometheus() + (await db.metricsPrometheusAsync())
  void [adviceAsync, fk, unused, built, builtAsync, status, storageError, checks, active, optimized.applied, failed, usage, monitored, exposition]
  // @ts-expect-error minGain is a number
  db.advise({ minGain: 'high' })
  // @ts-expect-error unknown advisor option
  db.advise({ gain: 0.5 })
  // @ts-expect-error adviseApply takes the gain itself, not options
  db.adviseApply({ minGain: 0.5 })
  // @ts-expect-error the health status is a fixed set
  const bad: 'fine' = health.status
  // @ts-expect-error the Async form returns a Promise
  const notYet: Metrics = db.metricsAsync()
  void [bad, notYet]
  void [deleted, count, latest, history, id, ms, recent, conv, codes, messages, rows, d, notNull, sync]
}

void main
