//! Keys and records of the event log: events under their global position (zero-padded so key
//! order is numeric order), and the counters beside them in `EventState`.

use super::{dec, enc, get, key, pkg_segs};
use crate::model::{DomainName, EventRecord, PackageId, RepositoryName};
use crate::store::{ReadTxn, StoreError, Table, WriteTxn};

const LAST_POSITION: &str = "position";
const SEQUENCE: &str = "sequence";
const WEBHOOK: &str = "webhook";

fn event_key(position: u64) -> Vec<u8> {
    key(&[&format!("{position:020}")])
}

/// The position of the newest event (0 when there is none).
pub fn last_event_position(tx: &dyn ReadTxn) -> Result<u64, StoreError> {
    Ok(get(tx, Table::EventState, &key(&[LAST_POSITION]))?.unwrap_or(0))
}

/// Appends an event; its position must follow the newest one, so the log has no gaps.
pub fn append_event(tx: &mut dyn WriteTxn, rec: &EventRecord) -> Result<(), StoreError> {
    let last = last_event_position(tx)?;
    if rec.position != last + 1 {
        return Err(StoreError::Corrupt(format!("event position {} does not follow {last}", rec.position)));
    }
    tx.put(Table::Events, &event_key(rec.position), &enc(rec)?)?;
    tx.put(Table::EventState, &key(&[LAST_POSITION]), &enc(&rec.position)?)
}

/// Up to `limit` events after position `after`, oldest first.
pub fn events_after(tx: &dyn ReadTxn, after: u64, limit: usize) -> Result<Vec<EventRecord>, StoreError> {
    let from = event_key(after);
    tx.scan(Table::Events, b"", Some(&from), limit)?.iter().map(|(_, v)| dec(v)).collect()
}

/// Takes the next sequence number of a package in a repository (1 for its first event). The
/// counter outlives the package, so a package deleted and published again keeps counting up.
pub fn next_event_sequence(
    tx: &mut dyn WriteTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
) -> Result<u64, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    let k = key(&[SEQUENCE, d.as_str(), r.as_str(), f, ns, n]);
    let next = get::<u64>(tx, Table::EventState, &k)?.unwrap_or(0) + 1;
    tx.put(Table::EventState, &k, &enc(&next)?)?;
    Ok(next)
}

/// The position of the last event a webhook target acknowledged (0: none yet).
pub fn webhook_cursor(tx: &dyn ReadTxn, target: &str) -> Result<u64, StoreError> {
    Ok(get(tx, Table::EventState, &key(&[WEBHOOK, target]))?.unwrap_or(0))
}

/// Records that a webhook target acknowledged every event up to `position`.
pub fn put_webhook_cursor(tx: &mut dyn WriteTxn, target: &str, position: u64) -> Result<(), StoreError> {
    tx.put(Table::EventState, &key(&[WEBHOOK, target]), &enc(&position)?)
}
