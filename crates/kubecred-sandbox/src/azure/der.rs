//! Just enough DER to read certificates (the subject public key) and to write the PKCS#8
//! structures of an encrypted key: tag-length-value reading and writing, bounded.

/// One DER element: its tag and contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub(crate) tag: u8,
    pub(crate) contents: &'a [u8],
    /// The whole encoding (tag, length, contents).
    pub(crate) raw: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let mut length = 0usize;
        for &b in &rest[..count] {
            length = length.checked_mul(256)?.checked_add(usize::from(b))?;
        }
        rest = &rest[count..];
        length
    };
    if rest.len() < length {
        return None;
    }
    let header = input.len() - rest.len();
    let (contents, after) = rest.split_at(length);
    Some((
        Element {
            tag,
            contents,
            raw: &input[..header + length],
        },
        after,
    ))
}

/// The elements inside a constructed element's contents.
pub(crate) fn children(contents: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    let mut rest = contents;
    while !rest.is_empty() {
        let (element, after) = read(rest)?;
        out.push(element);
        rest = after;
    }
    Some(out)
}

/// The SubjectPublicKeyInfo of an X.509 certificate (DER).
pub(crate) fn certificate_spki(certificate: &[u8]) -> Option<Element<'_>> {
    let (cert, _) = read(certificate)?;
    let parts = children(cert.contents)?;
    let tbs = children(parts.first()?.contents)?;
    // An explicit [0] version shifts the fields by one.
    let offset = usize::from(tbs.first()?.tag == 0xa0);
    tbs.get(offset + 5).copied().filter(|spki| spki.tag == 0x30)
}

/// The RSA public key (PKCS#1 `RSAPublicKey` DER) of a certificate, if its key is RSA.
pub(crate) fn certificate_rsa_key(certificate: &[u8]) -> Option<Vec<u8>> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let spki = children(certificate_spki(certificate)?.contents)?;
    let algorithm = children(spki.first()?.contents)?;
    if algorithm.first()?.contents != RSA_ENCRYPTION {
        return None;
    }
    let bits = spki.get(1).filter(|b| b.tag == 0x03)?;
    let (&unused, key) = bits.contents.split_first()?;
    (unused == 0).then(|| key.to_vec())
}

/// A DER element with `tag` around `contents`.
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = contents.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A SEQUENCE of already encoded elements.
pub(crate) fn sequence(elements: &[&[u8]]) -> Vec<u8> {
    encode(0x30, &elements.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_round_trip() {
        for length in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let contents = vec![7u8; length];
            let encoded = encode(0x04, &contents);
            let (element, rest) = read(&encoded).expect("reads");
            assert_eq!(element.contents.len(), length);
            assert_eq!(element.raw.len(), encoded.len());
            assert!(rest.is_empty());
        }
    }

    proptest! {
        #[test]
        fn any_input_is_read_without_panicking(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = certificate_rsa_key(&input);
            let _ = children(&input);
        }
    }
}
