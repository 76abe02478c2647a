//! An event's fields as tracing-subscriber's `DefaultFields` writes them without colour, byte for
//! byte, at a fraction of the cost. `DefaultFields` paints every name and `=` through nu_ansi_term
//! even with colour off and formats each field through nested `write!`s: measured with callgrind, the
//! request log line's four fields cost more than answering a 304 from memory. Names, integers and a
//! message with nothing to escape are written here directly; a message that needs escaping (so that
//! nobody can write terminal codes into the log) and the field kinds that need more care (errors and
//! their sources) are handed to a `DefaultVisitor` on the same writer, so they come out exactly as
//! they would have.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, DefaultVisitor, Writer};
use tracing_subscriber::fmt::FormatFields;

/// `DefaultFields`, cheaper when the writer is not colouring.
#[derive(Debug, Default)]
pub struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return DefaultFields::new().format_fields(writer, fields);
        }
        let mut visitor = Plain {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Plain<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl Plain<'_> {
    /// The field's name as `DefaultVisitor` writes it, `None` for a field it skips: `log.*` is the
    /// metadata of a `log` record, already written.
    fn name(field: &Field) -> Option<&'static str> {
        let name = field.name();
        if name.starts_with("log.") {
            return None;
        }
        Some(name.strip_prefix("r#").unwrap_or(name))
    }

    /// A field as `write` writes it, after a space unless it is the first.
    fn field(&mut self, write: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.is_empty) {
                self.writer.write_char(' ')?;
            }
            write(&mut self.writer)
        })();
    }

    /// `name=`, then `value`.
    fn write(&mut self, name: &str, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        self.field(|w| {
            w.write_str(name)?;
            w.write_char('=')?;
            value(w)
        });
    }

    /// What `DefaultVisitor` does with this field (not a skipped one), done by one on the same
    /// writer.
    fn by_default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = tracing_subscriber::field::VisitOutput::finish(visitor);
        self.is_empty = false;
    }

    /// The message as `DefaultVisitor` writes it when it holds nothing to escape: as it is.
    fn message(&mut self, text: &str) {
        self.field(|w| w.write_str(text));
    }

    fn integer(&mut self, name: &str, value: impl itoa::Integer) {
        self.write(name, |w| w.write_str(itoa::Buffer::new().format(value)));
    }
}

/// What tracing-subscriber escapes in a message: the characters that start or end terminal control
/// sequences.
fn escaped(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// A short message, formatted on the stack; longer ones do not fit and take the default way.
struct Short {
    bytes: [u8; 128],
    len: usize,
}

impl Short {
    fn of(value: &dyn fmt::Debug) -> Option<Self> {
        let mut short = Short {
            bytes: [0; 128],
            len: 0,
        };
        fmt::write(&mut short, format_args!("{value:?}")).ok()?;
        Some(short)
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Short {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Visit for Plain<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match Self::name(field) {
            Some(name) if name != "message" => self.write(name, |w| write!(w, "{value:?}")),
            Some(_) => match Short::of(value).filter(|text| !text.as_str().contains(escaped)) {
                Some(text) => self.message(text.as_str()),
                None => self.by_default(|v| v.record_debug(field, value)),
            },
            None => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match Self::name(field) {
            Some(name) if name != "message" => self.write(name, |w| write!(w, "{value:?}")),
            Some(_) if !value.contains(escaped) => self.message(value),
            Some(_) => self.by_default(|v| v.record_str(field, value)),
            None => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match Self::name(field) {
            Some(name) if name != "message" => self.integer(name, value),
            Some(_) => self.by_default(|v| v.record_u64(field, value)),
            None => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match Self::name(field) {
            Some(name) if name != "message" => self.integer(name, value),
            Some(_) => self.by_default(|v| v.record_i64(field, value)),
            None => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match Self::name(field) {
            Some(name) if name != "message" => {
                self.write(name, |w| w.write_str(if value { "true" } else { "false" }))
            }
            Some(_) => self.by_default(|v| v.record_bool(field, value)),
            None => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if Self::name(field).is_some() {
            self.by_default(|v| v.record_error(field, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \u{1b}[31m{0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner cause")]
    struct Inner;

    /// Every kind of field, and what needs escaping, logged once.
    fn events() {
        let path = "/img/a b/\"q\"\u{1b}[2J";
        tracing::info!(
            method = %"GET",
            path = ?path,
            status = 304u16,
            micros = 17u64,
            delta = -3i64,
            hit = true,
            ratio = 0.5f64,
            r#type = "png",
            text = "tab\there",
            "answered {}", "\u{1b}[31mred\u{9b}"
        );
        tracing::warn!(
            error = &Outer(Inner) as &(dyn std::error::Error + 'static),
            "failed"
        );
        tracing::error!(plain = &Inner as &(dyn std::error::Error + 'static));
        tracing::info!("only a message with ünïcödé and a \u{7}bell");
        tracing::info!(count = 0u64);
        tracing::info!(name = "first", "then the message");
        tracing::info!(parent: None, empty = "", nothing = ?(), "");
        tracing::info!("{}", "a message longer than fits on the stack, ".repeat(8));
        for c in [
            '\x1b', '\x07', '\x08', '\x0c', '\x7f', '\u{80}', '\u{9f}', '\u{a0}', '\t',
        ] {
            tracing::info!("{c}");
            tracing::info!(message = %c, n = 1u64);
            let text = format!("a{c}b");
            tracing::info!(message = text.as_str());
        }
    }

    fn logged<N>(fields: N) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_fields_are_written_as_default_fields_writes_them() {
        let plain = logged(PlainFields);
        let default = logged(DefaultFields::new());
        assert_eq!(plain, default);
        assert_eq!(plain.lines().count(), 8 + 9 * 3, "{plain}");
        // And what needed escaping was escaped: no raw escape character reaches the log.
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(plain.contains(r#"status=304 micros=17 delta=-3 hit=true ratio=0.5 type="png""#));
    }
}
