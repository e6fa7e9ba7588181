//! Just enough of Kubernetes' protobuf encoding to read the TokenRequests
//! kubectl sends (`kubectl create token` posts
//! `application/vnd.kubernetes.protobuf`, not JSON).
//!
//! The body is the magic `k8s\0` followed by a `runtime.Unknown` envelope
//! (1: TypeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4:
//! contentType); `raw` is the TokenRequest (1: metadata, 2: spec, 3:
//! status) whose spec is {1: audiences (repeated), 3: boundObjectRef {1:
//! kind, 2: apiVersion, 3: name, 4: uid}, 4: expirationSeconds}. The result
//! is the JSON form, so both encodings share one parser.

use serde_json::{Map, Value, json};

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// One field's value on the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one protobuf message, in order.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(message: &'a [u8]) -> Fields<'a> {
        Fields { rest: message }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.rest.split_first().ok_or("truncated varint")?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, length: u64) -> Result<&'a [u8], String> {
        let length = usize::try_from(length).map_err(|_| "field too long")?;
        if length > self.rest.len() {
            return Err(format!("field of {length} bytes runs past the end"));
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), String> {
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => self.take(8).map(|_| Wire::Fixed)?,
            2 => {
                let length = self.varint()?;
                Wire::Bytes(self.take(length)?)
            }
            5 => self.take(4).map(|_| Wire::Fixed)?,
            other => return Err(format!("unsupported wire type {other}")),
        };
        Ok((key >> 3, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// Decodes a protobuf TokenRequest body into its JSON form (`apiVersion`,
/// `kind`, `spec`). Errors say what is wrong, never echo the body.
pub(crate) fn token_request_json(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf prefix")?;
    let mut object = Map::new();
    let mut raw: &[u8] = &[];
    for field in Fields::new(envelope) {
        match field? {
            (1, Wire::Bytes(type_meta)) => read_type_meta(type_meta, &mut object)?,
            (2, Wire::Bytes(bytes)) => raw = bytes,
            (3, Wire::Bytes(encoding)) if !encoding.is_empty() => {
                let encoding = text(encoding, "contentEncoding")?;
                return Err(format!("content encoding '{encoding}' is not supported"));
            }
            _ => {}
        }
    }
    for field in Fields::new(raw) {
        if let (2, Wire::Bytes(spec)) = field? {
            object.insert("spec".into(), read_spec(spec)?);
        }
    }
    Ok(Value::Object(object))
}

fn read_type_meta(message: &[u8], object: &mut Map<String, Value>) -> Result<(), String> {
    for field in Fields::new(message) {
        let (name, bytes) = match field? {
            (1, Wire::Bytes(bytes)) => ("apiVersion", bytes),
            (2, Wire::Bytes(bytes)) => ("kind", bytes),
            _ => continue,
        };
        if !bytes.is_empty() {
            object.insert(name.into(), json!(text(bytes, name)?));
        }
    }
    Ok(())
}

fn read_spec(message: &[u8]) -> Result<Value, String> {
    let mut audiences = Vec::new();
    let mut spec = Map::new();
    for field in Fields::new(message) {
        match field? {
            (1, Wire::Bytes(bytes)) => audiences.push(text(bytes, "spec.audiences")?),
            (3, Wire::Bytes(bytes)) => {
                spec.insert("boundObjectRef".into(), read_bound_object(bytes)?);
            }
            // int64 travels as its two's complement in a varint.
            (4, Wire::Varint(value)) => {
                spec.insert("expirationSeconds".into(), json!(value as i64));
            }
            _ => {}
        }
    }
    spec.insert("audiences".into(), json!(audiences));
    Ok(Value::Object(spec))
}

fn read_bound_object(message: &[u8]) -> Result<Value, String> {
    const NAMES: [&str; 4] = ["kind", "apiVersion", "name", "uid"];
    let mut reference = Map::new();
    for field in Fields::new(message) {
        if let (number @ 1..=4, Wire::Bytes(bytes)) = field? {
            let name = NAMES[(number - 1) as usize];
            reference.insert(name.into(), json!(text(bytes, name)?));
        }
    }
    Ok(Value::Object(reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kubectl 1.33 sends for `create token app --audience https://x
    /// --audience b --duration 20m --bound-object-kind Secret
    /// --bound-object-name aws-keys --bound-object-uid U1`.
    const KUBECTL_BODY: &[u8] = b"k8s\x00\x0a\x28\x0a\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x47\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x002\x008\x00B\x00\x12\x2d\x0a\x09https://x\x0a\x01b\x1a\x1a\x0a\x06Secret\x12\x02v1\x1a\x08aws-keys\x22\x02U1\x20\xb0\x09\x1a\x04\x0a\x00\x12\x00\x1a\x00\x22\x00";

    #[test]
    fn decodes_what_kubectl_sends() {
        let decoded = token_request_json(KUBECTL_BODY).expect("decodes");
        assert_eq!(
            decoded,
            json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "audiences": ["https://x", "b"],
                    "expirationSeconds": 1200,
                    "boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "aws-keys", "uid": "U1"},
                },
            })
        );
    }

    #[test]
    fn refuses_bad_input_without_panicking() {
        assert!(token_request_json(b"{}").is_err(), "no magic");
        for cut in 4..KUBECTL_BODY.len() - 1 {
            let _ = token_request_json(&KUBECTL_BODY[..cut]);
        }
        let truncated = token_request_json(&KUBECTL_BODY[..20]).expect_err("truncated");
        assert!(truncated.contains("runs past the end"), "{truncated}");
        let overlong =
            token_request_json(b"k8s\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
        assert_eq!(
            overlong.err().as_deref(),
            Some("varint longer than 10 bytes")
        );
        let group = token_request_json(b"k8s\x00\x0b");
        assert_eq!(group.err().as_deref(), Some("unsupported wire type 3"));
    }
}
