//! Shared by the recovery examples: print the engine's `open` log line (its phase timings)
//! on stderr.

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.target() == "kyrodb_core::db" {
            eprintln!("{}", r.args());
        }
    }
    fn flush(&self) {}
}

/// Install the stderr logger for the database's messages.
pub fn install() {
    log::set_logger(&Stderr).expect("logger");
    log::set_max_level(log::LevelFilter::Info);
}
