//! An event's payload as the log stores it: compressed with zstd when that pays, else as
//! text.
//!
//! The payload is most of the log's bytes (about 1.2 KB of 2.1 KB a delivery for a
//! 1 KiB event to one hook), and PostgreSQL compresses nothing in a row under about
//! 2 KB. JSON payloads of that size take about half their bytes in zstd's fastest level,
//! for a few microseconds of the worker's CPU. A row holds one of `data` (text) or
//! `data_zstd` (a zstd frame, its content size in its header); rows written before
//! migration 9, and payloads that do not shrink enough, hold `data`.

use std::cell::RefCell;

use crate::Result;

/// Shorter payloads are kept as text: a frame's own bytes eat what they would save.
const MIN_COMPRESSED: usize = 128;

/// zstd's fastest level: most of the gain for the least CPU on small payloads.
const LEVEL: i32 = 1;

/// The largest payload a frame may unpack to: a corrupt size in a frame's header must
/// not make a read allocate without bound. Far above any event a broker takes.
const MAX_UNPACKED: u64 = 256 << 20;

/// A payload as it goes into the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Zstd(Vec<u8>),
}

impl Payload {
    /// `data` compressed when that saves at least an eighth of it, else as it is.
    pub fn pack(data: &str) -> Payload {
        if data.len() >= MIN_COMPRESSED {
            if let Some(frame) = compress(data.as_bytes()) {
                if worth(frame.len(), data.len()) {
                    return Payload::Zstd(frame);
                }
            }
        }
        Payload::Text(data.to_owned())
    }

    /// The two columns (`data`, `data_zstd`) it is written to.
    pub(crate) fn columns(&self) -> (Option<&str>, Option<&[u8]>) {
        match self {
            Payload::Text(text) => (Some(text), None),
            Payload::Zstd(frame) => (None, Some(frame)),
        }
    }
}

/// Whether a frame of `frame` bytes saves at least an eighth of a payload's `text` bytes:
/// below that, reading it back would cost more than the bytes are worth.
fn worth(frame: usize, text: usize) -> bool {
    frame <= text - text / 8
}

thread_local! {
    /// The contexts a thread keeps, made at its first use: a new one a payload allocates
    /// and clears its tables each time, four to ten times the work on a payload of 1 KiB.
    /// `None` only if zstd could not allocate one.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        RefCell::new(zstd::bulk::Compressor::new(LEVEL).ok());
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        RefCell::new(zstd::bulk::Decompressor::new().ok());
}

/// `data` as one zstd frame; `None` if zstd refuses it (it does not for any input it can
/// allocate for; the payload is then stored as text).
fn compress(data: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| c.borrow_mut().as_mut()?.compress(data).ok())
}

/// The payload of a row from its two columns; `None` when it has neither (a LEFT JOIN
/// that found no event).
pub(crate) fn unpack(text: Option<String>, frame: Option<Vec<u8>>) -> Result<Option<String>> {
    let Some(frame) = frame else {
        return Ok(text);
    };
    let corrupt = |why: String| crate::log::corrupt("an event's stored payload", why);
    let size = zstd::zstd_safe::get_frame_content_size(&frame)
        .map_err(|_| corrupt("not a zstd frame".into()))?
        .ok_or_else(|| corrupt("its frame has no content size".into()))?;
    if size > MAX_UNPACKED {
        return Err(corrupt(format!("{size} bytes is over the limit")));
    }
    let bytes = DECOMPRESSOR
        .with(|d| match d.borrow_mut().as_mut() {
            Some(d) => d.decompress(&frame, size as usize),
            None => Err(std::io::Error::other("no context")),
        })
        .map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| corrupt("not UTF-8".into()))
}

/// The payload of a row that selected `data` and `data_zstd` under those names.
pub(crate) fn of_row(row: &tokio_postgres::Row) -> Result<Option<String>> {
    unpack(row.try_get("data")?, row.try_get("data_zstd")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(i: usize) -> String {
        format!(
            r#"{{"ticket":{{"id":{i},"subject":"Printer on fire on the third floor","status":"open","requester":{{"name":"Jane Doe","email":"jane{i}@example.com"}},"tags":["hardware","urgent"],"description":"The customer reports that the printer on the third floor is on fire again and asks for someone to look at it before the meeting at noon."}}}}"#
        )
    }

    #[test]
    fn a_json_payload_is_compressed_and_comes_back_the_same() {
        let data = ticket(7);
        let packed = Payload::pack(&data);
        let Payload::Zstd(frame) = &packed else {
            panic!("not compressed: {packed:?}");
        };
        assert!(
            frame.len() < data.len() * 7 / 8,
            "{} of {}",
            frame.len(),
            data.len()
        );
        assert_eq!(packed.columns(), (None, Some(frame.as_slice())));
        assert_eq!(unpack(None, Some(frame.clone())).unwrap(), Some(data));
    }

    #[test]
    fn a_short_payload_stays_text() {
        let data = r#"{"i":1,"status":"open"}"#.to_owned();
        let packed = Payload::pack(&data);
        assert_eq!(packed, Payload::Text(data.clone()));
        assert_eq!(packed.columns(), (Some(data.as_str()), None));
        assert_eq!(unpack(Some(data.clone()), None).unwrap(), Some(data));
    }

    #[test]
    fn a_frame_must_save_an_eighth() {
        assert!(worth(875, 1000));
        assert!(!worth(876, 1000));
        assert!(!worth(1001, 1000));
    }

    #[test]
    fn a_row_without_either_column_has_no_payload() {
        assert_eq!(unpack(None, None).unwrap(), None);
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_panic() {
        let Payload::Zstd(mut frame) = Payload::pack(&ticket(1)) else {
            panic!("not compressed");
        };
        assert!(unpack(None, Some(b"not zstd".to_vec())).is_err());
        let end = frame.len() - 4;
        frame.truncate(end);
        assert!(unpack(None, Some(frame)).is_err());
    }

    #[test]
    fn many_payloads_on_one_thread_share_its_compressor() {
        for i in 0..1000 {
            let data = ticket(i);
            let Payload::Zstd(frame) = Payload::pack(&data) else {
                panic!("not compressed");
            };
            assert_eq!(unpack(None, Some(frame)).unwrap(), Some(data));
        }
    }
}
