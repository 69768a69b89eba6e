//! Parallel full-table scans for column-wise results (`Statement::query_columns`, what
//! `to_arrow` runs). A plan that only scans one table in key order and streams every row
//! that passes its filters (no join, sort, grouping, LIMIT or OFFSET) is split into
//! contiguous key ranges, one per thread; every thread reads its range from the SAME read
//! snapshot (a [`Snapshot`](crate::storage::snapshot::Snapshot) is `Send + Sync`, so all
//! of them see one consistent state) into its own [`Columns`], and the pieces are kept in
//! key order as the result's chunks (`Statement::query_column_chunks`: no copy; bindings
//! export them as chunked Arrow arrays), or joined into one [`Columns`] by [`join`]
//! (`Statement::query_columns`). Either way the rows are exactly the serial scan's, row
//! for row.
//!
//! Split points come from the first and last key of the tenant's range, interpolated
//! over the eight bytes after their common prefix: no count of the keys is needed (redb
//! has none per range), and keys spread over their byte range (sequential ids, UUIDs)
//! split about evenly. A skewed key space only makes one thread do more of the work.
//! Small scans, and machines with one core, run serially.

use super::access::PathKind;
use super::columns::{Column, ColumnData, Columns};
use super::eval::{all_true, resolve_pred};
use super::exec::{expected_rows, AccessRun, RunStats, Runtime, Sink, StepStats};
use super::output::Consumer;
use super::planner::Plan;
use crate::error::Result;
use crate::schema::Value;
use crate::sql::bind::Pred;
use crate::storage::keys::Key;

/// Rows a scan is expected to examine before it is worth more than one thread.
const MIN_ROWS: f64 = 100_000.0;
/// Most threads one scan uses.
const MAX_THREADS: usize = 4;

#[cfg(test)]
thread_local! {
    /// Tests: the threads every eligible scan of this thread uses, whatever its size
    /// (0: the normal rule).
    pub(super) static FORCE_THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Tests: scans of this thread that ran in parallel.
    pub(super) static PARALLEL_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `plan` on several threads when it is a plain scan big enough to gain from it:
/// the rows as chunks in key order (at least one, none of them empty unless it is the
/// only one). None when it must (or had better) run serially.
pub(super) fn scan_columns(rt: &Runtime, plan: &Plan, names: &[String]) -> Result<Option<(Vec<Columns>, RunStats)>> {
    #[cfg(test)]
    {
        let forced = FORCE_THREADS.with(|f| f.get());
        if forced > 0 {
            return scan_columns_with(rt, plan, names, forced);
        }
    }
    if plan.outer.est_examined.max(plan.est_rows) < MIN_ROWS {
        return Ok(None);
    }
    // Read once: on Linux it reads the cgroup's CPU quota from files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    scan_columns_with(rt, plan, names, threads.min(MAX_THREADS))
}

/// True when `plan` streams the rows of one key-ordered table scan straight out.
fn eligible(rt: &Runtime, plan: &Plan) -> bool {
    let sel = &plan.sel;
    !rt.analyze
        && plan.join.is_none()
        && matches!(plan.outer.kind, PathKind::Scan)
        && !plan.sort
        && sel.group.is_none()
        && sel.limit.is_none()
        && sel.offset.is_none()
}

/// [`scan_columns`] with `threads` threads, whatever the size (tests force it on small
/// tables). None when the plan is not eligible or the range holds fewer than two keys.
pub(super) fn scan_columns_with(rt: &Runtime, plan: &Plan, names: &[String], threads: usize) -> Result<Option<(Vec<Columns>, RunStats)>> {
    if threads < 2 || !eligible(rt, plan) {
        return Ok(None);
    }
    let base = rt.txn.rows(plan.outer.table)?;
    let start = Key::tenant(rt.tenant).0;
    let end = Key(start.clone()).prefix_end();
    let mut keys = base.range::<&[u8]>(start.as_slice()..end.as_slice())?;
    let first = match keys.next() {
        Some(kv) => kv?.0.value().to_vec(),
        None => return Ok(None),
    };
    let last = match keys.next_back() {
        Some(kv) => kv?.0.value().to_vec(),
        None => return Ok(None),
    };
    drop(keys);
    let mut bounds = vec![start];
    bounds.extend(split_points(&first, &last, threads));
    bounds.push(end);
    if bounds.len() < 3 {
        return Ok(None);
    }
    let residual: Vec<Pred> = plan.residual.iter().map(|p| resolve_pred(p, &rt.env)).collect::<Result<_>>()?;
    // Rows each thread is expected to produce (a quarter more than an even share).
    let expect = expected_rows(plan) / (bounds.len() - 1) * 5 / 4;
    let parts: Vec<Result<(Columns, StepStats)>> = std::thread::scope(|s| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let residual = &residual;
                s.spawn(move || scan_part(rt, plan, names, residual, &w[0], &w[1], expect))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(crate::error::err(crate::ErrorKind::Internal, "a scan thread panicked"))))
            .collect()
    });
    // Counted as the one range scan the serial plan runs.
    let mut stats = RunStats {
        outer: StepStats { runs: 1, seeks: 1, ..StepStats::default() },
        ..RunStats::default()
    };
    let mut parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
    if plan.outer.reverse {
        parts.reverse();
    }
    let mut pieces = Vec::with_capacity(parts.len());
    for (c, st) in parts {
        stats.outer.rows += st.rows;
        stats.outer.examined += st.examined;
        // Empty ranges add nothing (an exporter would only have to type their columns).
        if c.rows > 0 {
            pieces.push(c);
        }
    }
    #[cfg(test)]
    PARALLEL_RUNS.with(|r| r.set(r.get() + 1));
    if pieces.is_empty() {
        pieces.push(Columns::new(names.to_vec()));
    }
    Ok(Some((pieces, stats)))
}

