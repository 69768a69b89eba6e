//! The commit log of the data file: a page-level write-ahead log, SQLite-WAL style, kept
//! inside [`super::backend::CidbBackend`] and invisible to redb. Every write redb makes still
//! lands in `data.redb` (so reads see it) and is also copied into a pending buffer; redb's
//! `sync_data` appends that buffer to `data.redb.wal` as one checksummed record group (one
//! `pwrite`, one `fdatasync` of the log), instead of an `fdatasync` of the data file whose
//! dirty pages are scattered over gigabytes. The log is preallocated and zero-filled, so its
//! `fdatasync` carries no file-system metadata.
//!
//! A checkpoint (`fdatasync` of the data file, then a new epoch in the log header) runs when
//! the log passes [`CHECKPOINT_BYTES`], when a transaction wrote more than [`PENDING_CAP`]
//! between two syncs (the copy is dropped and that sync is a plain data-file sync), and at
//! close. Length changes (`set_len`) are entries too, in order with the writes. Recovery,
//! before redb reads the file, replays every group of the current epoch whose checksum holds
//! and whose sequence follows the previous one, in order, each ending with the file length it
//! recorded; a torn last group was never acknowledged and is ignored. After a power loss the data file is "image at its last fsync + any subset
//! of later writes"; replay makes it "image at the last acknowledged sync + any subset of
//! later writes", which is exactly what redb's own recovery expects.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Log position past which the next sync checkpoints instead of appending.
pub const CHECKPOINT_BYTES: u64 = 64 << 20;
/// Bytes written between two syncs past which the pending copy is dropped and the sync
/// goes straight to the data file (a bulk ingest writes gigabytes before its one sync).
pub const PENDING_CAP: usize = 64 << 20;
/// The log header's region; groups start here.
pub const HEADER_BYTES: u64 = 4096;
/// The log file's first size; it grows by doubling, zero-filled, up to what it needs.
const INITIAL_BYTES: u64 = 1 << 20;

const LOG_MAGIC: &[u8; 8] = b"CIDBWAL1";
const GROUP_MAGIC: u32 = 0x4752_5031; // "GRP1"
/// Group header: magic u32, epoch u64, sequence u64, data-file length u64, entries u32,
/// entry bytes u64. Followed by the entries (offset u64, length u32, bytes) and a crc32 of
/// everything before it.
pub const GROUP_HEADER: usize = 4 + 8 + 8 + 8 + 4 + 8;
const ENTRY_HEADER: usize = 8 + 4;
/// The offset marking an entry as a length change (its 8 bytes are the new length).
const SET_LEN: u64 = u64::MAX;

/// The new length when the entry (`offset`, `data`) is a length change, not a write.
pub fn set_len_entry(offset: u64, data: &[u8]) -> Option<u64> {
    (offset == SET_LEN).then(|| data.try_into().map(u64::from_le_bytes).unwrap_or(0))
}

/// Writes waiting for the next sync, already encoded as a group body after a reserved header.
#[derive(Debug)]
pub struct Pending {
    buf: Vec<u8>,
    entries: u32,
}

impl Default for Pending {
    fn default() -> Pending {
        Pending { buf: vec![0; GROUP_HEADER], entries: 0 }
    }
}

impl Pending {
    /// Records one write.
    pub fn push(&mut self, offset: u64, data: &[u8]) {
        self.buf.extend_from_slice(&offset.to_le_bytes());
        self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(data);
        self.entries += 1;
    }

    /// Records a change of the data file's length (replayed in order with the writes).
    pub fn push_set_len(&mut self, len: u64) {
        self.push(SET_LEN, &len.to_le_bytes());
    }

    /// Bytes of entries held.
    pub fn bytes(&self) -> usize {
        self.buf.len() - GROUP_HEADER
    }

    /// Forgets every entry (keeps the allocation when it is modest).
    pub fn clear(&mut self) {
        if self.buf.capacity() > 4 * PENDING_CAP {
            self.buf = Vec::new();
        }
        self.buf.clear();
        self.buf.resize(GROUP_HEADER, 0);
        self.entries = 0;
    }

