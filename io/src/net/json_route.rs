//! Finds the top-level fields of a JSON object without parsing their
//! values, so a WebSocket message can be routed (by `"stream"` or `"id"`)
//! before the right parser sees its `"data"` or `"result"`.
//!
//! Owning thread: any; pure function over borrowed bytes, no allocation.
//! Invariants: values are returned as raw slices exactly as they appear
//! (strings with their quotes); nesting depth is bounded by
//! [`DEPTH_MAX`]; anything that is not a well-formed object (unbalanced
//! brackets, an unterminated string, trailing bytes) is `None`. Scalars are
//! delimited, not validated: the value parser downstream checks them.

/// Deepest nesting accepted inside a value.
pub const DEPTH_MAX: usize = 32;

/// Call `field(key, raw_value)` for each top-level field of the object in
/// `bytes`, in order. `None` if `bytes` is not a well-formed object.
pub fn for_each_field<'a>(
    bytes: &'a [u8],
    mut field: impl FnMut(&'a [u8], &'a [u8]),
) -> Option<()> {
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return (skip_ws(bytes, at + 1) == bytes.len()).then_some(());
    }
    loop {
        let key_end = string_end(bytes, at)?;
        let key = &bytes[at + 1..key_end - 1];
        at = skip_ws(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(bytes, at + 1);
        let value_end = value_end(bytes, value_start)?;
        field(key, &bytes[value_start..value_end]);
        at = skip_ws(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(bytes, at + 1),
            Some(b'}') => return (skip_ws(bytes, at + 1) == bytes.len()).then_some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
/// The raw value of top-level field `key`, if the object is well formed
/// and has it (the first occurrence wins).
pub fn field<'a>(bytes: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    for_each_field(bytes, |k, v| {
        if found.is_none() && k == key {
            found = Some(v);
        }
    })?;
    found
}

/// The contents of a raw JSON string value (no unescaping), or `None`.
pub fn string_contents(raw: &[u8]) -> Option<&[u8]> {
    (raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"').then(|| &raw[1..raw.len() - 1])
}

/// A raw JSON value as an unsigned integer, or `None`.
pub fn unsigned(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    raw.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|()| acc.checked_mul(10))
            .and_then(|acc| acc.checked_add(u64::from(b - b'0')))
    })
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// One past the closing quote of the string starting at `at`.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// One past the end of the value starting at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => nested_end(bytes, at),
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

/// One past the bracket closing the object or array opened at `at`.
fn nested_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut stack = [0u8; DEPTH_MAX];
    let mut depth = 0usize;
    let mut i = at;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i = string_end(bytes, i)?;
                continue;
            }
            b'{' | b'[' => {
                *stack.get_mut(depth)? = if b == b'{' { b'}' } else { b']' };
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if stack[depth] != b {
                    return None;
                }
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // A combined-stream message yields its stream name and its data object.
    #[test]
    fn combined_stream_fields() {
        let msg =
            br#" {"stream":"bnbbtc@depth@100ms", "data":{"U":1,"b":[["1","2"]],"s":"a}\""}} "#;
        let stream = field(msg, b"stream").unwrap();
        assert_eq!(string_contents(stream), Some(&b"bnbbtc@depth@100ms"[..]));
        assert_eq!(
            field(msg, b"data"),
            Some(&br#"{"U":1,"b":[["1","2"]],"s":"a}\""}"#[..])
        );
        assert_eq!(field(msg, b"missing"), None);
    }

    // A response's id and result are found; scalars delimit correctly.
    #[test]
    fn response_fields() {
        let msg = br#"{"id":17,"status":200,"result":{"lastUpdateId":5}}"#;
        assert_eq!(field(msg, b"id").and_then(unsigned), Some(17));
        assert_eq!(field(msg, b"result"), Some(&br#"{"lastUpdateId":5}"#[..]));
        assert_eq!(for_each_field(b"{}", |_, _| {}), Some(()));
    }

    // Malformed input is None, never a panic.
    #[test]
    fn malformed_is_none() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":[}",
            b"{\"a\":\"x}",
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        ] {
            assert_eq!(for_each_field(bad, |_, _| {}), None, "{:?}", bad);
        }
        assert_eq!(unsigned(b"12a"), None);
        assert_eq!(unsigned(b"99999999999999999999"), None);
    }
}