/// The chunks of a result joined into one [`Columns`], in order (the first chunk's
/// `stats` are kept). Columns are independent, so they are joined on up to `threads`
/// threads, each taking a share of the columns of about equal bytes (the copy and the
/// page faults of the grown buffers are most of a join's time). Empty `pieces`: empty
/// columns named `names`.
pub(super) fn join(pieces: Vec<Columns>, names: &[String], threads: usize) -> Columns {
    let single = pieces.len() < 2;
    let mut pieces = pieces.into_iter();
    let Some(mut out) = pieces.next() else { return Columns::new(names.to_vec()) };
    if single {
        return out;
    }
    let width = out.columns.len();
    let mut tails: Vec<Vec<Column>> = (0..width).map(|_| Vec::new()).collect();
    for p in pieces {
        out.rows += p.rows;
        for (t, c) in tails.iter_mut().zip(p.columns) {
            t.push(c);
        }
    }
    let mut jobs: Vec<(usize, &mut Column, Vec<Column>)> = out
        .columns
        .iter_mut()
        .zip(tails)
        .map(|(c, t)| (t.iter().map(column_bytes).sum::<usize>(), c, t))
        .collect();
    // Biggest first, each to the least loaded thread.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
    let mut shares: Vec<(usize, Share<'_>)> = (0..threads.clamp(1, width.max(1))).map(|_| (0, Vec::new())).collect();
    for (bytes, c, t) in jobs {
        if let Some(share) = shares.iter_mut().min_by_key(|s| s.0) {
            share.0 += bytes;
            share.1.push((c, t));
        }
    }
    let run = |share: Share<'_>| {
        for (c, t) in share {
            for piece in t {
                c.append(piece);
            }
        }
    };
    let mut shares = shares.into_iter().map(|s| s.1);
    let mine = shares.next().unwrap_or_default();
    std::thread::scope(|s| {
        for share in shares {
            s.spawn(move || run(share));
        }
        run(mine);
    });
    out
}

