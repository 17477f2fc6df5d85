//! `Header::parse` on arbitrary bytes under arbitrary limits: never panics,
//! respects the limits, and what it accepts re-serialises to a header that
//! parses back to the same value.
#![no_main]
#![forbid(unsafe_code)]

use kms_envelope_core::{Error, Header};
use kms_envelope_core_fuzz::decode_header_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((limits, cut, buf)) = decode_header_input(data) else {
        return;
    };
    let p = match Header::parse(buf, &limits) {
        Ok(Some(p)) => p,
        Ok(None) => {
            assert!(
                buf.len() <= limits.max_header_size,
                "incomplete beyond the size limit"
            );
            return;
        }
        Err(Error::LimitExceeded { limit, max, found }) => {
            assert!(found > max, "{limit:?}: {found} <= {max}");
            return;
        }
        Err(e) => {
            assert!(e.is_decrypt_failure());
            return;
        }
    };
    let h = &p.header;
    assert!(p.body_len < p.total_len && p.total_len <= buf.len());
    assert!(p.total_len <= limits.max_header_size);
    assert!(u64::from(h.frame_length) <= limits.max_frame_length);
    assert!(!h.encrypted_data_keys.is_empty());
    if let Some(max) = limits.max_encrypted_data_keys {
        assert!(h.encrypted_data_keys.len() <= usize::from(max));
    }
    assert_eq!(h.message_id.len(), h.suite.message_id_len());
    // Re-serialise: the same length, and it parses back to the same header.
    // (The bytes may differ only in the order of encryption context pairs,
    // which the parser accepts in any order.)
    let mut bytes = h.serialize_body().expect("a parsed header serialises");
    assert_eq!(bytes.len(), p.body_len);
    h.serialize_auth(&p.auth, &mut bytes);
    assert_eq!(bytes.len(), p.total_len);
    if buf[..p.total_len] != bytes[..] {
        // Only inside the encryption context, whose pairs may come unsorted.
        let ec_at = if h.version() == 2 { 1 } else { 2 } + 2 + h.message_id.len();
        let ec_end = ec_at + 2 + usize::from(u16::from_be_bytes([buf[ec_at], buf[ec_at + 1]]));
        assert_eq!(buf[..ec_at + 2], bytes[..ec_at + 2]);
        assert_eq!(buf[ec_end..p.total_len], bytes[ec_end..]);
    }
    let q = Header::parse(&bytes, &limits)
        .expect("re-serialised header parses")
        .expect("complete");
    assert_eq!(&q.header, h);
    assert_eq!(q.auth, p.auth);
    // A strict prefix is incomplete, never an error.
    let at = p.total_len * usize::from(cut) / 256;
    assert!(matches!(Header::parse(&buf[..at], &limits), Ok(None)));
});