    /// Seals the entries into a complete group (header filled in, checksum appended) and
    /// returns its bytes; call [`Pending::clear`] afterwards.
    pub fn seal(&mut self, epoch: u64, seq: u64, main_len: u64) -> &[u8] {
        let body = self.bytes() as u64;
        let h = &mut self.buf[..GROUP_HEADER];
        h[0..4].copy_from_slice(&GROUP_MAGIC.to_le_bytes());
        h[4..12].copy_from_slice(&epoch.to_le_bytes());
        h[12..20].copy_from_slice(&seq.to_le_bytes());
        h[20..28].copy_from_slice(&main_len.to_le_bytes());
        h[28..32].copy_from_slice(&self.entries.to_le_bytes());
        h[32..40].copy_from_slice(&body.to_le_bytes());
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        &self.buf
    }
}

/// One decoded group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Sequence within the epoch (0, 1, ...).
    pub seq: u64,
    /// Data-file length when the group was synced.
    pub main_len: u64,
    /// The writes, in the order they were made.
    pub writes: Vec<(u64, Vec<u8>)>,
    /// Bytes the group takes in the log.
    pub len: u64,
}

/// Decodes the group at the start of `bytes` if it is complete, of `epoch`, and its checksum
/// holds; None for anything else (zeroes, a torn tail, an older epoch, flipped bytes).
pub fn decode_group(bytes: &[u8], epoch: u64) -> Option<Group> {
    let h = bytes.get(..GROUP_HEADER)?;
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    if u32_at(h, 0) != GROUP_MAGIC || u64_at(h, 4) != epoch {
        return None;
    }
    let (seq, main_len, entries, body) = (u64_at(h, 12), u64_at(h, 20), u32_at(h, 28), u64_at(h, 32));
    let end = GROUP_HEADER.checked_add(usize::try_from(body).ok()?)?;
    let crc_bytes = bytes.get(end..end.checked_add(4)?)?;
    if crc32fast::hash(&bytes[..end]) != u32::from_le_bytes(crc_bytes.try_into().unwrap()) {
        return None;
    }
    let mut writes = Vec::with_capacity(entries as usize);
    let mut at = GROUP_HEADER;
    for _ in 0..entries {
        let eh = bytes.get(at..at + ENTRY_HEADER).filter(|_| at + ENTRY_HEADER <= end)?;
        let (off, n) = (u64_at(eh, 0), u32_at(eh, 8) as usize);
        let data = bytes.get(at + ENTRY_HEADER..at + ENTRY_HEADER + n).filter(|_| at + ENTRY_HEADER + n <= end)?;
        writes.push((off, data.to_vec()));
        at += ENTRY_HEADER + n;
    }
    (at == end).then_some(Group { seq, main_len, writes, len: (end + 4) as u64 })
}

