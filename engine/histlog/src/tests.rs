//! Unit tests for the interval-log writer and reader.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

use super::*;

const START_TIME_UNIX_NS: u64 = 1_700_000_000_123_000_000;
const SECOND_NS: u64 = 1_000_000_000;

/// A histogram with a spread of values from a fixed linear congruential
/// sequence (seed in the name of the caller's tag, no randomness).
fn sample_histogram(seed: u64, count: u64) -> Histogram<u64> {
    let mut histogram = new_latency_histogram();
    let mut state = seed;
    for _ in 0..count {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // Mostly hundreds of ns, a tail into milliseconds.
        let value_ns = 100
            + (state >> 33) % 2_000
            + if state.is_multiple_of(97) {
                3_000_000
            } else {
                0
            };
        histogram.record(value_ns).unwrap();
    }
    histogram
}

/// (tag, interval start in s, histogram), in the order written.
type Entry = (&'static str, u64, Histogram<u64>);

fn write_log(entries: &[Entry]) -> Vec<u8> {
    let mut writer = IntervalLogWriter::new(Vec::new());
    writer
        .write_header(START_TIME_UNIX_NS, Some("Logged by genesis tests"))
        .unwrap();
    for (tag, start_s, histogram) in entries {
        writer
            .write_interval(tag, start_s * SECOND_NS, SECOND_NS, histogram)
            .unwrap();
    }
    writer.into_inner()
}

fn three_tag_log() -> (Vec<Entry>, Vec<u8>) {
    let mut entries = Vec::new();
    for start_s in 0..2 {
        for (index, tag) in ["ingest", "risk", "strategy"].into_iter().enumerate() {
            let seed = start_s * 10 + index as u64;
            entries.push((tag, start_s, sample_histogram(seed, 5_000)));
        }
    }
    let bytes = write_log(&entries);
    (entries, bytes)
}

// The header has the version, StartTime with a date, BaseTime and the legend, in that order.
#[test]
fn header_lines_are_the_java_ones() {
    let bytes = write_log(&[]);
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "#[Logged by genesis tests]",
            "#[Histogram log format version 1.3]",
            "#[StartTime: 1700000000.123 (seconds since epoch), 2023-11-14T22:13:20.123Z]",
            "#[BaseTime: 1700000000.123 (seconds since epoch)]",
            LEGEND_LINE,
        ]
    );
}

// An interval line carries the tag, start, length, max in ms and a V2-deflate histogram.
#[test]
fn interval_line_shape() {
    let mut histogram = new_latency_histogram();
    // 2_769_000 ns sits in a bucket whose highest equivalent value is 2_770_943.
    histogram.record(2_769_000).unwrap();
    let bytes = write_log(&[("risk", 3, histogram.clone())]);
    let text = String::from_utf8(bytes).unwrap();
    let line = text.lines().last().unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields[..4], ["Tag=risk", "3.000", "1.000", "2.771"]);
    // The Java/Python readers look for the compressed cookie, "HISTF" in base64.
    assert!(fields[4].starts_with("HISTF"), "{}", fields[4]);
    let packed = base64::engine::general_purpose::STANDARD
        .decode(fields[4])
        .unwrap();
    let decoded: Histogram<u64> = Deserializer::new().deserialize(&mut &packed[..]).unwrap();
    assert_eq!(decoded, histogram);
}

// Everything written comes back: tags, times, counts and every percentile.
#[test]
fn round_trip_through_the_reader() {
    let (entries, bytes) = three_tag_log();
    let log = read_interval_log(&bytes);
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    assert_eq!(log.format_version.as_deref(), Some("1.3"));
    assert_eq!(log.start_time_s, Some(1_700_000_000.123));
    assert_eq!(log.base_time_s, Some(1_700_000_000.123));
    assert_eq!(log.tags(), [Some("ingest"), Some("risk"), Some("strategy")]);
    assert_eq!(log.intervals.len(), entries.len());
    for (interval, (tag, start_s, histogram)) in log.intervals.iter().zip(&entries) {
        assert_eq!(interval.tag.as_deref(), Some(*tag));
        assert_eq!(interval.start_s, *start_s as f64);
        assert_eq!(log.offset_s(interval), *start_s as f64);
        assert_eq!(interval.length_s, 1.0);
        assert_eq!(interval.histogram, *histogram);
        for quantile in [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                interval.histogram.value_at_quantile(quantile),
                histogram.value_at_quantile(quantile)
            );
        }
    }
}

