//! buildctl's CSV values (`--output type=image,"name=a,b"`, `--import-cache …`): reading
//! docker's CSV flag values into fields and writing them back quoted the way buildctl's
//! CSV reader wants, byte for byte (values may be any bytes).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The `key=value` fields of a CSV record, in order.
pub(super) type Attrs = Vec<(Vec<u8>, Vec<u8>)>;

/// `name=A` for one name, `"name=A,B"` for several: the `name` field of a buildctl
/// `--output`, CSV-quoted so buildctl's CSV reader keeps the comma-joined names in one
/// field.
#[must_use]
pub fn csv_quote_names(names: &[OsString]) -> OsString {
    let joined: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    OsString::from_vec(csv_field(
        &[&b"name="[..], &joined.join(&b","[..])].concat(),
    ))
}

/// One CSV field as Go's CSV readers (buildctl's) read it back: quoted, with inner
/// quotes doubled, when it holds a comma, a quote or a line break; as is otherwise.
#[must_use]
pub fn csv_field(field: &[u8]) -> Vec<u8> {
    if !field
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        return field.to_vec();
    }
    let mut out = Vec::with_capacity(field.len() + 2);
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// Splits one CSV record into its fields, as Go's `encoding/csv` does with default
/// settings. `None` for what it rejects: a quote inside an unquoted field, text after a
/// closing quote, an unterminated quote, a line break outside quotes.
pub(super) fn csv_fields(record: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut field = Vec::new();
        if record.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match record.get(i) {
                    None => return None,
                    Some(b'"') if record.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        field.push(b);
                        i += 1;
                    }
                }
            }
            match record.get(i) {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(b',') => i += 1,
                Some(_) => return None,
            }
        } else {
            loop {
                match record.get(i) {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(b',') => {
                        i += 1;
                        break;
                    }
                    Some(b'"' | b'\r' | b'\n') => return None,
                    Some(&b) => {
                        field.push(b);
                        i += 1;
                    }
                }
            }
        }
        fields.push(field);
    }
}

/// `k=v` fields joined into one CSV record, each field quoted as needed.
pub(super) fn csv_join(attrs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let fields: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(k, v)| csv_field(&[k.as_slice(), b"=", v.as_slice()].concat()))
        .collect();
    fields.join(&b","[..])
}

/// A CSV `key=value` record parsed as buildx parses outputs and attestations: keys
/// trimmed and lower-cased, values byte for byte. `None` when a field has no `=` or the
/// CSV is malformed.
pub(super) fn csv_attrs(record: &[u8]) -> Option<Attrs> {
    csv_fields(record)?
        .into_iter()
        .map(|field| {
            let eq = field.iter().position(|b| *b == b'=')?;
            Some((
                trim(&field[..eq]).to_ascii_lowercase(),
                field[eq + 1..].to_vec(),
            ))
        })
        .collect()
}

/// The value of the `name` field: the tags joined with commas (quoted when written).
pub(super) fn csv_names_value(tags: &[OsString]) -> Vec<u8> {
    let joined: Vec<&[u8]> = tags.iter().map(|t| t.as_bytes()).collect();
    joined.join(&b","[..])
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}
