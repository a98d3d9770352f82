//! Hex text of bytes, as keys, signatures and digests are written.

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of lowercase or uppercase hex, if it is hex of the given length.
pub fn unhex(text: &str, len: usize) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() != len * 2 || !text.is_ascii() {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex_of_the_length() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff", 3), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("00ab", 3), None);
        assert_eq!(unhex("zzzzzz", 3), None);
    }
}
