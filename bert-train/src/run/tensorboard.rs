//! TensorBoard event files: scalars as `tensorboard` reads them, written
//! without TensorFlow. A file is a sequence of records (TFRecord: length,
//! its masked CRC-32C, the data, its masked CRC-32C), each an `Event`
//! protocol buffer: first the file version, then one scalar summary per
//! value (`tag`, `simple_value`) with its step and wall time.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The event file format's version, the first event of every file.
const FILE_VERSION: &str = "brain.Event:2";

/// Writes scalars to one event file.
pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// A new event file in `dir` (created if needed), named as TensorFlow
    /// names them (`events.out.tfevents.<seconds>.<host>`), starting with
    /// the file-version event written at `wall_time`.
    pub fn create(dir: &Path, wall_time: f64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let host = hostname();
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.0",
            wall_time as u64,
            std::process::id()
        ));
        let mut writer = Self {
            file: BufWriter::new(File::create(&path)?),
            path,
        };
        writer.write_event(&version_event(wall_time))?;
        Ok(writer)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` under `tag` at `step` and `wall_time` (seconds since
    /// the Unix epoch), and flushes, so a reader sees it at once.
    pub fn scalar(&mut self, tag: &str, value: f64, step: u64, wall_time: f64) -> io::Result<()> {
        self.write_event(&scalar_event(tag, value as f32, step, wall_time))?;
        self.file.flush()
    }

    fn write_event(&mut self, event: &[u8]) -> io::Result<()> {
        let length = (event.len() as u64).to_le_bytes();
        self.file.write_all(&length)?;
        self.file.write_all(&masked_crc(&length).to_le_bytes())?;
        self.file.write_all(event)?;
        self.file.write_all(&masked_crc(event).to_le_bytes())
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The protocol buffer field key of `field` with `wire_type`.
fn key(field: u32, wire_type: u32) -> u8 {
    ((field << 3) | wire_type) as u8
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length-delimited field.
fn bytes_field(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(key(field, 2));
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time = 1, step = 2 }` with its `what` already encoded.
fn event(wall_time: f64, step: u64, what: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![key(1, 1)];
    out.extend_from_slice(&wall_time.to_le_bytes());
    if step > 0 {
        out.push(key(2, 0));
        varint(step, &mut out);
    }
    what(&mut out);
    out
}

/// `Event { file_version = 3 }`.
fn version_event(wall_time: f64) -> Vec<u8> {
    event(wall_time, 0, |out| {
        bytes_field(3, FILE_VERSION.as_bytes(), out)
    })
}

/// `Event { summary = 5: Summary { value = 1: Value { tag = 1, simple_value = 2 } } }`.
fn scalar_event(tag: &str, value: f32, step: u64, wall_time: f64) -> Vec<u8> {
    let mut summary_value = Vec::new();
    bytes_field(1, tag.as_bytes(), &mut summary_value);
    summary_value.push(key(2, 5));
    summary_value.extend_from_slice(&value.to_le_bytes());
    let mut summary = Vec::new();
    bytes_field(1, &summary_value, &mut summary);
    event(wall_time, step, |out| bytes_field(5, &summary, out))
}

/// CRC-32C (Castagnoli), bit by bit over a table of the 256 bytes.
fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut byte = 0;
        while byte < 256 {
            let mut crc = byte as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82f6_3b78
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[byte] = crc;
            byte += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord's masked CRC: rotated right by 15 bits plus a constant.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_of_known_inputs() {
        // RFC 3720's test vectors (iSCSI, which uses CRC-32C).
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn varints_and_events_encode_as_protocol_buffers() {
        let mut out = Vec::new();
        varint(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
        let event = scalar_event("a", 1.0, 2, 0.0);
        // wall_time (9 bytes), step (2), summary: 0x2a, len, value: 0x0a, len, tag, value
        assert_eq!(&event[9..11], &[0x10, 0x02]);
        assert_eq!(event[11], 0x2a);
        assert_eq!(&event[event.len() - 5..], &[0x15, 0, 0, 0x80, 0x3f]);
    }
}
