//! A pprof profile (profile.proto, gzipped).
//!
//! Heap reports are written as pprof profiles so `go tool pprof` and the tools around it can
//! show them. Frames here are not code locations but display strings (a type, a global, "map
//! bucket"), so every distinct string becomes one Function with one Location and no address or
//! mapping; pprof reads such profiles without trying to symbolize them.
//!
//! The protobuf encoding is written by hand: the format needs only varints and
//! length-delimited fields, which is less than a protobuf dependency would bring.

use std::collections::HashMap;
use std::io::Write;

/// Field numbers of profile.proto (github.com/google/pprof/proto/profile.proto).
mod field {
    pub const PROFILE_SAMPLE_TYPE: u32 = 1;
    pub const PROFILE_SAMPLE: u32 = 2;
    pub const PROFILE_LOCATION: u32 = 4;
    pub const PROFILE_FUNCTION: u32 = 5;
    pub const PROFILE_STRING_TABLE: u32 = 6;
    pub const PROFILE_TIME_NANOS: u32 = 9;
    pub const PROFILE_COMMENT: u32 = 13;
    pub const PROFILE_DEFAULT_SAMPLE_TYPE: u32 = 14;

    pub const VALUE_TYPE_TYPE: u32 = 1;
    pub const VALUE_TYPE_UNIT: u32 = 2;

    pub const SAMPLE_LOCATION_ID: u32 = 1;
    pub const SAMPLE_VALUE: u32 = 2;
    pub const SAMPLE_LABEL: u32 = 3;

    pub const LABEL_KEY: u32 = 1;
    pub const LABEL_STR: u32 = 2;

    pub const LOCATION_ID: u32 = 1;
    pub const LOCATION_LINE: u32 = 4;

    pub const LINE_FUNCTION_ID: u32 = 1;

    pub const FUNCTION_ID: u32 = 1;
    pub const FUNCTION_NAME: u32 = 2;
    pub const FUNCTION_SYSTEM_NAME: u32 = 3;
}

const WIRE_VARINT: u32 = 0;
const WIRE_LEN: u32 = 2;

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

/// A varint field (uint64 or int64: negative int64 values are their two's complement, as
/// protobuf encodes them). Zero is the default and is left out.
fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, WIRE_VARINT);
        put_varint(buf, v);
    }
}

fn put_int(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint(buf, field, v as u64);
}

