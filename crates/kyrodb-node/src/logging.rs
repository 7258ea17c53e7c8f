//! Engine log records (flushes, merges, recovery, a database turning read-only) written as
//! pino-compatible JSON lines on stdout, so `kyrodb serve` logs one format from both
//! layers. Off until `initLogging(level)` is called; the level takes pino's names.

use log::{Level, LevelFilter, Log, Metadata, Record};
use napi_derive::napi;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

struct PinoLines;

static LOGGER: PinoLines = PinoLines;

fn pino_level(level: Level) -> u32 {
    match level {
        Level::Error => 50,
        Level::Warn => 40,
        Level::Info => 30,
        Level::Debug => 20,
        Level::Trace => 10,
    }
}

impl Log for PinoLines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let line = serde_json::json!({
            "level": pino_level(record.level()),
            "time": time,
            "pid": std::process::id(),
            "layer": "engine",
            "target": record.target(),
            "msg": record.args().to_string(),
        });
        // One write per line: lines up to PIPE_BUF (4 KiB; engine messages are short) are
        // written atomically, so they do not interleave with the JavaScript logger's.
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let _ = std::io::stdout().lock().write_all(&bytes);
    }

    fn flush(&self) {
        let _ = std::io::stdout().lock().flush();
    }
}

/// Send engine log records at `level` and above to stdout as pino JSON lines. `level` is a
/// pino level name: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`.
/// Can be called again to change the level.
#[napi]
pub fn init_logging(level: String) -> napi::Result<()> {
    let filter = match level.as_str() {
        "trace" => LevelFilter::Trace,
        "debug" => LevelFilter::Debug,
        "info" => LevelFilter::Info,
        "warn" => LevelFilter::Warn,
        "error" | "fatal" => LevelFilter::Error,
        "silent" => LevelFilter::Off,
        other => {
            return Err(napi::Error::from_reason(format!(
                "INVALID_ARGUMENT: log level must be trace, debug, info, warn, error, fatal or silent, got {other:?}"
            )))
        }
    };
    // Installing twice fails harmlessly; the level is what changes.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(filter);
    Ok(())
}