/// The log header's bytes for `epoch`.
pub fn encode_header(epoch: u64) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[..8].copy_from_slice(LOG_MAGIC);
    h[8..16].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&h[..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The epoch in a log header, None when it is not one (a new file, torn, flipped bytes).
pub fn decode_header(h: &[u8]) -> Option<u64> {
    let h = h.get(..20)?;
    (&h[..8] == LOG_MAGIC && crc32fast::hash(&h[..16]).to_le_bytes() == h[16..20])
        .then(|| u64::from_le_bytes(h[8..16].try_into().unwrap()))
}

/// The groups of `epoch` found from [`HEADER_BYTES`] on, in order, stopping at the first one
/// that is missing, torn, of another epoch or out of sequence.
pub fn scan(log: &[u8], epoch: u64) -> Vec<Group> {
    let mut out = Vec::new();
    let mut at = HEADER_BYTES as usize;
    while at < log.len() {
        match decode_group(&log[at..], epoch) {
            Some(g) if g.seq == out.len() as u64 => {
                at += g.len as usize;
                out.push(g);
            }
            _ => break,
        }
    }
    out
}

/// The open log file: where the next group goes and which epoch it belongs to.
#[derive(Debug)]
pub struct Log {
    file: File,
    /// Current epoch (in the header).
    pub epoch: u64,
    /// Next group's sequence.
    pub seq: u64,
    /// Where the next group is written.
    pub pos: u64,
    /// The file's (zero-filled) size.
    size: u64,
}

impl Log {
    /// Opens the log at `path` (creating and preallocating it when missing) and returns it
    /// with the groups to replay; when there are any, the caller applies them to the data
    /// file, syncs it, then calls [`Log::reset`]. With none, the log is ready to append: a
    /// file without a valid header gets one here (so an open with nothing to replay costs
    /// no sync when the header is already there).
    pub fn open(path: &std::path::Path) -> io::Result<(Log, Vec<Group>)> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let size = file.metadata()?.len();
        let mut bytes = vec![0u8; size as usize];
        file.read_exact_at(&mut bytes, 0)?;
        let (epoch, groups) = match decode_header(&bytes) {
            Some(e) => (Some(e), scan(&bytes, e)),
            None => (None, Vec::new()),
        };
        drop(bytes);
        let mut log = Log { file, epoch: epoch.unwrap_or(0), seq: 0, pos: HEADER_BYTES, size };
        if size < INITIAL_BYTES {
            log.grow(INITIAL_BYTES)?;
        }
        if epoch.is_none() {
            // Nothing was ever logged, or a reset was torn after the data file was already
            // synced. A clock-based epoch cannot match stale groups.
            log.epoch = now_nanos();
            log.reset()?;
        }
        Ok((log, groups))
    }

    /// Appends a sealed group and makes it durable (one write, one fdatasync).
    pub fn append(&mut self, group: &[u8]) -> io::Result<()> {
        let end = self.pos + group.len() as u64;
        if end > self.size {
            self.grow(end)?;
        }
        self.file.write_all_at(group, self.pos)?;
        self.file.sync_data()?;
        self.pos = end;
        self.seq += 1;
        Ok(())
    }

    /// Starts a new epoch: every group written so far is dead. The data file must be synced
    /// first.
    pub fn reset(&mut self) -> io::Result<()> {
        let epoch = self.epoch.wrapping_add(1).max(1);
        self.file.write_all_at(&encode_header(epoch), 0)?;
        self.file.sync_data()?;
        self.epoch = epoch;
        self.seq = 0;
        self.pos = HEADER_BYTES;
        Ok(())
    }

    /// Zero-fills the file up to at least `need` bytes (doubling) and syncs it with its
    /// metadata, so later appends inside it need only an fdatasync of data.
    fn grow(&mut self, need: u64) -> io::Result<()> {
        let mut size = self.size.max(INITIAL_BYTES);
        while size < need {
            size *= 2;
        }
        let zeros = vec![0u8; 1 << 20];
        let mut at = self.size;
        while at < size {
            let n = (size - at).min(zeros.len() as u64);
            self.file.write_all_at(&zeros[..n as usize], at)?;
            at += n;
        }
        self.file.sync_all()?;
        self.size = size;
        Ok(())
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(epoch: u64, seq: u64, len: u64, writes: &[(u64, &[u8])]) -> Vec<u8> {
        let mut p = Pending::default();
        for (o, d) in writes {
            p.push(*o, d);
        }
        p.seal(epoch, seq, len).to_vec()
    }

    fn log_of(epoch: u64, groups: &[Vec<u8>]) -> Vec<u8> {
        let mut log = vec![0u8; HEADER_BYTES as usize];
        log[..20].copy_from_slice(&encode_header(epoch));
        for g in groups {
            log.extend_from_slice(g);
        }
        log.extend_from_slice(&[0u8; 100]);
        log
    }

    #[test]
    fn a_group_round_trips_with_its_writes_in_order() {
        let g = group(7, 0, 9000, &[(4096, b"abc"), (0, b""), (4096, b"xyz!")]);
        let d = decode_group(&g, 7).unwrap();
        assert_eq!(d.seq, 0);
        assert_eq!(d.main_len, 9000);
        assert_eq!(d.writes, vec![(4096, b"abc".to_vec()), (0, vec![]), (4096, b"xyz!".to_vec())]);
        assert_eq!(d.len, g.len() as u64);
    }

    #[test]
    fn any_flipped_byte_or_wrong_epoch_rejects_the_group() {
        let g = group(3, 0, 100, &[(10, b"hello"), (20, b"world")]);
        assert!(decode_group(&g, 4).is_none(), "another epoch");
        for i in 0..g.len() {
            let mut bad = g.clone();
            bad[i] ^= 0x40;
            assert!(decode_group(&bad, 3).is_none(), "flipped byte {i} accepted");
        }
    }

    #[test]
    fn a_torn_tail_is_dropped_and_earlier_groups_kept() {
        let g0 = group(5, 0, 100, &[(0, b"one")]);
        let g1 = group(5, 1, 200, &[(100, b"two")]);
        for cut in 0..g1.len() {
            let mut log = log_of(5, std::slice::from_ref(&g0));
            log.truncate(HEADER_BYTES as usize + g0.len());
            log.extend_from_slice(&g1[..cut]);
            let found = scan(&log, 5);
            assert_eq!(found.len(), 1, "cut at {cut}");
            assert_eq!(found[0].writes, vec![(0, b"one".to_vec())]);
        }
        let full = scan(&log_of(5, &[g0.clone(), g1.clone()]), 5);
        assert_eq!(full.iter().map(|g| g.main_len).collect::<Vec<_>>(), vec![100, 200]);
    }

    #[test]
    fn a_new_epoch_hides_older_groups_and_a_sequence_gap_stops_the_scan() {
        let old = log_of(5, &[group(5, 0, 1, &[(0, b"a")]), group(5, 1, 1, &[(0, b"b")])]);
        let mut reset = old.clone();
        reset[..20].copy_from_slice(&encode_header(6));
        assert_eq!(decode_header(&reset), Some(6));
        assert!(scan(&reset, 6).is_empty(), "groups of epoch 5 replayed in epoch 6");
        // New epoch's first group over the old ones: the old second group after it is ignored.
        let g0 = group(6, 0, 1, &[(0, b"new")]);
        let mut log = reset.clone();
        let at = HEADER_BYTES as usize;
        log[at..at + g0.len()].copy_from_slice(&g0);
        let found = scan(&log, 6);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].writes[0].1, b"new");
        // A skipped sequence number ends the scan.
        let gap = log_of(6, &[group(6, 0, 1, &[(0, b"x")]), group(6, 2, 1, &[(0, b"y")])]);
        assert_eq!(scan(&gap, 6).len(), 1);
    }

    #[test]
    fn a_torn_or_missing_header_means_no_log() {
        assert_eq!(decode_header(&[0u8; 64]), None);
        let mut h = encode_header(9).to_vec();
        h[9] ^= 1;
        assert_eq!(decode_header(&h), None);
    }

    #[test]
    fn a_fresh_log_is_ready_to_append_and_an_empty_one_reopens_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let (mut log, groups) = Log::open(&path).unwrap();
        assert!(groups.is_empty());
        let e = log.epoch;
        let mut p = Pending::default();
        p.push(8, b"no reset before me");
        log.append(p.seal(e, 0, 64)).unwrap();
        drop(log);
        let (mut log, groups) = Log::open(&path).unwrap();
        assert_eq!(groups.len(), 1, "a group appended right after the first open was lost");
        log.reset().unwrap();
        drop(log);
        let before = std::fs::read(&path).unwrap();
        let (log, groups) = Log::open(&path).unwrap();
        assert!(groups.is_empty());
        assert_eq!(log.epoch, e + 1);
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap(), before, "an open with nothing to replay rewrote the log");
    }

    #[test]
    fn the_log_file_appends_resets_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let (mut log, groups) = Log::open(&path).unwrap();
        assert!(groups.is_empty());
        log.reset().unwrap();
        let e = log.epoch;
        let mut p = Pending::default();
        p.push(8, b"first");
        log.append(p.seal(e, 0, 64)).unwrap();
        p.clear();
        p.push(16, &vec![7u8; 3 << 20]); // forces the file to grow past its first size
        log.append(p.seal(e, 1, 128)).unwrap();
        drop(log);
        let (mut log, groups) = Log::open(&path).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].writes, vec![(8, b"first".to_vec())]);
        assert_eq!(groups[1].main_len, 128);
        assert_eq!(groups[1].writes[0].1.len(), 3 << 20);
        log.reset().unwrap();
        drop(log);
        let (log, groups) = Log::open(&path).unwrap();
        assert!(groups.is_empty(), "a reset log replayed old groups");
        assert_eq!(log.epoch, e + 1);
    }
}