// A log cut mid-line keeps every whole line and reports the cut one.
#[test]
fn cut_off_log_reads_up_to_the_cut() {
    let (_, bytes) = three_tag_log();
    let cut = &bytes[..bytes.len() - 40];
    let log = read_interval_log(cut);
    assert_eq!(log.intervals.len(), 5);
    assert_eq!(log.damage.len(), 1);
    let damage = &log.damage[0];
    assert_eq!(damage.line_number, 6 + 5);
    assert!(damage.cut_off);
    assert!(damage.to_string().contains("cut off"), "{damage}");
}

// A cut exactly at a line end loses nothing and reports nothing.
#[test]
fn log_cut_at_a_line_end_is_whole() {
    let (_, bytes) = three_tag_log();
    let text = String::from_utf8(bytes).unwrap();
    let without_last_newline = text.trim_end_matches('\n');
    let log = read_interval_log(without_last_newline.as_bytes());
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    assert_eq!(log.intervals.len(), 6);
}

// A garbled line in the middle is skipped and reported; the lines after it are kept.
#[test]
fn garbled_line_is_reported_and_skipped() {
    let (_, bytes) = three_tag_log();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Line 8 (index 7) is the second interval; flip characters inside its payload.
    let payload_at = lines[7].rfind(',').unwrap() + 30;
    lines[7].replace_range(payload_at..payload_at + 4, "AAAA");
    lines[8] = "Tag=strategy,not-a-number,1.000,0.1,HISTF".to_owned();
    let garbled = lines.join("\n") + "\n";
    let log = read_interval_log(garbled.as_bytes());
    assert_eq!(log.intervals.len(), 4);
    let damaged_lines: Vec<usize> = log.damage.iter().map(|d| d.line_number).collect();
    assert_eq!(damaged_lines, [8, 9]);
    assert!(matches!(
        log.damage[0].kind,
        DamageKind::BadHistogram { .. }
    ));
    assert_eq!(
        log.damage[1].kind,
        DamageKind::BadNumber {
            field: "start timestamp",
            text: "not-a-number".to_owned()
        }
    );
    assert!(!log.damage[0].cut_off);
}

// Lines that are not even close to the format are damage, not panics.
#[test]
fn nonsense_lines_are_damage() {
    let input = b"Tag=,1,2,3,x\nTag=only\n1.0,2.0\n1.0,2.0,3.0,!!!\n\xff\xfe\n#[StartTime: soon]\n";
    let log = read_interval_log(input);
    let kinds: Vec<DamageKind> = log.damage.into_iter().map(|d| d.kind).collect();
    assert!(matches!(kinds[0], DamageKind::BadTag));
    assert!(matches!(kinds[1], DamageKind::BadTag));
    assert_eq!(kinds[2], DamageKind::MissingFields { found: 2 });
    assert!(matches!(kinds[3], DamageKind::BadBase64 { .. }));
    assert_eq!(kinds[4], DamageKind::NotUtf8);
    assert_eq!(
        kinds[5],
        DamageKind::BadHeader {
            header: "StartTime"
        }
    );
}

fn encode_plain_v2(header_and_payload: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(header_and_payload)
}

fn v2_header(payload_bytes: u32, digits: u32, low: u64, high: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&V2_COOKIE.to_be_bytes());
    bytes.extend_from_slice(&payload_bytes.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&digits.to_be_bytes());
    bytes.extend_from_slice(&low.to_be_bytes());
    bytes.extend_from_slice(&high.to_be_bytes());
    bytes.extend_from_slice(&1.0f64.to_be_bytes());
    bytes
}