/// A length-delimited field: a string, an embedded message or a packed repeated field. Always
/// written, even empty, because repeated strings (the string table's "") count by position.
fn put_bytes(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    put_key(buf, field, WIRE_LEN);
    put_varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

fn put_packed(buf: &mut Vec<u8>, field: u32, values: impl Iterator<Item = u64>, tmp: &mut Vec<u8>) {
    tmp.clear();
    for v in values {
        put_varint(tmp, v);
    }
    if !tmp.is_empty() {
        put_bytes(buf, field, tmp);
    }
}

/// What makes two samples the same: their locations and their sorted labels.
type SampleKey = (Vec<u64>, Vec<(i64, i64)>);

struct Sample {
    /// Location ids, leaf first.
    locations: Vec<u64>,
    values: Vec<i64>,
    /// (key, value) string indexes.
    labels: Vec<(i64, i64)>,
}

/// Builds a profile sample by sample, interning strings and frames as it goes.
pub struct ProfileBuilder {
    strings: Vec<String>,
    string_index: HashMap<String, i64>,
    /// (type, unit) string indexes.
    sample_types: Vec<(i64, i64)>,
    /// Frame display string -> its Function and Location id (the same number).
    frame_ids: HashMap<String, u64>,
    /// Function/Location id - 1 -> the frame's string index.
    frames: Vec<i64>,
    samples: Vec<Sample>,
    /// (locations, sorted labels) -> index in `samples`, to merge identical samples.
    merged: HashMap<SampleKey, usize>,
    /// The last sample added: kept apart until the next one because `label` may still change
    /// what it merges with.
    pending: Option<Sample>,
    comments: Vec<i64>,
}

impl ProfileBuilder {
    /// sample types, e.g. [("inuse_objects","count"),("inuse_space","bytes")]; default_sample_type is the last one.
    pub fn new(sample_types: &[(&str, &str)]) -> Self {
        let mut b = ProfileBuilder {
            strings: Vec::new(),
            string_index: HashMap::new(),
            sample_types: Vec::new(),
            frame_ids: HashMap::new(),
            frames: Vec::new(),
            samples: Vec::new(),
            merged: HashMap::new(),
            pending: None,
            comments: Vec::new(),
        };
        // string_table[0] must be "".
        b.intern("");
        for (ty, unit) in sample_types {
            let t = b.intern(ty);
            let u = b.intern(unit);
            b.sample_types.push((t, u));
        }
        b
    }

    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.string_index.get(s) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_owned());
        self.string_index.insert(s.to_owned(), i);
        i
    }

    fn frame(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.frame_ids.get(name) {
            return id;
        }
        let s = self.intern(name);
        self.frames.push(s);
        let id = self.frames.len() as u64;
        self.frame_ids.insert(name.to_owned(), id);
        id
    }

    /// One sample: `stack` is leaf first (like pprof: location[0] is the leaf). Each frame is a display string used as the function name (e.g. "main.Session", "main.sessions (global)", "map bucket"); identical strings share one Function/Location. values.len() == sample_types.len().
    ///
    /// Missing values count as 0 and extra ones are dropped, so a caller's mistake gives a
    /// readable profile rather than one pprof rejects.
    pub fn add(&mut self, stack: &[&str], values: &[i64]) {
        self.flush();
        let locations = stack.iter().map(|f| self.frame(f)).collect();
        let values = (0..self.sample_types.len())
            .map(|i| values.get(i).copied().unwrap_or(0))
            .collect();
        self.pending = Some(Sample {
            locations,
            values,
            labels: Vec::new(),
        });
    }

    /// Adds a string label to the last sample added (optional; e.g. ("type","main.Session")).
    /// Does nothing before the first sample.
    pub fn label(&mut self, key: &str, value: &str) {
        if self.pending.is_none() {
            return;
        }
        let k = self.intern(key);
        let v = self.intern(value);
        if let Some(p) = self.pending.as_mut() {
            p.labels.push((k, v));
        }
    }

    /// Comments shown by pprof (profile.comment).
    pub fn comment(&mut self, text: &str) {
        let c = self.intern(text);
        self.comments.push(c);
    }

    /// Merges the pending sample into the samples: same stack and same labels add up.
    fn flush(&mut self) {
        let Some(sample) = self.pending.take() else {
            return;
        };
        let mut labels = sample.labels.clone();
        labels.sort_unstable();
        let key = (sample.locations.clone(), labels);
        match self.merged.get(&key).and_then(|&i| self.samples.get_mut(i)) {
            Some(existing) => {
                for (a, b) in existing.values.iter_mut().zip(&sample.values) {
                    *a = a.saturating_add(*b);
                }
            }
            None => {
                self.merged.insert(key, self.samples.len());
                self.samples.push(sample);
            }
        }
    }

    /// The gzipped profile.proto bytes. time_nanos = 0 is fine.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.flush();
        let raw = self.encode();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw)?;
        gz.finish()
    }

    /// The uncompressed Profile message.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut msg = Vec::new();
        let mut tmp = Vec::new();

        for &(ty, unit) in &self.sample_types {
            msg.clear();
            put_int(&mut msg, field::VALUE_TYPE_TYPE, ty);
            put_int(&mut msg, field::VALUE_TYPE_UNIT, unit);
            put_bytes(&mut out, field::PROFILE_SAMPLE_TYPE, &msg);
        }

        let mut label = Vec::new();
        for s in &self.samples {
            msg.clear();
            put_packed(
                &mut msg,
                field::SAMPLE_LOCATION_ID,
                s.locations.iter().copied(),
                &mut tmp,
            );
            put_packed(
                &mut msg,
                field::SAMPLE_VALUE,
                s.values.iter().map(|&v| v as u64),
                &mut tmp,
            );
            for &(k, v) in &s.labels {
                label.clear();
                put_int(&mut label, field::LABEL_KEY, k);
                put_int(&mut label, field::LABEL_STR, v);
                put_bytes(&mut msg, field::SAMPLE_LABEL, &label);
            }
            put_bytes(&mut out, field::PROFILE_SAMPLE, &msg);
        }

        // Location i and Function i describe the same frame.
        let mut line = Vec::new();
        for id in 1..=self.frames.len() as u64 {
            msg.clear();
            put_uint(&mut msg, field::LOCATION_ID, id);
            line.clear();
            put_uint(&mut line, field::LINE_FUNCTION_ID, id);
            put_bytes(&mut msg, field::LOCATION_LINE, &line);
            put_bytes(&mut out, field::PROFILE_LOCATION, &msg);
        }
        for (id, &name) in (1u64..).zip(&self.frames) {
            msg.clear();
            put_uint(&mut msg, field::FUNCTION_ID, id);
            put_int(&mut msg, field::FUNCTION_NAME, name);
            put_int(&mut msg, field::FUNCTION_SYSTEM_NAME, name);
            put_bytes(&mut out, field::PROFILE_FUNCTION, &msg);
        }

        for s in &self.strings {
            put_bytes(&mut out, field::PROFILE_STRING_TABLE, s.as_bytes());
        }
        put_int(&mut out, field::PROFILE_TIME_NANOS, 0);
        for &c in &self.comments {
            put_int(&mut out, field::PROFILE_COMMENT, c);
        }
        if let Some(&(ty, _)) = self.sample_types.last() {
            put_int(&mut out, field::PROFILE_DEFAULT_SAMPLE_TYPE, ty);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A decoded protobuf field: a varint or length-delimited bytes.
    #[derive(Debug, Clone, PartialEq)]
    enum Val {
        Int(u64),
        Bytes(Vec<u8>),
    }

    fn varint(data: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = data[*pos];
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    /// Decodes one message into (field, value) pairs in order; only wire types 0 and 2 exist
    /// in profile.proto.
    fn fields(data: &[u8]) -> Vec<(u32, Val)> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < data.len() {
            let key = varint(data, &mut pos);
            let (f, wire) = ((key >> 3) as u32, key & 7);
            match wire {
                0 => out.push((f, Val::Int(varint(data, &mut pos)))),
                2 => {
                    let len = varint(data, &mut pos) as usize;
                    out.push((f, Val::Bytes(data[pos..pos + len].to_vec())));
                    pos += len;
                }
                w => panic!("unexpected wire type {w}"),
            }
        }
        out
    }

    fn ints(data: &[u8]) -> Vec<u64> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < data.len() {
            out.push(varint(data, &mut pos));
        }
        out
    }

    fn get_int(fs: &[(u32, Val)], f: u32) -> u64 {
        fs.iter()
            .find_map(|(k, v)| match v {
                Val::Int(i) if *k == f => Some(*i),
                _ => None,
            })
            .unwrap_or(0)
    }

    fn all_bytes(fs: &[(u32, Val)], f: u32) -> Vec<Vec<u8>> {
        fs.iter()
            .filter_map(|(k, v)| match v {
                Val::Bytes(b) if *k == f => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    /// Frame names (leaf first), values and labels.
    type DecodedSample = (Vec<String>, Vec<i64>, Vec<(String, String)>);

    /// The profile, decoded far enough to check it: strings, samples as (frame names, values,
    /// labels), comments and the default sample type.
    struct Decoded {
        strings: Vec<String>,
        sample_types: Vec<(String, String)>,
        samples: Vec<DecodedSample>,
        comments: Vec<String>,
        default_type: String,
        functions: usize,
        locations: usize,
    }

    fn decode(gz: &[u8]) -> Decoded {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        let top = fields(&raw);
        let strings: Vec<String> = all_bytes(&top, 6)
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        let s = |i: u64| strings[i as usize].clone();
        let mut func_name = HashMap::new();
        for f in all_bytes(&top, 5) {
            let f = fields(&f);
            assert_eq!(get_int(&f, 2), get_int(&f, 3), "name == system_name");
            func_name.insert(get_int(&f, 1), s(get_int(&f, 2)));
        }
        let mut loc_func = HashMap::new();
        for l in all_bytes(&top, 4) {
            let l = fields(&l);
            let lines = all_bytes(&l, 4);
            assert_eq!(lines.len(), 1);
            loc_func.insert(get_int(&l, 1), get_int(&fields(&lines[0]), 1));
        }
        let samples = all_bytes(&top, 2)
            .into_iter()
            .map(|m| {
                let m = fields(&m);
                let locs = all_bytes(&m, 1)
                    .first()
                    .map(|b| ints(b))
                    .unwrap_or_default();
                let vals = all_bytes(&m, 2)
                    .first()
                    .map(|b| ints(b))
                    .unwrap_or_default();
                let labels = all_bytes(&m, 3)
                    .into_iter()
                    .map(|l| {
                        let l = fields(&l);
                        (s(get_int(&l, 1)), s(get_int(&l, 2)))
                    })
                    .collect();
                (
                    locs.iter()
                        .map(|id| func_name[&loc_func[id]].clone())
                        .collect(),
                    vals.iter().map(|&v| v as i64).collect(),
                    labels,
                )
            })
            .collect();
        let sample_types = all_bytes(&top, 1)
            .into_iter()
            .map(|m| {
                let m = fields(&m);
                (s(get_int(&m, 1)), s(get_int(&m, 2)))
            })
            .collect();
        let comments = top
            .iter()
            .filter_map(|(k, v)| match v {
                Val::Int(i) if *k == 13 => Some(s(*i)),
                _ => None,
            })
            .collect();
        Decoded {
            default_type: s(get_int(&top, 14)),
            functions: func_name.len(),
            locations: loc_func.len(),
            strings,
            sample_types,
            samples,
            comments,
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn varints() {
        let enc = |v: u64| {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            b
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(1), [1]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(
            enc(u64::MAX),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        // -1 as int64 is ten bytes, like u64::MAX.
        let mut b = Vec::new();
        put_int(&mut b, 2, -1);
        assert_eq!(b.len(), 11);
        assert_eq!(b[0], 2 << 3);
    }

    #[test]
    fn round_trip() {
        let mut b = ProfileBuilder::new(&[("inuse_objects", "count"), ("inuse_space", "bytes")]);
        b.add(&["main.Session", "main.sessions (global)"], &[2, 64]);
        b.label("type", "main.Session");
        b.add(
            &["map bucket", "main.Session", "main.sessions (global)"],
            &[1, 208],
        );
        // Same stack and labels as the first: merged into it.
        b.add(&["main.Session", "main.sessions (global)"], &[3, 96]);
        b.label("type", "main.Session");
        // Same stack, no label: a sample of its own.
        b.add(&["main.Session", "main.sessions (global)"], &[1, 32]);
        // Short values are padded, long ones cut.
        b.add(&["[]byte"], &[5]);
        b.add(&["[]byte"], &[1, 2, 3]);
        b.comment("goscope heap");
        let d = decode(&b.finish().unwrap());

        assert_eq!(d.strings[0], "");
        assert_eq!(
            d.sample_types,
            vec![
                ("inuse_objects".to_string(), "count".to_string()),
                ("inuse_space".to_string(), "bytes".to_string())
            ]
        );
        assert_eq!(d.default_type, "inuse_space");
        assert_eq!(d.comments, vec!["goscope heap".to_string()]);
        // Four distinct frames, each one Function and one Location.
        assert_eq!((d.functions, d.locations), (4, 4));
        let typed = vec![("type".to_string(), "main.Session".to_string())];
        assert_eq!(
            d.samples,
            vec![
                (
                    names(&["main.Session", "main.sessions (global)"]),
                    vec![5, 160],
                    typed
                ),
                (
                    names(&["map bucket", "main.Session", "main.sessions (global)"]),
                    vec![1, 208],
                    vec![]
                ),
                (
                    names(&["main.Session", "main.sessions (global)"]),
                    vec![1, 32],
                    vec![]
                ),
                (names(&["[]byte"]), vec![6, 2], vec![]),
            ]
        );
    }

    #[test]
    fn empty_and_odd_input() {
        // No samples at all, a label before any sample, no sample types.
        let mut b = ProfileBuilder::new(&[]);
        b.label("k", "v");
        b.add(&[], &[1]);
        let d = decode(&b.finish().unwrap());
        assert_eq!(d.strings, vec![String::new()]);
        assert_eq!(d.samples, vec![(vec![], vec![], vec![])]);

        let b = ProfileBuilder::new(&[("space", "bytes")]);
        let d = decode(&b.finish().unwrap());
        assert!(d.samples.is_empty());
        assert_eq!(d.default_type, "space");

        // Negative values survive as int64.
        let mut b = ProfileBuilder::new(&[("delta", "bytes")]);
        b.add(&["f"], &[-5]);
        b.add(&["f"], &[i64::MAX]);
        b.add(&["f"], &[i64::MAX]);
        let d = decode(&b.finish().unwrap());
        assert_eq!(d.samples[0].1, vec![i64::MAX]);
    }
}