/// One join thread's work: result columns, each with the pieces to append to it.
type Share<'a> = Vec<(&'a mut Column, Vec<Column>)>;

/// Bytes of a column's buffers (to balance the join).
fn column_bytes(c: &Column) -> usize {
    match c.data() {
        ColumnData::Null => 0,
        ColumnData::Int(_) | ColumnData::Real(_) => 8 * c.len(),
        ColumnData::Text { data, .. } => data.len() + 4 * c.len(),
        ColumnData::Mixed(_) => 32 * c.len(),
    }
}

/// One thread's share: the rows of keys `s..e` that pass the filters, as columns.
fn scan_part(
    rt: &Runtime,
    plan: &Plan,
    names: &[String],
    residual: &[Pred],
    s: &[u8],
    e: &[u8],
    expect: usize,
) -> Result<(Columns, StepStats)> {
    let mut acc = AccessRun::open(rt, plan, &plan.outer)?;
    if residual.is_empty() {
        if let Some(outs) = acc.direct_outputs(&plan.sel.outputs) {
            // Every output is a column of the table and nothing filters: records go
            // straight into the columns.
            let mut cols = Columns::new(names.to_vec());
            cols.expect_rows(expect);
            acc.table_range_columns(rt, s, e, &outs, &mut cols)?;
            return Ok((cols, acc.stats));
        }
    }
    let mut consumer = Consumer::new(&plan.sel, &rt.env, false)?.into_columns(names.to_vec(), expect);
    let mut row: Vec<Value> = vec![Value::Null; plan.sel.width];
    acc.init_row(rt, &mut row);
    if !acc.is_empty() {
        let sink: &mut Sink = &mut |r: &mut [Value]| {
            if !all_true(residual, r) {
                return Ok(true);
            }
            consumer.push(r)
        };
        acc.table_range(rt, s, e, &mut row, sink)?;
    }
    let stats = acc.stats;
    let (cols, _) = consumer.finish_columns()?;
    Ok((cols, stats))
}

/// Up to `parts - 1` keys strictly between `first` and `last` (or equal to `last`),
/// increasing, that cut the key space between them into about equal byte ranges.
fn split_points(first: &[u8], last: &[u8], parts: usize) -> Vec<Vec<u8>> {
    let p = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    let word = |k: &[u8]| {
        let mut b = [0u8; 8];
        for (d, x) in b.iter_mut().zip(k.iter().skip(p)) {
            *d = *x;
        }
        u64::from_be_bytes(b) as u128
    };
    let (a, b) = (word(first), word(last));
    let mut out: Vec<Vec<u8>> = Vec::new();
    if b <= a {
        return out;
    }
    for i in 1..parts as u128 {
        let v = a + (b - a) * i / parts as u128;
        let mut k = last[..p].to_vec();
        k.extend_from_slice(&(v as u64).to_be_bytes());
        let above = out.last().map_or(k.as_slice() > first, |l| k > *l);
        if above && k.as_slice() <= last {
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod engine_tests;

#[cfg(test)]
mod tests {
    use super::split_points;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn split_points_lie_between(mut a in proptest::collection::vec(any::<u8>(), 0..20),
                                    mut b in proptest::collection::vec(any::<u8>(), 0..20),
                                    parts in 2usize..9) {
            if a == b {
                b.push(0);
            }
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let pts = split_points(&a, &b, parts);
            prop_assert!(pts.len() < parts);
            let mut prev = a.clone();
            for k in &pts {
                prop_assert!(*k > prev && *k <= b, "{k:?} after {prev:?}, last {b:?}");
                prev = k.clone();
            }
        }
    }

    #[test]
    fn sequential_ids_split_evenly() {
        let pts = split_points(b"c0000000", b"c0999999", 2);
        assert_eq!(pts.len(), 1);
        let below = (0..1_000_000).filter(|i| format!("c{i:07}").as_bytes() < pts[0].as_slice()).count();
        assert!((450_000..=550_000).contains(&below), "{below}");
    }
}