// Hostile payloads are refused with a reason instead of panicking or allocating gigabytes.
#[test]
fn hostile_payloads_are_refused() {
    let mut decoder = HistogramDecoder::new();
    // A zero-run of i64::MIN would overflow a negation inside the crate.
    let mut min_run = v2_header(9, 3, 1, 1_000);
    min_run.extend_from_slice(&[0xff; 9]);
    // A payload length far past the bytes present.
    let huge_length = v2_header(u32::MAX, 3, 1, 1_000);
    // Bounds no implementation accepts.
    let bad_bounds = v2_header(0, 9, 0, 1);
    // A compressed header promising more bytes than present.
    let mut short_stream = Vec::new();
    short_stream.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
    short_stream.extend_from_slice(&1_000u32.to_be_bytes());
    short_stream.extend_from_slice(&[0x78, 0x9c, 0x01]);
    for bytes in [min_run, huge_length, bad_bounds, short_stream, vec![0; 8]] {
        let result = decoder.decode_base64(&encode_plain_v2(&bytes));
        assert!(
            matches!(result, Err(DamageKind::BadHistogram { .. })),
            "{result:?}"
        );
    }
}

// Logs written with the crate's plain V2 serializer are still read.
#[test]
fn plain_v2_histograms_are_read() {
    let histogram = sample_histogram(7, 1_000);
    let mut plain = Vec::new();
    V2Serializer::new()
        .serialize(&histogram, &mut plain)
        .unwrap();
    let line = format!("0.000,1.000,0.0,{}\n", encode_plain_v2(&plain));
    let log = read_interval_log(line.as_bytes());
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    assert_eq!(log.intervals[0].histogram, histogram);
    assert_eq!(log.intervals[0].tag, None);
}

// Tags that would break the line format are refused.
#[test]
fn bad_tags_are_refused() {
    let mut writer = IntervalLogWriter::new(Vec::new());
    let histogram = new_latency_histogram();
    for tag in ["", "a,b", "a b", "a\nb"] {
        let result = writer.write_interval(tag, 0, SECOND_NS, &histogram);
        assert!(
            matches!(result, Err(HistLogError::BadTag { .. })),
            "{tag:?}"
        );
    }
    assert!(writer.into_inner().is_empty());
}

// An empty histogram round-trips with count zero.
#[test]
fn empty_histogram_round_trips() {
    let bytes = write_log(&[("idle", 0, new_latency_histogram())]);
    let log = read_interval_log(&bytes);
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    assert_eq!(log.intervals[0].histogram.len(), 0);
}

// Without StartTime/BaseTime, offsets count from the first interval (Java/Python rule).
#[test]
fn offsets_without_headers_follow_java() {
    let histogram = sample_histogram(1, 10);
    let mut plain = Vec::new();
    V2Serializer::new()
        .serialize(&histogram, &mut plain)
        .unwrap();
    let encoded = encode_plain_v2(&plain);
    let text = format!("1700000000.000,1.0,0.0,{encoded}\n1700000002.500,1.0,0.0,{encoded}\n");
    let log = read_interval_log(text.as_bytes());
    let offsets: Vec<f64> = log.intervals.iter().map(|i| log.offset_s(i)).collect();
    assert_eq!(offsets, [0.0, 2.5]);
}

// As the reporter's sink, absolute interval bounds become offsets from the header's start.
#[test]
fn reporter_sink_writes_offsets_from_the_start_time() {
    let histogram = sample_histogram(3, 100);
    let mut writer = IntervalLogWriter::new(Vec::new());
    writer.write_header(START_TIME_UNIX_NS, None).unwrap();
    let start_ns = START_TIME_UNIX_NS + 2 * SECOND_NS;
    IntervalSink::write(
        &mut writer,
        "risk",
        start_ns,
        start_ns + SECOND_NS / 2,
        &histogram,
    )
    .unwrap();
    IntervalSink::flush(&mut writer).unwrap();
    let log = read_interval_log(&writer.into_inner());
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    assert_eq!(log.intervals[0].start_s, 2.0);
    assert_eq!(log.intervals[0].length_s, 0.5);
    assert_eq!(log.intervals[0].histogram, histogram);
}

// create() writes the header to a new file at once.
#[test]
fn create_writes_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latency.hlog");
    let mut writer = IntervalLogWriter::create(&path, START_TIME_UNIX_NS, None).unwrap();
    writer
        .write_interval("ingest", 0, SECOND_NS, &sample_histogram(1, 10))
        .unwrap();
    writer.flush().unwrap();
    let log = read_interval_log_file(&path).unwrap();
    assert_eq!(log.format_version.as_deref(), Some("1.3"));
    assert_eq!(log.intervals.len(), 1);
    let missing = IntervalLogWriter::create(&dir.path().join("no/such/dir.hlog"), 0, None);
    assert!(matches!(missing, Err(HistLogError::Create { .. })));
}
